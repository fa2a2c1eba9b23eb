//! The command line: `csc-rfc2136 <serve|sandbox|sim|check|keygen|status>`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::sim::SimOptions;

/// An RFC 2136 DNS UPDATE gateway for CSC Global Domain Manager.
#[derive(Debug, Parser)]
#[command(name = "csc-rfc2136", version, about, long_about = None)]
pub struct Cli {
    /// Log format: human-readable text, or one JSON object per line for collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run the gateway and a simulated CSC on loopback, with a demo zone and key.
    Sandbox(crate::sandbox::SandboxOptions),
    /// Run the simulated CSC (REST API and DNS) alone.
    Sim(SimOptions),
    /// Check a configuration: its values, the CSC credentials and the zone list.
    Check {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Generate a TSIG key and the snippets to use it in each client.
    Keygen {
        /// The key's name, e.g. `acme-client.`.
        name: String,
        /// The HMAC algorithm: hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384 or
        /// hmac-sha512.
        #[arg(long, default_value = "hmac-sha256")]
        algorithm: String,
        /// The gateway's address as clients reach it, for the snippets.
        #[arg(long, default_value = "127.0.0.1:5353")]
        server: std::net::SocketAddr,
    },
    /// Show pending changes and in-flight edits per zone, with their CSC status and age.
    ///
    /// Reads the running gateway's `server.http` endpoint, or the journal when no gateway runs.
    /// Exits 1 when the running gateway reports itself not ready.
    Status {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Print JSON for machines instead of a table.
        #[arg(long)]
        json: bool,
    },
}
