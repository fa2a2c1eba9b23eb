//! `csc-rfc2136 status --config FILE`: pending changes and in-flight CSC edits per zone.
//!
//! While `serve` runs, redb locks its journal, so the view comes from the running gateway's
//! HTTP endpoint (`GET http://<server.http>/status`) when one is configured; otherwise, or when
//! it does not answer, from the journal itself, opened directly. Either way the view is per zone:
//! changes waiting (pending), changes carried by a CSC edit (in flight), the edit's id, and when
//! the oldest change was accepted. Each edit's status is then read from CSC; a CSC failure shows
//! as `status unknown: <reason>` and does not fail the command.
//!
//! Exit code: 0, or 1 when the view cannot be had or the running gateway reports itself not
//! ready (so `status` can serve as a container health check).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{Config, ConfigError};
use crate::csc::CscClient;
use crate::engine::change::{Change, now_ms};
use crate::engine::redb_store::{FILE_NAME, RedbStore};
use crate::engine::store::{Store, StoreError};

/// How long the gateway's HTTP endpoint may take to answer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for one CSC status call (a health check must not hang on CSC).
const CSC_TIMEOUT: Duration = Duration::from_secs(10);

/// Why no view of the pending work could be had.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The file is unreadable or invalid.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// `serve` holds the journal and there is no HTTP endpoint to ask instead.
    #[error(
        "the journal {journal} is locked by a running `csc-rfc2136 serve`, and this config has \
         no `server.http` through which status could ask it: set `http = \"127.0.0.1:9153\"` \
         under [server] in {config} and restart serve (status then reads \
         http://127.0.0.1:9153/status)",
        journal = journal.display(),
        config = config.display()
    )]
    JournalLocked {
        /// The journal file.
        journal: PathBuf,
        /// The config file.
        config: PathBuf,
    },
    /// `serve` holds the journal but its HTTP endpoint did not answer.
    #[error(
        "the journal {journal} is locked by a running `csc-rfc2136 serve`, but its HTTP \
         endpoint {url} did not answer ({reason}): check that serve is healthy and that \
         server.http is reachable from here",
        journal = journal.display()
    )]
    GatewayUnreachable {
        /// The journal file.
        journal: PathBuf,
        /// The status URL tried.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// The journal could not be read.
    #[error("{0}")]
    Journal(#[from] StoreError),
}

pub use crate::engine::ZoneWork;

/// The JSON the running gateway serves at `/status`.
#[derive(Debug, Clone, Deserialize)]
struct GatewayStatus {
    ready: bool,
    not_ready_reason: Option<String>,
    owned_values: usize,
    zones: Vec<ZoneWork>,
}

/// Where the view came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// The running gateway's `/status`.
    Gateway {
        /// The URL read.
        url: String,
        /// Whether the gateway is ready (zones loaded, credentials accepted, journal writable).
        ready: bool,
        /// Why not, when it is not.
        not_ready_reason: Option<String>,
    },
    /// The journal file, read directly (no gateway running, or none reachable over HTTP).
    Journal {
        /// The journal file.
        path: PathBuf,
        /// Whether the file exists (a gateway that never ran has none).
        exists: bool,
        /// Why the gateway's HTTP endpoint was not used, when one is configured.
        http_unavailable: Option<String>,
    },
}

/// What CSC says of one edit. In JSON: `{"result": "known", "status", "error_description"}` or
/// `{"result": "unknown", "reason"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CscEditStatus {
    /// CSC's status, e.g. `PROPAGATING`, with its error description when it has one.
    Known {
        /// The lifecycle state as CSC spells it.
        status: String,
        /// CSC's `errorDescription` (for FAILED edits), empty otherwise.
        error_description: String,
    },
    /// CSC could not be asked, or answered an error.
    Unknown {
        /// The error's message (never a secret).
        reason: String,
    },
}

impl std::fmt::Display for CscEditStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CscEditStatus::Known {
                status,
                error_description,
            } if error_description.is_empty() => f.write_str(status),
            CscEditStatus::Known {
                status,
                error_description,
            } => write!(f, "{status} ({error_description})"),
            CscEditStatus::Unknown { reason } => write!(f, "status unknown: {reason}"),
        }
    }
}

