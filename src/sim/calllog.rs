//! The log of every API call the simulator answered, for tests to count and inspect.
//!
//! The middleware [`record`] wraps the API routes (outside the fault and auth gate), so rate
//! limited, faulted and rejected calls are logged with exactly what the client saw. The log is
//! served by `GET /sim/calls` (see [`super::control`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use super::error::text_response;

/// Largest request body the simulator accepts (bigger ones get `413`).
const MAX_REQUEST_BODY: usize = 1 << 20;
/// Largest response body kept in the log (the simulator never produces bigger ones).
const MAX_RESPONSE_BODY: usize = 16 << 20;

/// One answered API call, as `GET /sim/calls` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallEntry {
    /// 1, 2, 3… in the order the calls finished; not reset by `POST /sim/reset`.
    pub seq: u64,
    /// When the call arrived (RFC 3339, UTC).
    pub time: String,
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path with query string, e.g. `/dbs/api/v2/zones?page=2`.
    pub path: String,
    /// HTTP status answered.
    pub status: u16,
    /// Request body: parsed JSON if it is JSON, else the text, `null` when empty.
    pub request_body: Value,
    /// Response body, same convention.
    pub response_body: Value,
    /// Time from arrival to answer, in milliseconds (includes `--latency`).
    pub duration_ms: u64,
}

/// The shared call log.
#[derive(Debug, Default)]
pub struct CallLog {
    entries: Mutex<Vec<CallEntry>>,
    seq: AtomicU64,
}

impl CallLog {
    /// Every call logged since the start or the last [`CallLog::clear`], oldest first.
    pub fn entries(&self) -> Vec<CallEntry> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Forgets the logged calls (sequence numbers keep counting).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn push(&self, mut entry: CallEntry) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entry.seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        entries.push(entry);
    }
}

/// Middleware: buffers the request and the response bodies and logs the call.
pub async fn record(State(log): State<Arc<CallLog>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let time = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let method = request.method().to_string();
    let path = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    );
    let (parts, body) = request.into_parts();
    let (request_body, response) = match to_bytes(body, MAX_REQUEST_BODY).await {
        Ok(bytes) => {
            let logged = body_value(&bytes);
            let request = Request::from_parts(parts, Body::from(bytes));
            (logged, next.run(request).await)
        }
        Err(err) => (
            Value::Null,
            text_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "text/plain",
                format!("request body unreadable or too large: {err}"),
            ),
        ),
    };
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, MAX_RESPONSE_BODY).await.unwrap_or_default();
    log.push(CallEntry {
        seq: 0,
        time,
        method,
        path,
        status: parts.status.as_u16(),
        request_body,
        response_body: body_value(&bytes),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    });
    Response::from_parts(parts, Body::from(bytes))
}

/// A body as JSON when it parses, else as (lossy) text; empty → `null`.
fn body_value(bytes: &Bytes) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}
