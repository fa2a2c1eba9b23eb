//! The binary's command line: bad configuration is refused at start with a message that names
//! the file, the key and what is expected, by every subcommand that reads one.

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_csc-rfc2136"))
        .args(args)
        .env("CSC_API_KEY", "env-api-key")
        .env("CSC_BEARER_TOKEN", "env-bearer-token")
        .output()
        .expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_shipped_example_is_refused_until_its_secret_is_replaced() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/csc-rfc2136.toml");
    let output = run(&["check", "--config", example.to_str().unwrap()]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("csc-rfc2136.toml"), "{message}");
    assert!(message.contains("key[0].secret"), "{message}");
    assert!(message.contains("keygen"), "says how to fix it: {message}");
}

#[test]
fn a_typo_in_the_config_is_refused_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = [\"127.0.0.1:5353\"]\n[csc]\n[edits]\nbatch_widow = \"2s\"\n",
    )
    .unwrap();
    let output = run(&["serve", "--config", path.to_str().unwrap()]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("gw.toml"), "{message}");
    assert!(message.contains("batch_widow"), "{message}");
    assert!(
        message.contains("batch_window"),
        "names what is expected: {message}"
    );
}

#[test]
fn a_missing_config_file_is_named() {
    let output = run(&["serve", "--config", "/nonexistent/gw.toml"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("/nonexistent/gw.toml"));
}

#[test]
fn check_and_status_refuse_a_bad_config_before_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = [\"127.0.0.1:5353\"]\n[csc]\napi_key = \"k\"\nbearer_token = \"t\"\nreord_ttl = 1\n",
    )
    .unwrap();
    for sub in ["check", "status"] {
        let output = run(&[sub, "--config", path.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(1), "{sub}");
        let message = stderr(&output);
        assert!(
            message.contains("gw.toml") && message.contains("reord_ttl"),
            "{sub}: {message}"
        );
        assert!(output.stdout.is_empty(), "{sub}: no half result on stdout");
    }
}

#[test]
fn help_lists_every_subcommand() {
    let output = run(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for sub in ["serve", "sandbox", "sim", "check", "keygen", "status"] {
        assert!(help.contains(sub), "--help lacks {sub}: {help}");
    }
}

#[test]
fn keygen_prints_a_secret_of_the_hash_size_and_every_snippet() {
    use base64::Engine as _;
    let output = run(&["keygen", "acme-client", "--algorithm", "HMAC-SHA512"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    let secret = text
        .lines()
        .find_map(|l| l.strip_prefix("secret = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("a secret line");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(secret)
        .unwrap();
    assert_eq!(bytes.len(), 64, "hmac-sha512 keys are 64 bytes");
    for snippet in [
        "[[key]]",
        "key \"acme-client.\"",
        "dns_rfc2136_secret",
        "RFC2136_TSIG_SECRET",
        "NSUPDATE_SERVER",
        "tsigSecretSecretRef",
    ] {
        assert!(text.contains(snippet), "keygen output lacks {snippet}");
    }
    let bad = run(&["keygen", "k", "--algorithm", "hmac-sha3"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("hmac-sha256"),
        "names the valid algorithms: {}",
        stderr(&bad)
    );
}
