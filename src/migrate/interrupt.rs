//! Ctrl-C and SIGTERM while migrating: instead of dying with a statement still running (and
//! queueing the application behind its lock request), arcdb notes the signal, cancels the
//! running statement on the server, rolls back, releases the migration lock and exits 1.

use tokio::sync::watch;

/// The signal that asked us to stop, once one arrived. Cheap to clone; every clone sees it.
#[derive(Clone)]
pub struct Interrupt {
    received: watch::Receiver<Option<&'static str>>,
}

impl Interrupt {
    /// Take over SIGINT and SIGTERM for the rest of the process (the default action would kill
    /// arcdb and leave its statement running on the server).
    pub fn listen() -> Interrupt {
        let (tx, received) = watch::channel(None);
        tokio::spawn(async move {
            let name = wait_for_signal().await;
            crate::output::notice(format!(
                "{name} received: cancelling the running statement on the server, rolling back and releasing the migration lock"
            ));
            let _ = tx.send(Some(name));
        });
        Interrupt { received }
    }

    /// The signal's name, once one arrived.
    pub fn signal(&self) -> Option<&'static str> {
        *self.received.borrow()
    }

    /// Resolves when a signal arrives (at once if one already did).
    pub async fn fired(&mut self) -> &'static str {
        let name = match self.received.wait_for(Option::is_some).await {
            Ok(name) => *name,
            Err(_) => None,
        };
        match name {
            Some(name) => name,
            // The listener is gone (never happens while the runtime lives): never resolve.
            None => std::future::pending().await,
        }
    }

    /// An error if a signal arrived: call between steps.
    pub fn check(&self, state: &str) -> anyhow::Result<()> {
        match self.signal() {
            Some(name) => Err(interrupted(name, state)),
            None => Ok(()),
        }
    }
}

/// "interrupted by SIGTERM; <state>".
pub fn interrupted(signal: &str, state: &str) -> anyhow::Error {
    anyhow::anyhow!("interrupted by {signal}; {state}")
}

async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
