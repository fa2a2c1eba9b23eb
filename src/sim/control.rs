//! Test-control endpoints under `/sim/` (no auth, no faults, not in the call log).
//!
//! - `GET /sim/calls` → `[CallEntry…]`, oldest first:
//!   `{"seq":1,"time":"2025-…Z","method":"POST","path":"/dbs/api/v2/zones/edits",
//!     "status":201,"requestBody":{…}|"text"|null,"responseBody":{…}|"text"|null,"durationMs":3}`
//! - `GET /sim/records` → the published records per zone, each zone in the shape of
//!   `GET /zones/{zone}`: `{"example.com":{"zoneName":"example.com","txt":[{"id","key","value",
//!   "ttl","status"}…],"ns":[…],"soa":{…},…}}`
//! - `GET /sim/edits` → every edit, newest first, in the shape of `GET /zones/edits/{id}` plus
//!   `createdDate` and `errorDescription`.
//! - `POST /sim/reset` → clears the call log (zones and edits stay); answers `{"cleared":N}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use super::calllog::CallLog;
use super::error::json_response;
use super::state::SimState;

/// What the control endpoints read.
#[derive(Debug, Clone)]
pub struct Control {
    /// The simulated world.
    pub state: Arc<SimState>,
    /// The API call log.
    pub calls: Arc<CallLog>,
}

/// The `/sim/*` router.
pub fn router(control: Control) -> Router {
    Router::new()
        .route("/sim/calls", get(calls))
        .route("/sim/records", get(records))
        .route("/sim/edits", get(edits))
        .route("/sim/reset", post(reset))
        .with_state(control)
}

async fn calls(State(control): State<Control>) -> Response {
    json_response(StatusCode::OK, &control.calls.entries())
}

async fn records(State(control): State<Control>) -> Response {
    let zones: BTreeMap<String, _> = control
        .state
        .zones()
        .into_iter()
        .map(|zone| (zone.zone_name.clone(), zone))
        .collect();
    json_response(StatusCode::OK, &zones)
}

async fn edits(State(control): State<Control>) -> Response {
    json_response(StatusCode::OK, &control.state.edits())
}

async fn reset(State(control): State<Control>) -> Response {
    let cleared = control.calls.entries().len();
    control.calls.clear();
    json_response(StatusCode::OK, &serde_json::json!({ "cleared": cleared }))
}
