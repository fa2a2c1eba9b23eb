//! The gateway's TOML configuration: the contract of `design.md`, read, resolved and validated.
//!
//! [`Config::load`] reads the file, refuses unknown keys (a typo must not be silently ignored),
//! reads `*_file` secrets, applies the `CSC_API_KEY` / `CSC_BEARER_TOKEN` environment overrides,
//! and checks every value. Every error names the file, the key and what was expected.

mod algorithm;
mod duration;
mod pattern;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

pub use algorithm::TsigAlgorithm;
pub use pattern::NamePattern;

use crate::secret::Secret;

/// Environment variable that overrides `[csc] api_key` / `api_key_file`.
pub const ENV_API_KEY: &str = "CSC_API_KEY";
/// Environment variable that overrides `[csc] bearer_token` / `bearer_token_file`.
pub const ENV_BEARER_TOKEN: &str = "CSC_BEARER_TOKEN";

/// Why a configuration was refused. Each message names the file and the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config file {path}: `{key}`: {problem}")]
    Invalid {
        path: PathBuf,
        key: String,
        problem: String,
    },
}

/// Where the secrets of a configuration come from, for `csc-rfc2136 check` (file permissions).
///
/// Only names and paths: never a secret value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretSources {
    /// Secret files that were read: the config key naming each (e.g. `csc.api_key_file`,
    /// `key[0].secret_file`) and its full path. A file overridden by the environment is not read
    /// and not listed.
    pub files: Vec<(String, PathBuf)>,
    /// Config keys that hold a secret inline in the file, e.g. `csc.api_key` or `key[0].secret`
    /// (listed even when the environment overrides the value: it is still in the file).
    pub inline: Vec<String>,
}

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the configuration was read from (for messages).
    pub path: PathBuf,
    pub server: ServerConfig,
    pub csc: CscConfig,
    pub state: StateConfig,
    pub edits: EditsConfig,
    pub keys: Vec<KeyConfig>,
}

/// `[server]`: where the gateway listens.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Each address serves DNS over UDP and TCP.
    pub listen: Vec<SocketAddr>,
    /// Optional HTTP address for `/metrics`, `/healthz` and `/readyz`.
    pub http: Option<SocketAddr>,
}

/// `[csc]`: how to reach CSC Global Domain Manager.
#[derive(Debug, Clone)]
pub struct CscConfig {
    pub base_url: url::Url,
    pub api_key: Secret,
    pub bearer_token: Secret,
    /// TTL of the TXT records the gateway creates.
    pub record_ttl: u32,
    /// Timeout of one HTTP call to CSC.
    pub timeout: Duration,
    /// Client-side ceiling on requests per second (CSC's own limit is about 20).
    pub rate_limit: f64,
    /// How often the zone list is re-read from CSC.
    pub zone_refresh: Duration,
}

/// `[state]`: where the durable journal lives.
#[derive(Debug, Clone)]
pub struct StateConfig {
    pub dir: PathBuf,
}

/// When the gateway answers NOERROR to an UPDATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyMode {
    /// As soon as the change is committed to the journal.
    Queued,
    /// Only once CSC accepted an edit carrying the change (bounded by `reply_timeout`).
    Accepted,
}

/// `[edits]`: batching and reply behaviour.
#[derive(Debug, Clone)]
pub struct EditsConfig {
    pub reply: ReplyMode,
    pub reply_timeout: Duration,
    pub batch_window: Duration,
    pub batch_max_wait: Duration,
    /// Most changes carried by one CSC edit (bounds the POST's size and the batch's memory).
    pub batch_max_changes: usize,
    /// Most changes of one zone waiting for CSC; more get SERVFAIL (back-pressure).
    pub max_pending: usize,
    pub orphan_ttl: Duration,
    /// How often the status of a CSC edit is read while the gateway follows it.
    pub poll_interval: Duration,
}

/// Which record types a key may change.
pub type RecordTypeName = String;

/// One `[[key]]`: a TSIG key and its grant.
#[derive(Debug, Clone)]
pub struct KeyConfig {
    /// The key's name as configured, e.g. `acme-client.`; compared case-insensitively.
    pub name: String,
    pub algorithm: TsigAlgorithm,
    /// Decoded secrets; the first signs replies, all verify requests (rotation).
    pub secrets: Vec<KeySecret>,
    /// Zones the key may change; `None` means every zone.
    pub zones: Option<Vec<String>>,
    pub names: Vec<NamePattern>,
    /// Upper-case type names, e.g. `TXT`.
    pub types: Vec<RecordTypeName>,
    /// Whether an RRset delete may remove values the gateway did not create.
    pub delete_foreign: bool,
}

