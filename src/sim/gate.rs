//! The gate in front of every API route: injected latency, CSC's rate limit, injected server
//! errors and the two auth headers — in that order, each before any side effect.
//!
//! - `--latency MS` delays every call, including the ones refused below.
//! - `--rate-limit RPS`: over it, `400` with the plain-text body
//!   [`RATE_LIMIT_BODY`](crate::csc::model::RATE_LIMIT_BODY) (`text/plain`), as CSC does.
//!   A token bucket refilled at RPS per second, holding `ceil(RPS)` tokens; refused calls use
//!   none.
//! - `--error-rate P`: that share of calls gets `500`; the odd-numbered faults carry a JSON
//!   error body (`INTERNAL_SERVER_ERROR`), the even-numbered ones an HTML page, so clients meet
//!   both.
//! - Auth: `apikey: <key>` and `Authorization: Bearer <token>` must both match, else `401` with
//!   a small HTML body (CSC's real 401 body is unknown; it is probably not JSON).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tracing::debug;

use super::error::{ApiError, text_response};
use crate::csc::model::RATE_LIMIT_BODY;

/// The gate's settings and counters.
#[derive(Debug)]
pub struct Gate {
    api_key: String,
    bearer_token: String,
    latency: Duration,
    error_rate: f64,
    limiter: Option<DefaultDirectRateLimiter>,
    faults: AtomicU64,
}

impl Gate {
    /// A gate checking `api_key` and `bearer_token`, with the given faults (`rate_limit` 0 = none).
    pub fn new(
        api_key: String,
        bearer_token: String,
        latency: Duration,
        error_rate: f64,
        rate_limit: f64,
    ) -> Self {
        let limiter = (rate_limit > 0.0)
            .then(|| Duration::try_from_secs_f64(1.0 / rate_limit).ok())
            .flatten()
            .and_then(Quota::with_period)
            .map(|quota| {
                let burst = NonZeroU32::new(rate_limit.ceil().min(f64::from(u32::MAX)) as u32)
                    .unwrap_or(NonZeroU32::MIN);
                RateLimiter::direct(quota.allow_burst(burst))
            });
        Gate {
            api_key,
            bearer_token,
            latency,
            error_rate,
            limiter,
            faults: AtomicU64::new(0),
        }
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let api_key = headers.get("apikey").and_then(|v| v.to_str().ok());
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        api_key == Some(self.api_key.as_str()) && token == Some(self.bearer_token.as_str())
    }

    fn injected_error(&self) -> Response {
        let n = self.faults.fetch_add(1, Ordering::Relaxed) + 1;
        if n % 2 == 1 {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                "Simulated server error (--error-rate)",
                "",
            )
            .into_response()
        } else {
            text_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/html",
                "<html><body><h1>500 Internal Server Error</h1><p>Simulated (--error-rate)</p></body></html>".to_owned(),
            )
        }
    }
}

/// Middleware: latency, rate limit, injected errors, auth; then the route.
pub async fn check(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    if !gate.latency.is_zero() {
        tokio::time::sleep(gate.latency).await;
    }
    if let Some(limiter) = &gate.limiter
        && limiter.check().is_err()
    {
        debug!(path = %request.uri(), "sim: rate limited");
        return text_response(
            StatusCode::BAD_REQUEST,
            "text/plain",
            RATE_LIMIT_BODY.to_owned(),
        );
    }
    if gate.error_rate > 0.0 && rand::random::<f64>() < gate.error_rate {
        debug!(path = %request.uri(), "sim: injected server error");
        return gate.injected_error();
    }
    if !gate.authorized(request.headers()) {
        debug!(path = %request.uri(), "sim: credentials rejected");
        return text_response(
            StatusCode::UNAUTHORIZED,
            "text/html",
            "<html><body><h1>401 Unauthorized</h1><p>Invalid or missing credentials.</p></body></html>".to_owned(),
        );
    }
    next.run(request).await
}
