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

/// Where a live stream is in a table of timestamped rows: rows created at
/// or after [`Cursor::since`] that it has not sent yet. Rows created at the
/// same instant are told apart by their key, so none is sent twice or lost.
#[derive(Debug)]
pub struct Cursor<K> {
    since: chrono::DateTime<chrono::Utc>,
    seen: std::collections::HashSet<K>,
}

impl<K: Eq + std::hash::Hash> Default for Cursor<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Eq + std::hash::Hash> Cursor<K> {
    /// A cursor at this instant: only rows created from now on.
    pub fn new() -> Self {
        Self {
            since: crate::time::now() - chrono::TimeDelta::milliseconds(1),
            seen: std::collections::HashSet::new(),
        }
    }

    /// Read rows created at or after this, in creation order.
    pub fn since(&self) -> chrono::DateTime<chrono::Utc> {
        self.since
    }

    /// Whether the row `key` created `at` (read in creation order) is new,
    /// moving the cursor past it.
    pub fn admit(&mut self, at: chrono::DateTime<chrono::Utc>, key: K) -> bool {
        if at == self.since && self.seen.contains(&key) {
            return false;
        }
        if at > self.since {
            // Only rows at the boundary instant can be read again.
            self.since = at;
            self.seen.clear();
        }
        if self.seen.len() >= 10_000 {
            self.seen.clear();
        }
        self.seen.insert(key);
        true
    }
}

/// One user's live stream as Server-Sent Events: `event: ready` first, then
/// what `fetch` answers each time `user` (the account id as text) is woken through `hub` (and every
/// two seconds, for changes made on other nodes or not announced), with a
/// keep-alive comment every 15 seconds. `fetch` gets its state back and
/// hands it on (a database handle and a [`Cursor`], say) with the events to
/// send.
pub fn live<S, F, Fut>(
    hub: &Hub,
    user: String,
    state: S,
    fetch: F,
) -> axum::response::sse::Sse<
    impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>
    + use<S, F, Fut>,
>
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = (S, Vec<axum::response::sse::Event>)> + Send,
{
    use axum::response::sse::{Event, KeepAlive, Sse};
    use std::time::Duration;
    let wake = hub.subscribe();
    let stream = futures_util::stream::unfold(
        (state, fetch, user, wake, Vec::<Event>::new(), true),
        |(mut state, fetch, user, mut wake, mut queue, first)| async move {
            if first {
                let ready = Event::default().event("ready").data("{}");
                return Some((Ok(ready), (state, fetch, user, wake, queue, false)));
            }
            loop {
                if let Some(event) = queue.pop() {
                    return Some((Ok(event), (state, fetch, user, wake, queue, false)));
                }
                let deadline = tokio::time::sleep(Duration::from_secs(2));
                tokio::pin!(deadline);
                loop {
                    tokio::select! {
                        received = wake.recv() => match received {
                            Ok(id) if *id == *user => break,
                            Ok(_) => continue,
                            Err(broadcast::error::RecvError::Lagged(_)) => break,
                            Err(broadcast::error::RecvError::Closed) => return None,
                        },
                        () = &mut deadline => break,
                    }
                }
                let (next, events) = fetch(state).await;
                state = next;
                queue = events;
                queue.reverse();
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn a_cursor_admits_each_row_once() {
        let mut cursor = Cursor::new();
        let at = cursor.since() + chrono::TimeDelta::seconds(1);
        assert!(cursor.admit(at, 1));
        assert!(cursor.admit(at, 2));
        assert!(!cursor.admit(at, 1), "the same instant, already sent");
        assert!(cursor.admit(at + chrono::TimeDelta::seconds(1), 1));
    }
}
