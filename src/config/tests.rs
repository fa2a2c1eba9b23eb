//! Unit tests of config loading: the documented example, defaults, and every refusal.

use super::*;

const SECRET_B64: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="; // "secret-secret-secret"

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("/etc/gw.toml"), text, |_| None)
}

fn minimal(extra: &str) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:5353"]

[csc]
api_key = "k"
bearer_token = "t"
{extra}
"#
    )
}

fn err(text: &str) -> String {
    parse(text)
        .expect_err("config should be refused")
        .to_string()
}

#[test]
fn the_design_example_loads() {
    let text = format!(
        r#"
[server]
listen = ["127.0.0.1:5353", "[::1]:5353"]
http = "127.0.0.1:9153"

[csc]
base_url = "https://apis.cscglobal.com/dbs/api/v2"
api_key = "the-key"
bearer_token = "the-token"
record_ttl = 300

[state]
dir = "/var/lib/csc-rfc2136"

[edits]
reply = "accepted"
batch_window = "2s"
batch_max_wait = "10s"
orphan_ttl = "24h"

[[key]]
name = "acme-client."
algorithm = "hmac-sha256"
secret = "{SECRET_B64}"
zones = ["Example.com."]
names = ["_acme-challenge.*"]
types = ["txt"]
"#
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.server.listen.len(), 2);
    assert_eq!(config.server.http, Some("127.0.0.1:9153".parse().unwrap()));
    assert_eq!(config.csc.api_key.expose(), "the-key");
    assert_eq!(config.edits.reply, ReplyMode::Accepted);
    assert_eq!(config.edits.orphan_ttl, Duration::from_secs(86_400));
    let key = &config.keys[0];
    assert_eq!(key.algorithm, TsigAlgorithm::HmacSha256);
    assert_eq!(key.secrets[0].expose(), b"secret-secret-secret");
    assert_eq!(key.zones.as_deref(), Some(&["example.com".to_owned()][..]));
    assert_eq!(key.types, vec!["TXT"]);
    assert_eq!(key.canonical_name(), "acme-client.");
}

#[test]
fn defaults_fill_what_is_left_out() {
    let config = parse(&minimal(&format!(
        "[[key]]\nname = \"k1\"\nalgorithm = \"hmac-md5\"\nsecret = \"{SECRET_B64}\"\n"
    )))
    .unwrap();
    assert_eq!(config.csc.base_url.as_str(), DEFAULT_BASE_URL);
    assert_eq!(config.csc.record_ttl, 300);
    assert_eq!(config.edits.reply, ReplyMode::Queued);
    assert_eq!(config.edits.batch_window, Duration::from_secs(2));
    assert_eq!(config.edits.batch_max_wait, Duration::from_secs(10));
    assert_eq!(config.edits.reply_timeout, Duration::from_secs(30));
    assert_eq!(config.state.dir, PathBuf::from("/var/lib/csc-rfc2136"));
    let key = &config.keys[0];
    assert!(key.zones.is_none());
    assert_eq!(key.names, vec![NamePattern::default_acme()]);
    assert_eq!(key.types, vec!["TXT"]);
}

#[test]
fn unknown_keys_are_refused_with_file_and_name() {
    let message =
        err("[server]\nlisen = [\"127.0.0.1:53\"]\n[csc]\napi_key=\"k\"\nbearer_token=\"t\"\n");
    assert!(message.contains("/etc/gw.toml"), "{message}");
    assert!(message.contains("lisen"), "{message}");
    assert!(
        message.contains("listen"),
        "should say what is expected: {message}"
    );

    let message = err(&minimal("[edits]\nbatch_windw = \"1s\"\n"));
    assert!(message.contains("batch_windw"), "{message}");
}

#[test]
fn bad_values_name_the_key_and_the_expectation() {
    let message = err(&minimal("[edits]\nbatch_window = \"soon\"\n"));
    assert!(
        message.contains("batch_window") && message.contains("\"2s\""),
        "{message}"
    );

    let message = err(&minimal("[edits]\nreply = \"later\"\n"));
    assert!(
        message.contains("reply") && message.contains("queued"),
        "{message}"
    );

    let message = err(&minimal(&format!(
        "[[key]]\nname = \"k\"\nalgorithm = \"hmac-sha3\"\nsecret = \"{SECRET_B64}\"\n"
    )));
    assert!(
        message.contains("key[0].algorithm") && message.contains("hmac-sha256"),
        "{message}"
    );

    let message = err(&minimal(&format!(
        "[[key]]\nname = \"k\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{SECRET_B64}\"\ntypes = [\"A\"]\n"
    )));
    assert!(
        message.contains("key[0].types") && message.contains("TXT"),
        "{message}"
    );

    let message =
        err("[server]\nlisten = [\"localhost\"]\n[csc]\napi_key=\"k\"\nbearer_token=\"t\"\n");
    assert!(message.contains("server.listen"), "{message}");

    let message = err(&minimal(
        "[edits]\nbatch_window = \"20s\"\nbatch_max_wait = \"10s\"\n",
    ));
    assert!(message.contains("edits.batch_max_wait"), "{message}");
}

