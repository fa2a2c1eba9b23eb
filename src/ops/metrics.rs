//! The gateway's Prometheus metrics: names, labels, buckets, and one small function per event so
//! call sites stay one line and label sets stay consistent.
//!
//! Labels are kept low in cardinality: CSC endpoints are reduced to their route
//! (`GET /zones/{zone}`), never a raw path with ids.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// UPDATE messages answered, by `rcode`, `key` and `zone`.
pub const UPDATES: &str = "csc_rfc2136_dns_updates_total";
/// Queries answered, by `rcode`.
pub const QUERIES: &str = "csc_rfc2136_dns_queries_total";
/// Requests refused by the TSIG check, by `kind` (BADSIG, BADKEY, BADTIME, …).
pub const TSIG_FAILURES: &str = "csc_rfc2136_tsig_failures_total";
/// Calls to CSC, by `endpoint` (route) and `status` (HTTP status, or `transport`).
pub const CSC_REQUESTS: &str = "csc_rfc2136_csc_requests_total";
/// Latency of calls to CSC, by `endpoint`.
pub const CSC_LATENCY: &str = "csc_rfc2136_csc_request_duration_seconds";
/// `OPEN_ZONE_EDITS` answers: times a submit found the zone locked, by `zone`.
pub const LOCK_WAITS: &str = "csc_rfc2136_open_zone_edits_total";
/// Time spent waiting for another edit to release a zone's lock.
pub const LOCK_WAIT_SECONDS: &str = "csc_rfc2136_open_zone_edit_wait_seconds";
/// Edit lifecycle durations from submit, by `phase` (`propagating`, `completed`).
pub const EDIT_LIFECYCLE: &str = "csc_rfc2136_edit_lifecycle_seconds";
/// Edits submitted, by `zone` and `outcome` (accepted, failed, refused).
pub const EDITS: &str = "csc_rfc2136_csc_edits_total";
/// Changes accepted but not yet live at CSC, by `zone`.
pub const PENDING: &str = "csc_rfc2136_pending_changes";
/// Journal commit latency (one fsync shared by every caller of a group).
pub const JOURNAL_COMMIT: &str = "csc_rfc2136_journal_commit_seconds";
/// Values purged because nobody deleted them within `orphan_ttl`.
pub const ORPHANS_PURGED: &str = "csc_rfc2136_orphans_purged_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder once per process and returns its handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let fast = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            ];
            let slow = [
                1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(JOURNAL_COMMIT.into()), &fast)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(CSC_LATENCY.into()),
                        &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(LOCK_WAIT_SECONDS.into()), &slow)
                })
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(EDIT_LIFECYCLE.into()), &slow))
                .expect("bucket lists are not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
            describe();
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(UPDATES, "UPDATE messages answered, by rcode, key and zone");
    describe_counter!(QUERIES, "DNS queries answered, by rcode");
    describe_counter!(TSIG_FAILURES, "Requests refused by the TSIG check, by kind");
    describe_counter!(CSC_REQUESTS, "Calls to CSC, by route and HTTP status");
    describe_histogram!(
        CSC_LATENCY,
        Unit::Seconds,
        "Latency of calls to CSC, by route"
    );
    describe_counter!(
        LOCK_WAITS,
        "OPEN_ZONE_EDITS answers: the zone was locked by another edit"
    );
    describe_histogram!(
        LOCK_WAIT_SECONDS,
        Unit::Seconds,
        "Time waiting for another edit to release the zone lock"
    );
    describe_histogram!(
        EDIT_LIFECYCLE,
        Unit::Seconds,
        "Time from submit to PROPAGATING and to COMPLETED"
    );
    describe_counter!(EDITS, "CSC edits submitted, by zone and outcome");
    describe_gauge!(PENDING, "Changes accepted and not yet live at CSC, by zone");
    describe_histogram!(
        JOURNAL_COMMIT,
        Unit::Seconds,
        "Journal commit (fsync) latency"
    );
    describe_counter!(ORPHANS_PURGED, "Values purged after orphan_ttl");
}

