//! `csc-rfc2136 check --config FILE` against the real simulator: a good config passes and lists
//! zones and keys; wrong credentials, a world-readable config holding secrets and an unreachable
//! CSC fail with an actionable message that never shows a secret; readable secret files and
//! grants of zones CSC does not serve are warned about.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::SimProcess;

/// A TSIG secret for the configs (base64 of 32 bytes).
const TSIG_SECRET: &str = "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=";

/// A config folder with files of chosen permissions.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `name` with `text` and permission bits `mode`; returns its path.
    fn write(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }
}

/// `[server]`, `[state]` and `[csc]` for `base_url`, with `credentials` lines, then `keys`.
fn config_text(setup: &Setup, base_url: &str, credentials: &str, keys: &str) -> String {
    format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n\n[csc]\nbase_url = \"{base_url}\"\n{credentials}\n\
         [state]\ndir = \"{}\"\n\n{keys}",
        setup.path("state").display()
    )
}

fn key_block(name: &str, extra: &str) -> String {
    format!(
        "[[key]]\nname = \"{name}\"\nalgorithm = \"hmac-sha256\"\nsecret_file = \"tsig.key\"\n{extra}\n"
    )
}

fn check(config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_csc-rfc2136"))
        .args(["check", "--config", config.to_str().unwrap()])
        .env_remove("CSC_API_KEY")
        .env_remove("CSC_BEARER_TOKEN")
        .output()
        .expect("the binary runs")
}

/// stdout and stderr together, for searching.
fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every line carries one of the three prefixes.
fn assert_prefixed(output: &Output) {
    for line in text(output).lines() {
        assert!(
            ["ok: ", "warning: ", "error: "]
                .iter()
                .any(|p| line.starts_with(p)),
            "unprefixed line {line:?} in:\n{}",
            text(output)
        );
    }
}

/// Secret files (mode 600) for the sim's credentials and the TSIG key.
fn private_secret_files(setup: &Setup, sim: &SimProcess) {
    setup.write("api-key", &format!("{}\n", sim.api_key), 0o600);
    setup.write("bearer-token", &format!("{}\n", sim.bearer_token), 0o600);
    setup.write("tsig.key", &format!("{TSIG_SECRET}\n"), 0o600);
}

const FILE_CREDENTIALS: &str = "api_key_file = \"api-key\"\nbearer_token_file = \"bearer-token\"\n";

#[test]
fn a_good_config_passes_and_lists_zones_with_their_keys() {
    let sim = SimProcess::start(&["--zones", "a.test,b.test"]);
    let setup = Setup::new();
    private_secret_files(&setup, &sim);
    let keys = format!(
        "{}{}",
        key_block("all-zones.", ""),
        key_block(
            "team-a.",
            "zones = [\"a.test\"]\nnames = [\"_acme-challenge.www.a.test\"]"
        )
    );
    // Inline secrets are fine in a private config file.
    let config = setup.write(
        "gw.toml",
        &config_text(
            &setup,
            &sim.api_base,
            &format!(
                "api_key = \"{}\"\nbearer_token_file = \"bearer-token\"\n",
                sim.api_key
            ),
            &keys,
        ),
        0o600,
    );
    let output = check(&config);
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    assert_prefixed(&output);
    assert!(!all.contains("warning:"), "{all}");
    for expected in [
        "ok: config ",
        "2 key(s)",
        "holds secrets inline and is readable by its owner only",
        "ok: secret file",
        "ok: CSC at http://127.0.0.1:",
        "accepted the credentials and serves 2 zone(s)",
        "ok: zone a.test: key all-zones. (hmac-sha256) may change TXT at _acme-challenge.*",
        "ok: zone a.test: key team-a. (hmac-sha256) may change TXT at _acme-challenge.www.a.test",
        "ok: zone b.test: key all-zones. (hmac-sha256) may change TXT at _acme-challenge.*",
        "ok: ready to serve (0 warning(s))",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
    }
    assert!(
        !all.contains("zone b.test: key team-a."),
        "team-a is not granted b.test:\n{all}"
    );
    assert!(!all.contains(&sim.api_key) && !all.contains(&sim.bearer_token));
    assert!(!all.contains(TSIG_SECRET));
}

#[test]
fn wrong_credentials_fail_naming_them_without_showing_them() {
    let sim = SimProcess::start(&["--zones", "a.test"]);
    let setup = Setup::new();
    private_secret_files(&setup, &sim);
    let wrong_key = "wrong-api-key-5f1c9a";
    let config = setup.write(
        "gw.toml",
        &config_text(
            &setup,
            &sim.api_base,
            &format!(
                "api_key = \"{wrong_key}\"\nbearer_token = \"{}\"\n",
                sim.bearer_token
            ),
            &key_block("k.", ""),
        ),
        0o600,
    );
    let output = check(&config);
    let all = text(&output);
    assert!(!output.status.success(), "{all}");
    assert_prefixed(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("error: "), "{all}");
    assert!(stderr.contains("rejected the credentials"), "{all}");
    assert!(
        stderr.contains("API key") && stderr.contains("bearer token"),
        "{all}"
    );
    assert!(stderr.contains("CSC_API_KEY"), "says where to fix: {all}");
    assert!(!all.contains(wrong_key), "the key leaked:\n{all}");
    assert!(!all.contains(&sim.bearer_token), "the token leaked:\n{all}");
    assert!(!all.contains("ready to serve"), "{all}");
}

