//! The audit trail: one structured event per UPDATE and per CSC edit, refusals included.
//!
//! Events go through `tracing` with the target `audit`, so collectors can route them
//! (`--log-format json` gives one JSON object per line) and `RUST_LOG=audit=info` keeps only
//! them. They name keys, never secrets.

use std::net::SocketAddr;
use std::time::Duration;

/// One UPDATE, as answered.
pub struct UpdateEvent<'a> {
    pub src: SocketAddr,
    pub transport: &'static str,
    pub key: &'a str,
    pub zone: &'a str,
    /// The operations, rendered for people (`add _acme-challenge.example.com "…"`).
    pub operations: &'a [String],
    /// `NOERROR`, or the refusal's rcode.
    pub outcome: &'a str,
    /// Why it was refused, when it was.
    pub reason: Option<&'a str>,
    pub latency: Duration,
}

/// Records an UPDATE.
pub fn update(event: &UpdateEvent<'_>) {
    tracing::info!(
        target: "audit",
        event = "update",
        src = %event.src,
        transport = event.transport,
        key = event.key,
        zone = event.zone,
        operations = ?event.operations,
        outcome = event.outcome,
        reason = event.reason.unwrap_or(""),
        latency_ms = event.latency.as_secs_f64() * 1000.0,
    );
}

/// Records the outcome of a CSC edit of the gateway's: `submitted` (with its id), `live`,
/// `failed`, `refused`, `cancelled`.
pub fn edit(
    zone: &str,
    edit_id: Option<&str>,
    outcome: &str,
    changes: &[u64],
    items: usize,
    latency: Duration,
) {
    tracing::info!(
        target: "audit",
        event = "csc_edit",
        zone,
        edit_id = edit_id.unwrap_or(""),
        outcome,
        changes = ?changes,
        items,
        latency_ms = latency.as_secs_f64() * 1000.0,
    );
}