/// A decoded TSIG secret; `Debug` never shows the bytes.
#[derive(Clone)]
pub struct KeySecret(Vec<u8>);

impl KeySecret {
    /// Wraps decoded key bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        KeySecret(bytes)
    }

    /// The raw key bytes, for the HMAC only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl KeyConfig {
    /// The key's name normalized for comparison: lower case, with the final dot.
    pub fn canonical_name(&self) -> String {
        canonical_dns_name(&self.name)
    }
}

/// Lower case with exactly one final dot: `Acme-Client` → `acme-client.`.
pub fn canonical_dns_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with('.') {
        lower
    } else {
        format!("{lower}.")
    }
}

// ---- The file as written -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    server: RawServer,
    csc: RawCsc,
    #[serde(default)]
    state: RawState,
    #[serde(default)]
    edits: RawEdits,
    #[serde(default, rename = "key")]
    keys: Vec<RawKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Vec<String>,
    http: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCsc {
    #[serde(default = "default_base_url")]
    base_url: String,
    api_key: Option<String>,
    api_key_file: Option<PathBuf>,
    bearer_token: Option<String>,
    bearer_token_file: Option<PathBuf>,
    #[serde(default = "default_record_ttl")]
    record_ttl: u32,
    #[serde(default = "default_csc_timeout", with = "duration")]
    timeout: Duration,
    #[serde(default = "default_rate_limit")]
    rate_limit: f64,
    #[serde(default = "default_zone_refresh", with = "duration")]
    zone_refresh: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    #[serde(default = "default_state_dir")]
    dir: PathBuf,
}

impl Default for RawState {
    fn default() -> Self {
        RawState {
            dir: default_state_dir(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEdits {
    #[serde(default = "default_reply")]
    reply: ReplyMode,
    #[serde(default = "default_reply_timeout", with = "duration")]
    reply_timeout: Duration,
    #[serde(default = "default_batch_window", with = "duration")]
    batch_window: Duration,
    #[serde(default = "default_batch_max_wait", with = "duration")]
    batch_max_wait: Duration,
    #[serde(default = "default_batch_max_changes")]
    batch_max_changes: usize,
    #[serde(default = "default_max_pending")]
    max_pending: usize,
    #[serde(default = "default_orphan_ttl", with = "duration")]
    orphan_ttl: Duration,
    #[serde(default = "default_poll_interval", with = "duration")]
    poll_interval: Duration,
}

impl Default for RawEdits {
    fn default() -> Self {
        RawEdits {
            reply: default_reply(),
            reply_timeout: default_reply_timeout(),
            batch_window: default_batch_window(),
            batch_max_wait: default_batch_max_wait(),
            batch_max_changes: default_batch_max_changes(),
            max_pending: default_max_pending(),
            orphan_ttl: default_orphan_ttl(),
            poll_interval: default_poll_interval(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    name: String,
    algorithm: String,
    secret: Option<String>,
    secret_file: Option<PathBuf>,
    secrets: Option<Vec<String>>,
    zones: Option<Vec<String>>,
    names: Option<Vec<String>>,
    types: Option<Vec<String>>,
    #[serde(default)]
    delete_foreign: bool,
}

/// The production API of CSC Global Domain Manager.
pub const DEFAULT_BASE_URL: &str = "https://apis.cscglobal.com/dbs/api/v2";

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}
fn default_record_ttl() -> u32 {
    300
}
fn default_csc_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_rate_limit() -> f64 {
    10.0
}
fn default_zone_refresh() -> Duration {
    Duration::from_secs(300)
}
fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/csc-rfc2136")
}
fn default_reply() -> ReplyMode {
    ReplyMode::Queued
}
fn default_reply_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_batch_window() -> Duration {
    Duration::from_secs(2)
}
fn default_batch_max_wait() -> Duration {
    Duration::from_secs(10)
}
fn default_batch_max_changes() -> usize {
    500
}
fn default_max_pending() -> usize {
    10_000
}
fn default_orphan_ttl() -> Duration {
    Duration::from_secs(24 * 3600)
}
fn default_poll_interval() -> Duration {
    Duration::from_secs(3)
}

/// Record types a grant may name. The gateway manages TXT; others are refused at load so a
/// config cannot promise what the gateway will not do.
const GRANTABLE_TYPES: [&str; 1] = ["TXT"];

// ---- Loading and validation ------------------------------------------------------------------

impl Config {
    /// Reads, resolves and validates the configuration at `path`, using the process environment
    /// for the `CSC_API_KEY` / `CSC_BEARER_TOKEN` overrides.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(path, |name| std::env::var(name).ok())
    }

    /// As [`Config::load`], with the environment supplied by `env` (for tests).
    pub fn load_with_env(
        path: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text, env)
    }

    /// Parses and validates `text`, read from `path` (which names the file in messages and
    /// anchors relative `*_file` paths).
    pub fn parse(
        path: &Path,
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Self::parse_with_sources(path, text, env).map(|(config, _)| config)
    }

    /// As [`Config::load`], also telling where the secrets came from (for `check`).
    pub fn load_with_sources(path: &Path) -> Result<(Config, SecretSources), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse_with_sources(path, &text, |name| std::env::var(name).ok())
    }

    /// As [`Config::parse`], also telling where the secrets came from (for `check`).
    pub fn parse_with_sources(
        path: &Path,
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Config, SecretSources), ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|err| ConfigError::Parse {
            path: path.to_owned(),
            message: err.to_string(),
        })?;
        let resolver = Resolver { path };
        let sources = resolver.secret_sources(&raw, &env);
        let config = resolver.resolve(raw, &env)?;
        Ok((config, sources))
    }
}

