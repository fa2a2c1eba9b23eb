//! The `csc-rfc2136` binary: parses the command line and runs the chosen subcommand.

use std::process::ExitCode;

use clap::Parser;
use csc_rfc2136::cli::{Cli, Command};
use csc_rfc2136::config::{Config, TsigAlgorithm};
use csc_rfc2136::{check, keygen, logging, sandbox, serve, sim, status};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    match cli.command {
        Command::Sim(options) => match sim::run(options).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => fail(format_args!("simulator: {err}")),
        },
        Command::Serve { config } => match Config::load(&config) {
            Ok(config) => match serve::run(config).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => fail(err),
            },
            Err(err) => fail(err),
        },
        Command::Check { config } => check::run(&config).await,
        Command::Status { config, json } => status::run(&config, json).await,
        Command::Sandbox(options) => match sandbox::run(options).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => fail(err),
        },
        Command::Keygen {
            name,
            algorithm,
            server,
        } => {
            let algorithm: TsigAlgorithm = match algorithm.parse() {
                Ok(algorithm) => algorithm,
                Err(problem) => return fail(problem),
            };
            let secret = keygen::new_secret(algorithm);
            let text = keygen::render(
                &name,
                algorithm,
                &secret,
                &server.ip().to_string(),
                server.port(),
            );
            print!("{text}");
            ExitCode::SUCCESS
        }
    }
}

/// Prints `error: ...` to stderr and returns the failure exit code.
fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
