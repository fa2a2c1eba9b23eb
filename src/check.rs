//! `csc-rfc2136 check --config FILE`: is this configuration ready to serve?
//!
//! It validates the file ([`Config::load_with_sources`] refuses bad values), checks that the
//! secrets it names are kept private (a world-readable config holding a secret inline is refused,
//! a secret file readable by group or others is warned about), reaches CSC with the configured
//! credentials, and lists the zones CSC serves with the keys that may change each.
//!
//! The output is for people: one fact a line, prefixed `ok:`, `warning:` or `error:` (errors go
//! to stderr). The exit code is non-zero when there is an error; warnings alone leave it zero.
//! No secret is ever printed: only the config keys and file paths that hold them.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::config::{Config, ConfigError, KeyConfig, SecretSources};
use crate::csc::{CscClient, CscError, names};

/// Retries of a failed CSC call during `check`: none. A check is a probe that a person reruns;
/// it reports a dead endpoint at once, and its output stays free of retry log lines.
const CHECK_RETRIES: usize = 0;
/// Longest wait for one CSC call during `check`.
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// A problem that makes the configuration unfit to serve.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The file is unreadable or invalid.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// Every user of the machine can read secrets written in the config file.
    #[error(
        "config file {path} is readable by every user (mode {mode:04o}) and holds secrets \
         inline ({keys}): run `chmod 600 {path}` (or `chmod 640` with the gateway's group), or \
         move the secrets to `*_file` settings (csc.api_key_file, csc.bearer_token_file, \
         secret_file) or to the environment (CSC_API_KEY, CSC_BEARER_TOKEN)",
        path = path.display(),
        keys = keys.join(", ")
    )]
    WorldReadableSecrets {
        /// The config file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// The config keys holding secrets inline, e.g. `csc.api_key`.
        keys: Vec<String>,
    },
    /// The CSC client could not be set up, or CSC did not answer the zone list.
    #[error("CSC at {base_url}: {source}")]
    Csc {
        /// `csc.base_url`.
        base_url: String,
        /// What went wrong; its message says what to do.
        source: CscError,
    },
}

/// The verdict on one file's permission bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exposure {
    /// Readable by its owner only.
    Private,
    /// Readable by the file's group (and not by others).
    Group,
    /// Readable by every user.
    World,
}

impl Exposure {
    /// Classifies Unix permission bits.
    fn of_mode(mode: u32) -> Exposure {
        if mode & 0o004 != 0 {
            Exposure::World
        } else if mode & 0o040 != 0 {
            Exposure::Group
        } else {
            Exposure::Private
        }
    }

    fn who(self) -> &'static str {
        match self {
            Exposure::Private => "its owner only",
            Exposure::Group => "its group",
            Exposure::World => "every user",
        }
    }
}

/// The permission bits of `path` (following symbolic links, as a Kubernetes Secret mount uses).
#[cfg(unix)]
fn mode_of(path: &Path) -> std::io::Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o7777)
}

/// Without Unix permissions there is nothing to check.
#[cfg(not(unix))]
fn mode_of(_path: &Path) -> std::io::Result<u32> {
    Ok(0o600)
}

/// Collects the lines of the report and counts warnings and errors.
struct Report<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    warnings: usize,
    errors: usize,
}

impl Report<'_> {
    fn ok(&mut self, line: impl std::fmt::Display) {
        let _ = writeln!(self.out, "ok: {line}");
    }

    fn warning(&mut self, line: impl std::fmt::Display) {
        self.warnings += 1;
        let _ = writeln!(self.out, "warning: {line}");
    }

    fn error(&mut self, line: impl std::fmt::Display) {
        self.errors += 1;
        let _ = self.out.flush();
        let _ = writeln!(self.err, "error: {line}");
    }
}

/// Runs the whole check on the config at `path`, printing the report on stdout (errors on
/// stderr). Exit code 0 when the configuration is fit to serve (warnings allowed), 1 otherwise.
pub async fn run(path: &Path) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let mut report = Report {
        out: &mut stdout,
        err: &mut stderr,
        warnings: 0,
        errors: 0,
    };
    check(path, &mut report).await;
    let _ = report.out.flush();
    if report.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The checks, in order; stops early only when nothing further can be learned.