/// One row of the report: a zone's work and, when it has an edit, CSC's word on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The zone's work.
    #[serde(flatten)]
    pub work: ZoneWork,
    /// Age of the oldest change in milliseconds, at the time of the report.
    pub age_ms: Option<u64>,
    /// CSC's status of `work.edit_id`, when there is one.
    pub csc_status: Option<CscEditStatus>,
}

/// The whole report, as `--json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Where the view came from.
    pub source: Source,
    /// How many values the gateway created at CSC and still owns.
    pub owned_values: usize,
    /// One row per zone (and per edit, should a zone have several) with work.
    pub zones: Vec<Row>,
}

impl Report {
    /// Whether the gateway reported itself not ready.
    pub fn not_ready(&self) -> bool {
        matches!(self.source, Source::Gateway { ready: false, .. })
    }
}

/// Runs `status` for the config at `path`; prints a table (or JSON with `json`) on stdout.
pub async fn run(path: &Path, json: bool) -> ExitCode {
    match report(path).await {
        Ok(report) => {
            let text = if json {
                let mut text = serde_json::to_string_pretty(&report)
                    .expect("the status report always serializes");
                text.push('\n');
                text
            } else {
                render(&report)
            };
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(text.as_bytes());
            let _ = stdout.flush();
            if report.not_ready() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the report: the view from the gateway or the journal, then each edit's CSC status.
pub async fn report(path: &Path) -> Result<Report, StatusError> {
    let config = Config::load(path)?;
    let (source, owned_values, work) = view(&config).await?;
    let client = status_client(&config);
    let now = now_ms();
    let mut zones = Vec::with_capacity(work.len());
    for work in work {
        let csc_status = match (&work.edit_id, &client) {
            (None, _) => None,
            (Some(id), Ok(client)) => Some(match client.edit_status(id).await {
                Ok(content) => CscEditStatus::Known {
                    status: status_name(content.status),
                    error_description: content.error_description,
                },
                Err(err) => CscEditStatus::Unknown {
                    reason: err.to_string(),
                },
            }),
            (Some(_), Err(reason)) => Some(CscEditStatus::Unknown {
                reason: reason.clone(),
            }),
        };
        zones.push(Row {
            age_ms: work.oldest_accepted_ms.map(|ms| now.saturating_sub(ms)),
            work,
            csc_status,
        });
    }
    Ok(Report {
        source,
        owned_values,
        zones,
    })
}

/// A CSC client for the status calls: short timeout, no retry (a failure is shown as such).
fn status_client(config: &Config) -> Result<CscClient, String> {
    let mut options = crate::serve::client_options(config);
    options.max_retries = 0;
    options.timeout = options.timeout.min(CSC_TIMEOUT);
    options.connect_timeout = options.connect_timeout.min(options.timeout);
    CscClient::new(options).map_err(|err| err.to_string())
}

/// An edit status as CSC spells it (`PROPAGATING`).
fn status_name(status: crate::csc::model::EditStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{status:?}").to_ascii_uppercase())
}

/// The per-zone view: from the gateway's `/status` if it answers, else from the journal.
async fn view(config: &Config) -> Result<(Source, usize, Vec<ZoneWork>), StatusError> {
    let mut http_unavailable = None;
    if let Some(addr) = config.server.http {
        let url = status_url(addr);
        match fetch(&url).await {
            Ok(status) => {
                return Ok((
                    Source::Gateway {
                        url,
                        ready: status.ready,
                        not_ready_reason: status.not_ready_reason,
                    },
                    status.owned_values,
                    status.zones,
                ));
            }
            Err(reason) => http_unavailable = Some((url, reason)),
        }
    }
    let journal = config.state.dir.join(FILE_NAME);
    let source = |exists| Source::Journal {
        path: journal.clone(),
        exists,
        http_unavailable: http_unavailable
            .as_ref()
            .map(|(url, reason)| format!("{url}: {reason}")),
    };
    if !journal.exists() {
        // Opening would create it (and the state folder): a gateway that never ran has no work.
        return Ok((source(false), 0, Vec::new()));
    }
    let store = match RedbStore::open(&config.state.dir) {
        Ok(store) => store,
        Err(err) if is_locked(&journal) => {
            tracing::debug!(error = %err, "the journal is locked by another process");
            return Err(match http_unavailable {
                None => StatusError::JournalLocked {
                    journal,
                    config: config.path.clone(),
                },
                Some((url, reason)) => StatusError::GatewayUnreachable {
                    journal,
                    url,
                    reason,
                },
            });
        }
        Err(err) => return Err(err.into()),
    };
    let snapshot = store.load()?;
    Ok((
        source(true),
        snapshot.ledger.len(),
        work_from_changes(&snapshot.changes),
    ))
}

/// Whether another process (a running `serve`) holds redb's lock on `journal`.
fn is_locked(journal: &Path) -> bool {
    matches!(
        redb::Database::open(journal),
        Err(redb::DatabaseError::DatabaseAlreadyOpen)
    )
}

/// `http://<addr>/status`, asking loopback when the gateway listens on every address.
fn status_url(mut addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{addr}/status")
}

/// Reads the gateway's `/status`; the error is a short reason for people.
async fn fetch(url: &str) -> Result<GatewayStatus, String> {
    // reqwest is built without a bundled TLS provider; plain HTTP still needs one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(HTTP_TIMEOUT)
        .build()
        .map_err(|err| format!("cannot set up an HTTP client: {err}"))?;
    let response = client.get(url).send().await.map_err(|err| {
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(inner) = source {
            text = inner.to_string();
            source = inner.source();
        }
        text
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    let body = response
        .text()
        .await
        .map_err(|err| format!("reading the answer: {err}"))?;
    serde_json::from_str(&body).map_err(|err| format!("unexpected answer ({err})"))
}

/// The per-zone view of journaled changes: a change with an edit id is in flight, one without
/// is pending. A zone normally has one edit at a time; should it have several (after a crash),
/// each gets its own row, the pending count on the first.
pub fn work_from_changes(changes: &[Change]) -> Vec<ZoneWork> {
    let mut by_zone: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
    for change in changes {
        by_zone.entry(&change.zone).or_default().push(change);
    }
    let oldest = |changes: &[&Change]| changes.iter().map(|c| c.accepted_at_ms).min();
    let mut rows = Vec::new();
    for (zone, changes) in by_zone {
        let pending: Vec<&Change> = changes
            .iter()
            .copied()
            .filter(|c| c.edit_id.is_none())
            .collect();
        let mut edits: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
        for change in &changes {
            if let Some(id) = &change.edit_id {
                edits.entry(id).or_default().push(change);
            }
        }
        if edits.is_empty() {
            rows.push(ZoneWork {
                zone: zone.to_owned(),
                pending: pending.len(),
                in_flight: 0,
                edit_id: None,
                oldest_accepted_ms: oldest(&pending),
            });
            continue;
        }
        for (index, (id, mut carried)) in edits.into_iter().enumerate() {
            let in_flight = carried.len();
            let waiting = if index == 0 {
                carried.extend(pending.iter().copied());
                pending.len()
            } else {
                0
            };
            rows.push(ZoneWork {
                zone: zone.to_owned(),
                pending: waiting,
                in_flight,
                edit_id: Some(id.to_owned()),
                oldest_accepted_ms: oldest(&carried),
            });
        }
    }
    rows
}

/// `2m 5s`: whole seconds, humanized.
pub fn humanize_ms(ms: u64) -> String {
    humantime::format_duration(Duration::from_secs(ms / 1000)).to_string()
}

/// The report as a table for people.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    match &report.source {
        Source::Gateway {
            url, ready: true, ..
        } => out.push_str(&format!("gateway: ready ({url})\n")),
        Source::Gateway {
            url,
            ready: false,
            not_ready_reason,
        } => out.push_str(&format!(
            "gateway: NOT READY ({url}): {}\n",
            not_ready_reason.as_deref().unwrap_or("no reason given")
        )),
        Source::Journal {
            path,
            exists,
            http_unavailable,
        } => {
            if let Some(reason) = http_unavailable {
                out.push_str(&format!("gateway: not answering ({reason})\n"));
            }
            if *exists {
                out.push_str(&format!(
                    "journal: {} (read directly: no gateway is running on it)\n",
                    path.display()
                ));
            } else {
                out.push_str(&format!(
                    "journal: {} does not exist yet (the gateway has not run here)\n",
                    path.display()
                ));
            }
        }
    }
    out.push_str(&format!(
        "owned values: {} (TXT values the gateway created at CSC)\n",
        report.owned_values
    ));
    if report.zones.is_empty() {
        out.push_str("no pending changes\n");
        return out;
    }
    let header = [
        "ZONE",
        "PENDING",
        "IN FLIGHT",
        "EDIT ID",
        "CSC STATUS",
        "OLDEST",
    ]
    .map(str::to_owned);
    let rows: Vec<[String; 6]> = report
        .zones
        .iter()
        .map(|row| {
            [
                row.work.zone.clone(),
                row.work.pending.to_string(),
                row.work.in_flight.to_string(),
                row.work.edit_id.clone().unwrap_or_else(|| "-".to_owned()),
                row.csc_status
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), ToString::to_string),
                row.age_ms.map_or_else(|| "-".to_owned(), humanize_ms),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for line in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = line
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::change::Op;

    fn change(id: u64, zone: &str, edit: Option<&str>, at: u64) -> Change {
        Change {
            id,
            zone: zone.into(),
            ops: vec![Op::Add {
                name: format!("_acme-challenge.{zone}"),
                value: format!("v{id}"),
            }],
            origin: "k.".into(),
            accepted_at_ms: at,
            failed_attempts: 0,
            edit_id: edit.map(str::to_owned),
        }
    }

    #[test]
    fn changes_with_an_edit_are_in_flight_the_rest_pending() {
        let rows = work_from_changes(&[
            change(1, "b.test", None, 50),
            change(2, "a.test", Some("e1"), 10),
            change(3, "a.test", None, 30),
            change(4, "a.test", Some("e1"), 5),
            change(5, "b.test", None, 40),
        ]);
        assert_eq!(
            rows,
            [
                ZoneWork {
                    zone: "a.test".into(),
                    pending: 1,
                    in_flight: 2,
                    edit_id: Some("e1".into()),
                    oldest_accepted_ms: Some(5),
                },
                ZoneWork {
                    zone: "b.test".into(),
                    pending: 2,
                    in_flight: 0,
                    edit_id: None,
                    oldest_accepted_ms: Some(40),
                },
            ]
        );
        assert!(work_from_changes(&[]).is_empty());
    }

    #[test]
    fn several_edits_of_one_zone_get_a_row_each() {
        let rows = work_from_changes(&[
            change(1, "a.test", Some("e2"), 10),
            change(2, "a.test", Some("e1"), 20),
            change(3, "a.test", None, 5),
        ]);
        let view: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.edit_id.as_deref(),
                    r.pending,
                    r.in_flight,
                    r.oldest_accepted_ms,
                )
            })
            .collect();
        assert_eq!(
            view,
            [(Some("e1"), 1, 1, Some(5)), (Some("e2"), 0, 1, Some(10))]
        );
    }

    #[test]
    fn ages_read_as_minutes_and_seconds() {
        assert_eq!(humanize_ms(125_400), "2m 5s");
        assert_eq!(humanize_ms(999), "0s");
        assert_eq!(humanize_ms(3_600_000 + 1000), "1h 1s");
    }

    #[test]
    fn unspecified_http_addresses_are_asked_on_loopback() {
        assert_eq!(
            status_url("0.0.0.0:9153".parse().unwrap()),
            "http://127.0.0.1:9153/status"
        );
        assert_eq!(
            status_url("[::]:9153".parse().unwrap()),
            "http://[::1]:9153/status"
        );
        assert_eq!(
            status_url("10.0.0.5:9153".parse().unwrap()),
            "http://10.0.0.5:9153/status"
        );
    }

    #[test]
    fn the_table_lines_up_and_says_when_there_is_nothing() {
        let mut report = Report {
            source: Source::Gateway {
                url: "http://127.0.0.1:9153/status".into(),
                ready: true,
                not_ready_reason: None,
            },
            owned_values: 2,
            zones: Vec::new(),
        };
        let text = render(&report);
        assert!(text.contains("gateway: ready"), "{text}");
        assert!(text.ends_with("no pending changes\n"), "{text}");
        report.zones.push(Row {
            work: ZoneWork {
                zone: "example.com".into(),
                pending: 1,
                in_flight: 2,
                edit_id: Some("e1".into()),
                oldest_accepted_ms: Some(1),
            },
            age_ms: Some(125_000),
            csc_status: Some(CscEditStatus::Known {
                status: "PROPAGATING".into(),
                error_description: String::new(),
            }),
        });
        let text = render(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[2..],
            [
                "ZONE         PENDING  IN FLIGHT  EDIT ID  CSC STATUS   OLDEST",
                "example.com  1        2          e1       PROPAGATING  2m 5s",
            ]
        );
    }
}
