//! Why a run stops before its end: its time budget, or a signal.
//!
//! The design decision to know: SIGINT (Ctrl-C) and SIGTERM do not kill an
//! eval. From the moment [`listen`] is called, before the spool exists, the
//! signals are caught; the runner then stops as it does when `--max-time`
//! runs out (every unfinished case an error), the partial run is saved
//! marked `interrupted`, the spool is removed, and the command exits 130 or
//! 143 as a shell expects of a command stopped by that signal. A signal
//! that arrives while the run is being saved is absorbed: the save finishes.

use std::future::Future;
use std::time::Instant;

use crate::error::Error;

/// A signal that stops a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// SIGTERM: `kill`, a CI job cancelled, a container stopped.
    Terminate,
}

impl Signal {
    /// The signal's name, as messages say it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// Why a run stopped early: the reason its unfinished cases give, and the
/// signal, when it was one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stop {
    pub reason: String,
    pub signal: Option<Signal>,
}

/// Starts catching SIGINT and SIGTERM (Ctrl-C on Windows) and returns a
/// future that resolves at the first of them. Must be called inside the
/// tokio runtime; from then on neither signal ends the process by itself.
pub(crate) fn listen() -> Result<impl Future<Output = Signal> + Send + 'static, Error> {
    let cannot = |e: std::io::Error| Error::incomplete(format!("cannot catch signals: {e}"));
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).map_err(cannot)?;
        let mut terminate = signal(SignalKind::terminate()).map_err(cannot)?;
        Ok(async move {
            tokio::select! {
                Some(()) = interrupt.recv() => Signal::Interrupt,
                Some(()) = terminate.recv() => Signal::Terminate,
                else => std::future::pending().await,
            }
        })
    }
    #[cfg(not(unix))]
    {
        let _ = cannot;
        Ok(async {
            match tokio::signal::ctrl_c().await {
                Ok(()) => Signal::Interrupt,
                Err(_) => std::future::pending().await,
            }
        })
    }
}

/// Resolves when the run must stop: at `deadline` (with its reason), or at
/// the first signal `signals` reports; never, if neither comes.
pub(crate) async fn first(
    deadline: Option<(Instant, String)>,
    signals: impl Future<Output = Signal>,
) -> Stop {
    let until = async {
        match deadline {
            Some((at, why)) => {
                tokio::time::sleep_until(at.into()).await;
                why
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        reason = until => Stop { reason, signal: None },
        signal = signals => Stop {
            reason: format!("interrupted by {}", signal.name()),
            signal: Some(signal),
        },
    }
}
