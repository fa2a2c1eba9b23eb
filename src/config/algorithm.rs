//! TSIG algorithms (RFC 8945 §6) as configured and as named on the wire.

use std::fmt;
use std::str::FromStr;

/// A TSIG HMAC algorithm. Each key in the config has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TsigAlgorithm {
    /// `hmac-md5.sig-alg.reg.int.` — certbot's default; obsolete but still in use.
    HmacMd5,
    HmacSha1,
    HmacSha224,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl TsigAlgorithm {
    /// Every algorithm, in the order the config documentation lists them.
    pub const ALL: [TsigAlgorithm; 6] = [
        TsigAlgorithm::HmacMd5,
        TsigAlgorithm::HmacSha1,
        TsigAlgorithm::HmacSha224,
        TsigAlgorithm::HmacSha256,
        TsigAlgorithm::HmacSha384,
        TsigAlgorithm::HmacSha512,
    ];

    /// The short name used in our config and by BIND's `-y alg:name:secret`.
    pub fn config_name(self) -> &'static str {
        match self {
            TsigAlgorithm::HmacMd5 => "hmac-md5",
            TsigAlgorithm::HmacSha1 => "hmac-sha1",
            TsigAlgorithm::HmacSha224 => "hmac-sha224",
            TsigAlgorithm::HmacSha256 => "hmac-sha256",
            TsigAlgorithm::HmacSha384 => "hmac-sha384",
            TsigAlgorithm::HmacSha512 => "hmac-sha512",
        }
    }

    /// The algorithm's domain name on the wire (lower case, fully qualified).
    pub fn wire_name(self) -> &'static str {
        match self {
            TsigAlgorithm::HmacMd5 => "hmac-md5.sig-alg.reg.int.",
            TsigAlgorithm::HmacSha1 => "hmac-sha1.",
            TsigAlgorithm::HmacSha224 => "hmac-sha224.",
            TsigAlgorithm::HmacSha256 => "hmac-sha256.",
            TsigAlgorithm::HmacSha384 => "hmac-sha384.",
            TsigAlgorithm::HmacSha512 => "hmac-sha512.",
        }
    }

    /// The length of the full MAC in bytes (the hash's output size).
    pub fn mac_len(self) -> usize {
        match self {
            TsigAlgorithm::HmacMd5 => 16,
            TsigAlgorithm::HmacSha1 => 20,
            TsigAlgorithm::HmacSha224 => 28,
            TsigAlgorithm::HmacSha256 => 32,
            TsigAlgorithm::HmacSha384 => 48,
            TsigAlgorithm::HmacSha512 => 64,
        }
    }

    /// Recognizes a config name or a wire name, in any letter case, with or without the final dot.
    ///
    /// Clients differ: certbot sends `HMAC-MD5.SIG-ALG.REG.INT.`, BIND `hmac-md5.sig-alg.reg.int.`,
    /// and people write `hmac-md5` in configs.
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        let name = name.strip_suffix(".sig-alg.reg.int").unwrap_or(&name);
        TsigAlgorithm::ALL
            .into_iter()
            .find(|alg| alg.config_name() == name)
    }
}

impl fmt::Display for TsigAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.config_name())
    }
}

impl FromStr for TsigAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TsigAlgorithm::from_name(s).ok_or_else(|| {
            let names: Vec<_> = TsigAlgorithm::ALL.iter().map(|a| a.config_name()).collect();
            format!(
                "unknown TSIG algorithm `{s}`, expected one of {}",
                names.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_case_insensitively_in_both_forms() {
        assert_eq!(
            TsigAlgorithm::from_name("HMAC-MD5.SIG-ALG.REG.INT."),
            Some(TsigAlgorithm::HmacMd5)
        );
        assert_eq!(
            TsigAlgorithm::from_name("hmac-md5"),
            Some(TsigAlgorithm::HmacMd5)
        );
        assert_eq!(
            TsigAlgorithm::from_name("HMAC-SHA512."),
            Some(TsigAlgorithm::HmacSha512)
        );
        assert_eq!(TsigAlgorithm::from_name("hmac-sha3"), None);
        assert_eq!(
            TsigAlgorithm::from_name("hmac-sha256.sig-alg.reg.int"),
            Some(TsigAlgorithm::HmacSha256)
        );
    }

    #[test]
    fn every_algorithm_round_trips() {
        for alg in TsigAlgorithm::ALL {
            assert_eq!(TsigAlgorithm::from_name(alg.config_name()), Some(alg));
            assert_eq!(TsigAlgorithm::from_name(alg.wire_name()), Some(alg));
        }
    }
}
