//! Live events inside one process: a wake-up per user when something new is
//! stored for them. Streams re-read the database when woken (and on a short
//! timer, which covers changes made by other nodes), so a missed wake-up
//! delays an event but never loses it.

use std::sync::Arc;

use tokio::sync::broadcast;

/// Wake-ups name the account by its id as text, so every id type fits
/// (UUID, integer, CUID).
#[derive(Debug, Clone)]
pub struct Hub {
    sender: broadcast::Sender<Arc<str>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
        }
    }

    /// Wakes the streams of `user` (call after the change committed).
    pub fn notify(&self, user: impl std::fmt::Display) {
        let _ = self.sender.send(user.to_string().into());
    }

    /// Wake-ups for every account; a stream keeps those naming its own.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.sender.subscribe()
    }
}