/// Turns the raw file into a [`Config`], with the file's path at hand for every message.
struct Resolver<'a> {
    path: &'a Path,
}

impl Resolver<'_> {
    fn invalid(&self, key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_owned(),
            key: key.into(),
            problem: problem.into(),
        }
    }

    /// A `*_file` path, relative to the config file's folder unless absolute.
    fn relative(&self, file: &Path) -> PathBuf {
        match self.path.parent() {
            Some(dir) if file.is_relative() => dir.join(file),
            _ => file.to_owned(),
        }
    }

    fn read_secret_file(&self, key: &str, file: &Path) -> Result<String, ConfigError> {
        let full = self.relative(file);
        let text = std::fs::read_to_string(&full).map_err(|err| {
            self.invalid(
                key,
                format!("cannot read secret file {}: {err}", full.display()),
            )
        })?;
        Ok(text.trim_end_matches(['\r', '\n']).trim().to_owned())
    }

    /// Which secrets the file holds inline and which secret files resolving it reads.
    fn secret_sources(
        &self,
        raw: &RawConfig,
        env: &impl Fn(&str) -> Option<String>,
    ) -> SecretSources {
        let mut sources = SecretSources::default();
        let overridden = |name: &str| env(name).is_some_and(|v| !v.is_empty());
        let csc = [
            (
                "api_key",
                &raw.csc.api_key,
                &raw.csc.api_key_file,
                ENV_API_KEY,
            ),
            (
                "bearer_token",
                &raw.csc.bearer_token,
                &raw.csc.bearer_token_file,
                ENV_BEARER_TOKEN,
            ),
        ];
        for (key, value, file, env_name) in csc {
            if value.is_some() {
                sources.inline.push(format!("csc.{key}"));
            }
            if let Some(file) = file
                && !overridden(env_name)
            {
                sources
                    .files
                    .push((format!("csc.{key}_file"), self.relative(file)));
            }
        }
        for (index, key) in raw.keys.iter().enumerate() {
            if key.secret.is_some() {
                sources.inline.push(format!("key[{index}].secret"));
            }
            if key.secrets.is_some() {
                sources.inline.push(format!("key[{index}].secrets"));
            }
            if let Some(file) = &key.secret_file {
                sources
                    .files
                    .push((format!("key[{index}].secret_file"), self.relative(file)));
            }
        }
        sources
    }

    fn resolve(
        &self,
        raw: RawConfig,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Ok(Config {
            path: self.path.to_owned(),
            server: self.server(raw.server)?,
            csc: self.csc(raw.csc, env)?,
            state: StateConfig { dir: raw.state.dir },
            edits: self.edits(raw.edits)?,
            keys: self.keys(raw.keys)?,
        })
    }

    fn server(&self, raw: RawServer) -> Result<ServerConfig, ConfigError> {
        if raw.listen.is_empty() {
            return Err(self.invalid(
                "server.listen",
                "needs at least one address, like \"127.0.0.1:5353\"",
            ));
        }
        let listen = raw
            .listen
            .iter()
            .map(|addr| {
                addr.parse().map_err(|_| {
                    self.invalid(
                        "server.listen",
                        format!("`{addr}` is not an IP:port address (IPv6 as \"[::1]:53\")"),
                    )
                })
            })
            .collect::<Result<Vec<SocketAddr>, _>>()?;
        let http = raw
            .http
            .map(|addr| {
                addr.parse().map_err(|_| {
                    self.invalid("server.http", format!("`{addr}` is not an IP:port address"))
                })
            })
            .transpose()?;
        Ok(ServerConfig { listen, http })
    }

    /// One secret from its value, its file, or the environment (which wins).
    fn csc_secret(
        &self,
        key: &str,
        value: Option<String>,
        file: Option<PathBuf>,
        env_name: &str,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Secret, ConfigError> {
        if value.is_some() && file.is_some() {
            return Err(self.invalid(
                format!("csc.{key}"),
                format!("give either `{key}` or `{key}_file`, not both"),
            ));
        }
        let text = match (env(env_name).filter(|v| !v.is_empty()), value, file) {
            (Some(from_env), _, _) => from_env,
            (None, Some(value), None) => value,
            (None, None, Some(file)) => self.read_secret_file(&format!("csc.{key}_file"), &file)?,
            _ => {
                return Err(self.invalid(
                    format!("csc.{key}"),
                    format!(
                        "missing: set `{key}`, `{key}_file`, or the environment variable {env_name}"
                    ),
                ));
            }
        };
        let secret = Secret::new(text.trim().to_owned());
        if secret.is_empty() {
            return Err(self.invalid(format!("csc.{key}"), "is empty"));
        }
        Ok(secret)
    }

    fn csc(
        &self,
        raw: RawCsc,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<CscConfig, ConfigError> {
        let base_url = url::Url::parse(&raw.base_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
            .ok_or_else(|| {
                self.invalid(
                    "csc.base_url",
                    format!(
                        "`{}` is not an http(s) URL, expected e.g. \"{DEFAULT_BASE_URL}\"",
                        raw.base_url
                    ),
                )
            })?;
        if !(raw.rate_limit > 0.0 && raw.rate_limit <= 1000.0) {
            return Err(self.invalid(
                "csc.rate_limit",
                "must be a number of requests per second above 0 (CSC allows about 20)",
            ));
        }
        if raw.timeout.is_zero() {
            return Err(self.invalid("csc.timeout", "must be above zero"));
        }
        Ok(CscConfig {
            base_url,
            api_key: self.csc_secret("api_key", raw.api_key, raw.api_key_file, ENV_API_KEY, env)?,
            bearer_token: self.csc_secret(
                "bearer_token",
                raw.bearer_token,
                raw.bearer_token_file,
                ENV_BEARER_TOKEN,
                env,
            )?,
            record_ttl: raw.record_ttl,
            timeout: raw.timeout,
            rate_limit: raw.rate_limit,
            zone_refresh: raw.zone_refresh,
        })
    }

    fn edits(&self, raw: RawEdits) -> Result<EditsConfig, ConfigError> {
        if raw.batch_max_wait < raw.batch_window {
            return Err(self.invalid(
                "edits.batch_max_wait",
                "must be at least `batch_window` (it caps how long a batch may keep waiting)",
            ));
        }
        if raw.poll_interval < Duration::from_millis(100) {
            return Err(self.invalid(
                "edits.poll_interval",
                "must be at least \"100ms\" (CSC's clients poll every 1-5 s)",
            ));
        }
        if raw.max_pending == 0 {
            return Err(self.invalid(
                "edits.max_pending",
                "must be at least 1 (it caps how many changes of a zone may wait for CSC)",
            ));
        }
        if raw.batch_max_changes == 0 {
            return Err(self.invalid(
                "edits.batch_max_changes",
                "must be at least 1 (it caps how many changes one CSC edit carries)",
            ));
        }
        if raw.reply_timeout.is_zero() {
            return Err(self.invalid("edits.reply_timeout", "must be above zero"));
        }
        Ok(EditsConfig {
            reply: raw.reply,
            reply_timeout: raw.reply_timeout,
            batch_window: raw.batch_window,
            batch_max_wait: raw.batch_max_wait,
            batch_max_changes: raw.batch_max_changes,
            max_pending: raw.max_pending,
            orphan_ttl: raw.orphan_ttl,
            poll_interval: raw.poll_interval,
        })
    }

    fn keys(&self, raw: Vec<RawKey>) -> Result<Vec<KeyConfig>, ConfigError> {
        let mut keys: Vec<KeyConfig> = Vec::with_capacity(raw.len());
        for (index, raw) in raw.into_iter().enumerate() {
            let key = self.key(index, raw)?;
            if keys
                .iter()
                .any(|k| k.canonical_name() == key.canonical_name())
            {
                return Err(self.invalid(
                    format!("key[{index}].name"),
                    format!(
                        "key `{}` is defined twice (names compare case-insensitively)",
                        key.name
                    ),
                ));
            }
            keys.push(key);
        }
        Ok(keys)
    }

    fn key(&self, index: usize, raw: RawKey) -> Result<KeyConfig, ConfigError> {
        let at = |field: &str| format!("key[{index}].{field}");
        if !is_dns_name(&raw.name) {
            return Err(self.invalid(
                at("name"),
                format!("`{}` is not a valid DNS name", raw.name),
            ));
        }
        let algorithm: TsigAlgorithm = raw
            .algorithm
            .parse()
            .map_err(|problem: String| self.invalid(at("algorithm"), problem))?;
        let encoded: Vec<String> = match (raw.secret, raw.secret_file, raw.secrets) {
            (Some(secret), None, None) => vec![secret],
            (None, Some(file), None) => vec![self.read_secret_file(&at("secret_file"), &file)?],
            (None, None, Some(list)) if !list.is_empty() => list,
            (None, None, None) => {
                return Err(self.invalid(
                    at("secret"),
                    "missing: set `secret`, `secret_file` or `secrets`",
                ));
            }
            _ => {
                return Err(self.invalid(
                    at("secret"),
                    "give exactly one of `secret`, `secret_file`, `secrets` (a non-empty list)",
                ));
            }
        };
        let secrets = encoded
            .iter()
            .map(|text| {
                base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .ok()
                    .filter(|bytes| !bytes.is_empty())
                    .map(KeySecret)
                    .ok_or_else(|| {
                        // Never echo the value: it is a secret even when malformed.
                        self.invalid(
                            at("secret"),
                            "is not non-empty base64 (generate one with `csc-rfc2136 keygen NAME`)",
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let zones = raw
            .zones
            .map(|zones| {
                zones
                    .iter()
                    .map(|zone| {
                        is_dns_name(zone)
                            .then(|| crate::csc::names::normalize(zone))
                            .ok_or_else(|| {
                                self.invalid(
                                    at("zones"),
                                    format!("`{zone}` is not a valid zone name"),
                                )
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let names = match raw.names {
            None => vec![NamePattern::default_acme()],
            Some(list) if list.is_empty() => {
                return Err(self.invalid(
                    at("names"),
                    "is empty: the key could change nothing; remove the key or list patterns",
                ));
            }
            Some(list) => list
                .iter()
                .map(|p| {
                    p.parse()
                        .map_err(|problem: String| self.invalid(at("names"), problem))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let types = match raw.types {
            None => vec!["TXT".to_owned()],
            Some(list) => list
                .iter()
                .map(|t| {
                    let upper = t.to_ascii_uppercase();
                    GRANTABLE_TYPES
                        .contains(&upper.as_str())
                        .then_some(upper)
                        .ok_or_else(|| {
                            self.invalid(
                                at("types"),
                                format!(
                                    "`{t}` is not supported, expected one of {}",
                                    GRANTABLE_TYPES.join(", ")
                                ),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        if types.is_empty() {
            return Err(self.invalid(at("types"), "is empty: the key could change nothing"));
        }
        Ok(KeyConfig {
            name: raw.name,
            algorithm,
            secrets,
            zones,
            names,
            types,
            delete_foreign: raw.delete_foreign,
        })
    }
}

/// A syntactically valid domain name: labels of 1–63 bytes of letters, digits, `-` and `_`.
fn is_dns_name(name: &str) -> bool {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    !trimmed.is_empty()
        && trimmed.len() <= 253
        && trimmed.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests;
