//! A node's life: serving, then closing. On SIGTERM the node stops
//! accepting connections, live streams end cleanly (their clients
//! reconnect to another node), workers stop claiming jobs, and the node
//! waits — at most `CAMPUS_SHUTDOWN_TIMEOUT` — for requests in flight and
//! jobs already running to finish.

use std::sync::Arc;

use tokio::sync::watch;

/// Shared by every part of a node; clones see the same state.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    closing: Arc<watch::Sender<bool>>,
    running: Arc<watch::Sender<usize>>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new()
    }
}

impl Lifecycle {
    pub fn new() -> Self {
        Self {
            closing: Arc::new(watch::channel(false).0),
            running: Arc::new(watch::channel(0).0),
        }
    }

    /// Starts closing: streams end, workers stop claiming.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    pub fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }

    /// Resolves once the node is closing.
    pub async fn closed(&self) {
        let mut closing = self.closing.subscribe();
        let _ = closing.wait_for(|closing| *closing).await;
    }

    /// Marks a job as running until the guard is dropped.
    pub fn job_started(&self) -> RunningJob {
        self.running.send_modify(|n| *n += 1);
        RunningJob(self.running.clone())
    }

    /// Resolves when no job is running.
    pub async fn jobs_done(&self) {
        let mut running = self.running.subscribe();
        let _ = running.wait_for(|n| *n == 0).await;
    }
}

/// A job counted as running.
#[derive(Debug)]
pub struct RunningJob(Arc<watch::Sender<usize>>);

impl Drop for RunningJob {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn closing_is_seen_and_jobs_are_waited_for() {
        let life = Lifecycle::new();
        assert!(!life.is_closing());
        let job = life.job_started();
        let waiting = tokio::spawn({
            let life = life.clone();
            async move { life.jobs_done().await }
        });
        life.close();
        life.closed().await;
        assert!(life.is_closing());
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "a job is still running");
        drop(job);
        waiting.await.unwrap();
    }
}