#[test]
fn a_world_readable_config_holding_a_secret_is_refused() {
    let sim = SimProcess::start(&["--zones", "a.test"]);
    let setup = Setup::new();
    private_secret_files(&setup, &sim);
    let config = setup.write(
        "gw.toml",
        &config_text(
            &setup,
            &sim.api_base,
            &format!(
                "api_key = \"{}\"\nbearer_token_file = \"bearer-token\"\n",
                sim.api_key
            ),
            &format!(
                "[[key]]\nname = \"k.\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{TSIG_SECRET}\"\n"
            ),
        ),
        0o644,
    );
    let output = check(&config);
    let all = text(&output);
    assert!(!output.status.success(), "{all}");
    assert_prefixed(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("readable by every user"), "{all}");
    assert!(stderr.contains("mode 0644"), "{all}");
    assert!(stderr.contains("csc.api_key, key[0].secret"), "{all}");
    assert!(
        stderr.contains(&format!("chmod 600 {}", config.display())),
        "{all}"
    );
    assert!(!all.contains(&sim.api_key) && !all.contains(TSIG_SECRET));
    assert!(!all.contains("ready to serve"), "{all}");

    // The same file without inline secrets may be world-readable.
    let config = setup.write(
        "gw.toml",
        &config_text(
            &setup,
            &sim.api_base,
            FILE_CREDENTIALS,
            &key_block("k.", ""),
        ),
        0o644,
    );
    let output = check(&config);
    assert!(output.status.success(), "{}", text(&output));
}

#[test]
fn a_secret_file_readable_by_the_group_is_warned_about() {
    let sim = SimProcess::start(&["--zones", "a.test"]);
    let setup = Setup::new();
    private_secret_files(&setup, &sim);
    let api_key = setup.write("api-key", &format!("{}\n", sim.api_key), 0o640);
    let config = setup.write(
        "gw.toml",
        &config_text(
            &setup,
            &sim.api_base,
            FILE_CREDENTIALS,
            &key_block("k.", ""),
        ),
        0o644,
    );
    let output = check(&config);
    let all = text(&output);
    assert!(output.status.success(), "a warning is not an error: {all}");
    assert_prefixed(&output);
    let warning = format!(
        "warning: secret file {} (csc.api_key_file) is readable by its group (mode 0640): run `chmod 600 {}`",
        api_key.display(),
        api_key.display()
    );
    assert!(all.contains(&warning), "missing {warning:?} in:\n{all}");
    assert!(all.contains("ok: ready to serve (1 warning(s))"), "{all}");
    assert!(!all.contains(&sim.api_key));
}

#[test]
fn a_key_granted_a_zone_csc_does_not_serve_is_warned_about() {
    let sim = SimProcess::start(&["--zones", "a.test"]);
    let setup = Setup::new();
    private_secret_files(&setup, &sim);
    let config = setup.write(
        "gw.toml",
        &config_text(
            &setup,
            &sim.api_base,
            FILE_CREDENTIALS,
            &key_block("team-b.", "zones = [\"a.test\", \"not-at-csc.test\"]"),
        ),
        0o600,
    );
    let output = check(&config);
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    assert_prefixed(&output);
    assert!(
        all.contains(
            "warning: key team-b. (key[0].zones) is granted zone not-at-csc.test, which CSC does \
             not serve"
        ),
        "{all}"
    );
    assert!(
        all.contains("ok: zone a.test: key team-b. (hmac-sha256)"),
        "{all}"
    );
}

#[test]
fn an_unreachable_csc_fails_with_a_clear_message() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let base_url = format!("http://127.0.0.1:{closed}/dbs/api/v2");
    let setup = Setup::new();
    setup.write("api-key", "some-api-key\n", 0o600);
    setup.write("bearer-token", "some-bearer-token\n", 0o600);
    setup.write("tsig.key", &format!("{TSIG_SECRET}\n"), 0o600);
    let config = setup.write(
        "gw.toml",
        &config_text(&setup, &base_url, FILE_CREDENTIALS, &key_block("k.", "")),
        0o600,
    );
    let started = std::time::Instant::now();
    let output = check(&config);
    let all = text(&output);
    assert!(!output.status.success(), "{all}");
    assert_prefixed(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("error: CSC at {base_url}")),
        "{all}"
    );
    assert!(stderr.contains("could not connect"), "{all}");
    assert!(stderr.contains("csc.base_url"), "says what to check: {all}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "gave up quickly, took {:?}",
        started.elapsed()
    );
    assert!(!all.contains("some-api-key") && !all.contains("some-bearer-token"));
}
