//! The operator's HTTP endpoint (`server.http`): `/metrics` for Prometheus, `/healthz` (the
//! process answers), `/readyz` (zones loaded, CSC accepts the credentials, the journal writes),
//! and `/status` (pending and in-flight work per zone, read by `csc-rfc2136 status`).

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;

use crate::engine::{Engine, ZoneWork};

#[derive(Clone)]
struct AppState {
    engine: Engine,
    metrics: PrometheusHandle,
}

/// What `/status` answers.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub ready: bool,
    pub not_ready_reason: Option<String>,
    pub owned_values: usize,
    pub zones: Vec<ZoneWork>,
}

/// Binds `addr` and serves the endpoint in the background; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    engine: Engine,
    metrics: PrometheusHandle,
) -> std::io::Result<SocketAddr> {
    let app = Router::new()
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/status", get(status))
        .with_state(AppState { engine, metrics });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(error = %err, "the HTTP endpoint stopped");
        }
    });
    tracing::info!(addr = %local, "HTTP endpoint: /metrics /healthz /readyz /status");
    Ok(local)
}

async fn render_metrics(State(state): State<AppState>) -> Response {
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// Why the gateway is not ready, if it is not.
pub fn not_ready(engine: &Engine) -> Option<String> {
    if let Some(reason) = engine.not_ready_reason() {
        return Some(reason);
    }
    if !engine.journal_healthy() {
        return Some("the journal cannot be written (see the log)".into());
    }
    if engine.zone_names().is_empty() {
        return Some("no zone list from CSC yet".into());
    }
    None
}

async fn readyz(State(state): State<AppState>) -> Response {
    match not_ready(&state.engine) {
        None => (StatusCode::OK, "ready\n").into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        )
            .into_response(),
    }
}

async fn status(State(state): State<AppState>) -> Json<StatusReport> {
    let reason = not_ready(&state.engine);
    Json(StatusReport {
        ready: reason.is_none(),
        not_ready_reason: reason,
        owned_values: state.engine.owned_values(),
        zones: state.engine.work(),
    })
}
