//! csc-rfc2136: an RFC 2136 DNS UPDATE gateway in front of CSC Global Domain Manager.
//!
//! The path of a change: `dns` (listener, TSIG, UPDATE checks) → `engine` (journal, batching,
//! delivery) → `csc` (the REST client). `sim` is a faithful simulator of CSC's API and DNS, used by
//! the tests and by `csc-rfc2136 sandbox`. `config` reads the TOML contract in `design.md`.

pub mod check;
pub mod cli;
pub mod config;
pub mod csc;
pub mod dns;
pub mod engine;
pub mod keygen;
pub mod logging;
pub mod ops;
pub mod sandbox;
pub mod secret;
pub mod serve;
pub mod shutdown;
pub mod sim;
pub mod status;