async fn check(path: &Path, report: &mut Report<'_>) {
    let (config, sources) = match Config::load_with_sources(path) {
        Ok(loaded) => loaded,
        Err(err) => return report.error(CheckError::from(err)),
    };
    report.ok(format_args!(
        "config {} is valid: {} DNS address(es), {} key(s), state in {}",
        path.display(),
        config.server.listen.len(),
        config.keys.len(),
        config.state.dir.display()
    ));
    check_secret_permissions(&config.path, &sources, report);
    if config.keys.is_empty() {
        report.warning(
            "no [[key]] configured: every UPDATE will be refused (add one made by \
             `csc-rfc2136 keygen NAME`)",
        );
    }
    for key in config.keys.iter().filter(|k| k.delete_foreign) {
        report.warning(format_args!(
            "key {} has delete_foreign = true: its RRset deletes also remove TXT values the \
             gateway did not create (SPF, site verification)",
            key.name
        ));
    }
    let zones = match list_zones(&config).await {
        Ok(zones) => zones,
        Err(err) => return report.error(err),
    };
    report.ok(format_args!(
        "CSC at {} accepted the credentials and serves {} zone(s)",
        config.csc.base_url,
        zones.len()
    ));
    report_zones(&config.keys, &zones, report);
    if report.errors == 0 {
        let warnings = report.warnings;
        report.ok(format_args!("ready to serve ({warnings} warning(s))"));
    }
}

/// Refuses inline secrets in a world-readable config; warns about readable secret files.
fn check_secret_permissions(config: &Path, sources: &SecretSources, report: &mut Report<'_>) {
    if !sources.inline.is_empty() {
        match mode_of(config).map(|mode| (mode, Exposure::of_mode(mode))) {
            Ok((mode, Exposure::World)) => report.error(CheckError::WorldReadableSecrets {
                path: config.to_owned(),
                mode,
                keys: sources.inline.clone(),
            }),
            Ok((mode, Exposure::Group)) => report.warning(format_args!(
                "config file {} is readable by its group (mode {mode:04o}) and holds secrets \
                 inline ({}): make sure only the gateway's user is in that group, or run \
                 `chmod 600 {}`",
                config.display(),
                sources.inline.join(", "),
                config.display()
            )),
            Ok((_, Exposure::Private)) => report.ok(format_args!(
                "config file {} holds secrets inline and is readable by its owner only",
                config.display()
            )),
            Err(err) => report.warning(format_args!(
                "cannot read the permissions of {}: {err}",
                config.display()
            )),
        }
    }
    for (key, file) in &sources.files {
        match mode_of(file).map(|mode| (mode, Exposure::of_mode(mode))) {
            Ok((_, Exposure::Private)) => report.ok(format_args!(
                "secret file {} ({key}) is readable by its owner only",
                file.display()
            )),
            Ok((mode, exposure)) => report.warning(format_args!(
                "secret file {} ({key}) is readable by {} (mode {mode:04o}): run `chmod 600 {}`",
                file.display(),
                exposure.who(),
                file.display()
            )),
            Err(err) => report.warning(format_args!(
                "cannot read the permissions of secret file {} ({key}): {err}",
                file.display()
            )),
        }
    }
}

/// The names of the zones CSC serves for these credentials, normalized.
async fn list_zones(config: &Config) -> Result<BTreeSet<String>, CheckError> {
    let fail = |source| CheckError::Csc {
        base_url: config.csc.base_url.to_string(),
        source,
    };
    let mut options = crate::serve::client_options(config);
    options.max_retries = CHECK_RETRIES;
    options.timeout = options.timeout.min(CHECK_TIMEOUT);
    options.connect_timeout = options.connect_timeout.min(options.timeout);
    let client = CscClient::new(options).map_err(fail)?;
    let zones = client.list_zones().await.map_err(fail)?;
    Ok(zones
        .iter()
        .map(|zone| names::normalize(&zone.zone_name))
        .collect())
}

