//! Operations: Prometheus metrics, the HTTP endpoint (`/metrics`, `/healthz`, `/readyz`,
//! `/status`), and the audit trail.

pub mod audit;
pub mod http;
pub mod metrics;
