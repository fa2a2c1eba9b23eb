//! The keyed hash of each TSIG algorithm, and a constant-time comparison of MACs.
//!
//! ring provides HMAC with SHA-1/256/384/512; it lacks MD5 (certbot's default) and SHA-224, which
//! come from the RustCrypto `hmac` crate.

use hmac::{Hmac, KeyInit, Mac};

use crate::config::TsigAlgorithm;

/// The full (untruncated) MAC of the concatenation of `parts` under `key`.
pub(crate) fn compute(algorithm: TsigAlgorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match algorithm {
        TsigAlgorithm::HmacMd5 => rust_crypto::<Hmac<md5::Md5>>(key, parts),
        TsigAlgorithm::HmacSha224 => rust_crypto::<Hmac<sha2::Sha224>>(key, parts),
        TsigAlgorithm::HmacSha1 => with_ring(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key, parts),
        TsigAlgorithm::HmacSha256 => with_ring(ring::hmac::HMAC_SHA256, key, parts),
        TsigAlgorithm::HmacSha384 => with_ring(ring::hmac::HMAC_SHA384, key, parts),
        TsigAlgorithm::HmacSha512 => with_ring(ring::hmac::HMAC_SHA512, key, parts),
    }
}

fn with_ring(algorithm: ring::hmac::Algorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let key = ring::hmac::Key::new(algorithm, key);
    let mut ctx = ring::hmac::Context::with_key(&key);
    for part in parts {
        ctx.update(part);
    }
    ctx.sign().as_ref().to_vec()
}

fn rust_crypto<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail; an empty MAC would match nothing.
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
        return Vec::new();
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// The shortest MAC RFC 8945 §5.2.2.1 accepts: the larger of 10 bytes and half the hash.
pub(crate) fn min_len(algorithm: TsigAlgorithm) -> usize {
    (algorithm.mac_len() / 2).max(10)
}

/// Whether `received` equals the first `received.len()` bytes of `computed`, in time that does
/// not depend on where they differ. A truncated MAC compares against the computed prefix
/// (RFC 8945 §5.2.2.1); the caller has already checked the length bounds, which are public.
pub(crate) fn matches(computed: &[u8], received: &[u8]) -> bool {
    let Some(prefix) = computed.get(..received.len()) else {
        return false;
    };
    if received.is_empty() {
        return false;
    }
    let diff = prefix
        .iter()
        .zip(received)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    // Keeps the optimizer from turning the fold into an early-exit comparison.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 2202 test case 2 (MD5, SHA-1) and RFC 4231 test case 2 (SHA-2): key "Jefe".
    #[test]
    fn known_answers() {
        let data: &[&[u8]] = &[b"what do ya want ", b"for nothing?"];
        let expect = [
            (TsigAlgorithm::HmacMd5, "750c783e6ab0b503eaa86e310a5db738"),
            (
                TsigAlgorithm::HmacSha1,
                "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
            ),
            (
                TsigAlgorithm::HmacSha224,
                "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
            ),
            (
                TsigAlgorithm::HmacSha256,
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                TsigAlgorithm::HmacSha384,
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
                 8e2240ca5e69e2c78b3239ecfab21649",
            ),
            (
                TsigAlgorithm::HmacSha512,
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                 9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ),
        ];
        for (alg, mac) in expect {
            let mac: String = mac.split_whitespace().collect();
            let got = compute(alg, b"Jefe", data);
            assert_eq!(got, hex(&mac), "{alg}");
            assert_eq!(got.len(), alg.mac_len(), "{alg}");
        }
    }

    #[test]
    fn prefix_comparison() {
        let mac = compute(TsigAlgorithm::HmacSha256, b"k", &[b"x"]);
        assert!(matches(&mac, &mac));
        assert!(matches(&mac, &mac[..16]));
        assert!(!matches(&mac, &[]));
        let mut wrong = mac[..16].to_vec();
        wrong[15] ^= 1;
        assert!(!matches(&mac, &wrong));
        let mut long = mac.clone();
        long.push(0);
        assert!(!matches(&mac, &long));
    }

    #[test]
    fn minimum_lengths() {
        let mins: Vec<usize> = TsigAlgorithm::ALL.iter().map(|&a| min_len(a)).collect();
        assert_eq!(mins, [10, 10, 14, 16, 24, 32]);
    }
}
