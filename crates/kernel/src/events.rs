//! Live events inside one process: a wake-up per user when something new is
//! stored for them. Streams re-read the database when woken (and on a short
//! timer, which covers changes made by other nodes), so a missed wake-up
//! delays an event but never loses it.

use tokio::sync::broadcast;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Hub {
    sender: broadcast::Sender<Uuid>,
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
    pub fn notify(&self, user: Uuid) {
        let _ = self.sender.send(user);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.sender.subscribe()
    }
}
