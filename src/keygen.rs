//! `csc-rfc2136 keygen NAME`: a fresh TSIG secret and the snippets that put it to use in our
//! config and in every supported client.
//!
//! The secret is as long as the algorithm's hash output (RFC 8945 §6 recommends no less) and is
//! printed once, on stdout, for the operator to store; it is never logged.

use base64::Engine as _;
use rand::RngCore;

use crate::config::TsigAlgorithm;

/// A new random secret for `algorithm`, base64-encoded.
pub fn new_secret(algorithm: TsigAlgorithm) -> String {
    let mut bytes = vec![0u8; algorithm.mac_len()];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The snippets for key `name` with `secret`, for a gateway reachable at `host`:`port`.
pub fn render(name: &str, algorithm: TsigAlgorithm, secret: &str, host: &str, port: u16) -> String {
    let fqdn = crate::config::canonical_dns_name(name);
    let alg = algorithm.config_name();
    let upper = alg.to_ascii_uppercase();
    let cert_manager_alg = upper.replace('-', "");
    format!(
        r#"# TSIG key {fqdn} ({alg}). Store this output like a password.

## csc-rfc2136 config: add to the gateway's TOML
[[key]]
name = "{fqdn}"
algorithm = "{alg}"
secret = "{secret}"
zones = ["example.com"]          # narrow to the zones this client needs
names = ["_acme-challenge.*"]
types = ["TXT"]

## BIND key file, for `nsupdate -k {fqdn}key` (and acme.sh's NSUPDATE_KEY)
key "{fqdn}" {{
    algorithm {alg};
    secret "{secret}";
}};

## certbot: rfc2136.ini (chmod 600), then
##   certbot certonly --dns-rfc2136 --dns-rfc2136-credentials rfc2136.ini \
##     --dns-rfc2136-propagation-seconds 600 -d example.com
dns_rfc2136_server = {host}
dns_rfc2136_port = {port}
dns_rfc2136_name = {fqdn}
dns_rfc2136_secret = {secret}
dns_rfc2136_algorithm = {upper}

## lego and Traefik: environment for `--dns rfc2136`
RFC2136_NAMESERVER={host}:{port}
RFC2136_TSIG_KEY={fqdn}
RFC2136_TSIG_SECRET={secret}
RFC2136_TSIG_ALGORITHM={alg}.
RFC2136_PROPAGATION_TIMEOUT=900

## acme.sh: environment for `--dns dns_nsupdate` (the key file above saved as {fqdn}key)
NSUPDATE_SERVER="{host}"
NSUPDATE_SERVER_PORT={port}
NSUPDATE_KEY="/etc/acme/{fqdn}key"

## cert-manager: a Secret and the Issuer's solver
apiVersion: v1
kind: Secret
metadata:
  name: csc-rfc2136-tsig
type: Opaque
stringData:
  tsig-secret-key: "{secret}"
---
# in the Issuer or ClusterIssuer spec.acme:
solvers:
  - dns01:
      rfc2136:
        nameserver: "{host}:{port}"
        tsigKeyName: "{fqdn}"
        tsigAlgorithm: {cert_manager_alg}
        tsigSecretSecretRef:
          name: csc-rfc2136-tsig
          key: tsig-secret-key
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_the_hash_length_and_differ() {
        for alg in TsigAlgorithm::ALL {
            let secret = new_secret(alg);
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&secret)
                .unwrap();
            assert_eq!(bytes.len(), alg.mac_len(), "{alg}");
        }
        assert_ne!(
            new_secret(TsigAlgorithm::HmacSha256),
            new_secret(TsigAlgorithm::HmacSha256)
        );
    }

    #[test]
    fn snippets_carry_name_algorithm_secret_and_server() {
        let text = render(
            "Acme-Client",
            TsigAlgorithm::HmacSha512,
            "c2VjcmV0",
            "192.0.2.1",
            53,
        );
        assert!(text.contains("name = \"acme-client.\""));
        assert!(text.contains("algorithm hmac-sha512;"));
        assert!(text.contains("dns_rfc2136_algorithm = HMAC-SHA512"));
        assert!(text.contains("RFC2136_NAMESERVER=192.0.2.1:53"));
        assert!(text.contains("tsigAlgorithm: HMACSHA512"));
        // config, BIND key file, certbot, lego and cert-manager (acme.sh reads the key file).
        assert_eq!(text.matches("c2VjcmV0").count(), 5);
    }
}