/// One line per zone and key that may change it; a warning per granted zone CSC does not serve.
fn report_zones(keys: &[KeyConfig], zones: &BTreeSet<String>, report: &mut Report<'_>) {
    if zones.is_empty() {
        report.warning(
            "CSC serves no zone for these credentials: every UPDATE will be refused (check \
             that the API key's account manages the zones)",
        );
    }
    for zone in zones {
        let allowed: Vec<&KeyConfig> = keys
            .iter()
            .filter(|key| key.zones.as_ref().is_none_or(|z| z.contains(zone)))
            .collect();
        if allowed.is_empty() {
            report.ok(format_args!("zone {zone}: no key may change it"));
        }
        for key in allowed {
            report.ok(format_args!("zone {zone}: {}", describe_grant(key)));
        }
    }
    for (index, key) in keys.iter().enumerate() {
        for zone in key.zones.iter().flatten() {
            if !zones.contains(zone) {
                report.warning(format_args!(
                    "key {} (key[{index}].zones) is granted zone {zone}, which CSC does not \
                     serve for these credentials: its UPDATEs there will be refused; fix the \
                     name or remove it",
                    key.name
                ));
            }
        }
    }
}

/// `key acme-client. (hmac-sha256) may change TXT at _acme-challenge.*`.
fn describe_grant(key: &KeyConfig) -> String {
    let names: Vec<String> = key.names.iter().map(ToString::to_string).collect();
    format!(
        "key {} ({}) may change {} at {}",
        key.name,
        key.algorithm,
        key.types.join(", "),
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_classified_by_who_may_read() {
        assert_eq!(Exposure::of_mode(0o600), Exposure::Private);
        assert_eq!(Exposure::of_mode(0o400), Exposure::Private);
        assert_eq!(Exposure::of_mode(0o640), Exposure::Group);
        assert_eq!(Exposure::of_mode(0o440), Exposure::Group);
        assert_eq!(Exposure::of_mode(0o644), Exposure::World);
        assert_eq!(Exposure::of_mode(0o604), Exposure::World);
    }

    #[test]
    fn the_refusal_names_keys_and_the_fix_but_no_value() {
        let err = CheckError::WorldReadableSecrets {
            path: PathBuf::from("/etc/gw.toml"),
            mode: 0o644,
            keys: vec!["csc.api_key".into(), "key[0].secret".into()],
        };
        let text = err.to_string();
        assert!(text.contains("/etc/gw.toml"), "{text}");
        assert!(text.contains("0644"), "{text}");
        assert!(text.contains("csc.api_key, key[0].secret"), "{text}");
        assert!(text.contains("chmod 600 /etc/gw.toml"), "{text}");
    }

    fn config(text: &str) -> Config {
        Config::parse(Path::new("/etc/gw.toml"), text, |_| None).unwrap()
    }

    #[test]
    fn zones_list_their_keys_and_unknown_grants_are_warned() {
        let config = config(
            "[server]\nlisten = [\"127.0.0.1:53\"]\n[csc]\napi_key = \"k\"\nbearer_token = \"t\"\n\
             [[key]]\nname = \"all.\"\nalgorithm = \"hmac-sha256\"\nsecret = \"c2VjcmV0\"\n\
             [[key]]\nname = \"a.\"\nalgorithm = \"hmac-sha1\"\nsecret = \"c2VjcmV0\"\n\
             zones = [\"a.test\", \"gone.test\"]\nnames = [\"_acme-challenge.www\"]\n",
        );
        let zones: BTreeSet<String> = ["a.test".to_owned(), "b.test".to_owned()].into();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut report = Report {
            out: &mut out,
            err: &mut err,
            warnings: 0,
            errors: 0,
        };
        report_zones(&config.keys, &zones, &mut report);
        assert_eq!((report.warnings, report.errors), (1, 0));
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "ok: zone a.test: key all. (hmac-sha256) may change TXT at _acme-challenge.*",
                "ok: zone a.test: key a. (hmac-sha1) may change TXT at _acme-challenge.www",
                "ok: zone b.test: key all. (hmac-sha256) may change TXT at _acme-challenge.*",
                "warning: key a. (key[1].zones) is granted zone gone.test, which CSC does not \
                 serve for these credentials: its UPDATEs there will be refused; fix the name or \
                 remove it",
            ]
        );
    }
}
