//! Waiting for the signal to stop: Ctrl-C (SIGINT) or, on Unix, SIGTERM.

use std::io;

/// Returns when the process is asked to stop.
pub async fn wait_for_stop() -> io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