#[test]
fn malformed_secrets_are_refused_without_being_echoed() {
    let message = err(&minimal(
        "[[key]]\nname = \"k\"\nalgorithm = \"hmac-sha256\"\nsecret = \"not base64 SUPERSECRET!\"\n",
    ));
    assert!(message.contains("key[0].secret"), "{message}");
    assert!(!message.contains("SUPERSECRET"), "secret leaked: {message}");
}

#[test]
fn secret_sources_are_exclusive_and_required() {
    let message = err(&minimal(&format!(
        "[[key]]\nname = \"k\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{SECRET_B64}\"\nsecrets = [\"{SECRET_B64}\"]\n"
    )));
    assert!(message.contains("exactly one"), "{message}");

    let message = err("[server]\nlisten = [\"127.0.0.1:53\"]\n[csc]\nbearer_token=\"t\"\n");
    assert!(
        message.contains("csc.api_key") && message.contains(ENV_API_KEY),
        "{message}"
    );
}

#[test]
fn duplicate_key_names_are_refused() {
    let key =
        format!("[[key]]\nname = \"k.\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{SECRET_B64}\"\n");
    let message = err(&minimal(&format!("{key}{}", key.replace("k.", "K"))));
    assert!(message.contains("defined twice"), "{message}");
}

#[test]
fn environment_overrides_the_file() {
    let text = minimal("");
    let config = Config::parse(Path::new("/etc/gw.toml"), &text, |name| match name {
        ENV_API_KEY => Some("from-env".to_owned()),
        _ => None,
    })
    .unwrap();
    assert_eq!(config.csc.api_key.expose(), "from-env");
    assert_eq!(config.csc.bearer_token.expose(), "t");
}

#[test]
fn secret_files_are_read_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api-key"), "file-key\n").unwrap();
    std::fs::write(dir.path().join("tsig"), format!("{SECRET_B64}\n")).unwrap();
    let path = dir.path().join("gw.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = [\"127.0.0.1:53\"]\n[csc]\napi_key_file = \"api-key\"\nbearer_token = \"t\"\n\
         [[key]]\nname = \"k\"\nalgorithm = \"hmac-sha1\"\nsecret_file = \"tsig\"\n",
    )
    .unwrap();
    let config = Config::load_with_env(&path, |_| None).unwrap();
    assert_eq!(config.csc.api_key.expose(), "file-key");
    assert_eq!(config.keys[0].secrets[0].expose(), b"secret-secret-secret");

    let missing = Config::load_with_env(&dir.path().join("nope.toml"), |_| None).unwrap_err();
    assert!(missing.to_string().contains("nope.toml"));
}

#[test]
fn debug_output_holds_no_secret() {
    let config = parse(&minimal(&format!(
        "[[key]]\nname = \"k\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{SECRET_B64}\"\n"
    )))
    .unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains(SECRET_B64));
    assert!(!debug.contains("secret-secret"));
    assert!(!debug.contains("bearer_token: \"t\""));
    assert!(debug.contains("[redacted]"));
}

#[test]
fn secret_sources_name_inline_secrets_and_files_read() {
    let text = "[server]\nlisten = [\"127.0.0.1:53\"]\n[csc]\napi_key_file = \"api-key\"\n\
                bearer_token = \"t\"\n\
                [[key]]\nname = \"a\"\nalgorithm = \"hmac-sha1\"\nsecret_file = \"/run/tsig\"\n\
                [[key]]\nname = \"b\"\nalgorithm = \"hmac-sha1\"\nsecrets = [\"c2VjcmV0\"]\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api-key"), "file-key\n").unwrap();
    let tsig = dir.path().join("tsig");
    std::fs::write(&tsig, format!("{SECRET_B64}\n")).unwrap();
    let text = text.replace("/run/tsig", tsig.to_str().unwrap());
    let path = dir.path().join("gw.toml");
    let (_, sources) = Config::parse_with_sources(&path, &text, |_| None).unwrap();
    assert_eq!(sources.inline, ["csc.bearer_token", "key[1].secrets"]);
    assert_eq!(
        sources.files,
        [
            ("csc.api_key_file".to_owned(), dir.path().join("api-key")),
            ("key[0].secret_file".to_owned(), tsig.clone()),
        ]
    );
    // A file the environment overrides is not read, so not listed.
    let (_, sources) = Config::parse_with_sources(&path, &text, |name| {
        (name == ENV_API_KEY).then(|| "from-env".to_owned())
    })
    .unwrap();
    assert_eq!(sources.files, [("key[0].secret_file".to_owned(), tsig)]);
    assert!(!format!("{sources:?}").contains("file-key"));
}