/// An UPDATE was answered.
pub fn update(rcode: &str, key: &str, zone: &str) {
    counter!(UPDATES, "rcode" => rcode.to_owned(), "key" => key.to_owned(), "zone" => zone.to_owned()).increment(1);
}

/// A query was answered.
pub fn query(rcode: &str) {
    counter!(QUERIES, "rcode" => rcode.to_owned()).increment(1);
}

/// A request failed the TSIG check.
pub fn tsig_failure(kind: &'static str) {
    counter!(TSIG_FAILURES, "kind" => kind).increment(1);
}

/// A CSC call ended with `status` (an HTTP status, or `None` without an answer).
pub fn csc_call(endpoint: &str, status: Option<u16>, elapsed: Duration) {
    let route = route(endpoint);
    let status = status.map_or_else(|| "transport".to_owned(), |s| s.to_string());
    counter!(CSC_REQUESTS, "endpoint" => route.clone(), "status" => status).increment(1);
    histogram!(CSC_LATENCY, "endpoint" => route).record(elapsed.as_secs_f64());
}

/// A submit found the zone locked by another edit.
pub fn lock_wait_started(zone: &str) {
    counter!(LOCK_WAITS, "zone" => zone.to_owned()).increment(1);
}

/// The wait for a blocking edit ended.
pub fn lock_wait_ended(elapsed: Duration) {
    histogram!(LOCK_WAIT_SECONDS).record(elapsed.as_secs_f64());
}

/// An own edit reached `phase` (`propagating` or `completed`) `elapsed` after its submit.
pub fn edit_phase(phase: &'static str, elapsed: Duration) {
    histogram!(EDIT_LIFECYCLE, "phase" => phase).record(elapsed.as_secs_f64());
}

/// An edit was submitted with `outcome` (`accepted`, `failed`, `refused`).
pub fn edit(zone: &str, outcome: &'static str) {
    counter!(EDITS, "zone" => zone.to_owned(), "outcome" => outcome).increment(1);
}

/// The number of changes of `zone` not yet live.
pub fn pending(zone: &str, count: usize) {
    gauge!(PENDING, "zone" => zone.to_owned()).set(count as f64);
}

/// A journal commit took `elapsed`.
pub fn journal_commit(elapsed: Duration) {
    histogram!(JOURNAL_COMMIT).record(elapsed.as_secs_f64());
}

/// `count` orphaned values were queued for purging.
pub fn orphans_purged(count: usize) {
    counter!(ORPHANS_PURGED).increment(count as u64);
}

/// The route of a CSC endpoint (`GET /zones/edits/status/9e13…` → `GET /zones/edits/status/{id}`).
pub fn route(endpoint: &str) -> String {
    let (method, path) = endpoint.split_once(' ').unwrap_or(("", endpoint));
    let path = path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let template = match segments.as_slice() {
        ["zones"] => "/zones",
        ["zones", "edits"] => "/zones/edits",
        ["zones", "edits", "status", _] => "/zones/edits/status/{id}",
        ["zones", "edits", _] => "/zones/edits/{id}",
        ["zones", _] => "/zones/{zone}",
        ["token", "refresh"] => "/token/refresh",
        _ => "other",
    };
    format!("{method} {template}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_hide_ids_and_names() {
        assert_eq!(route("GET /zones?page=2"), "GET /zones");
        assert_eq!(route("GET /zones/example.com"), "GET /zones/{zone}");
        assert_eq!(route("POST /zones/edits"), "POST /zones/edits");
        assert_eq!(
            route("GET /zones/edits/status/9e13"),
            "GET /zones/edits/status/{id}"
        );
        assert_eq!(
            route("DELETE /zones/edits/9e13"),
            "DELETE /zones/edits/{id}"
        );
        assert_eq!(route("GET /elsewhere/x"), "GET other");
    }
}
