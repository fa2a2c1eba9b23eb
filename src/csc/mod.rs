//! The CSC Global Domain Manager API v2: wire model, typed errors, and the async client.
//!
//! `client` holds the endpoints; `options` its settings; `error` the typed failures and their
//! classification; `limiter`, `retry` and `links` the pacing, retrying and URL work behind it;
//! `model` the JSON shapes (shared with the simulator); `names` zone matching and record keys.

pub mod client;
pub mod error;
mod limiter;
mod links;
pub mod model;
pub mod names;
mod options;
mod retry;

pub use client::CscClient;
pub use error::{CscError, TransportKind};
pub use options::{CscClientOptions, OTE_BASE_URL, PRODUCTION_BASE_URL};
