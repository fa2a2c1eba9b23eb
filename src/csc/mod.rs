//! The CSC Global Domain Manager API v2: wire model, typed errors, and the async client.

pub mod client;
pub mod error;
pub mod model;
pub mod names;

pub use client::{CscClient, CscClientOptions};
pub use error::CscError;
