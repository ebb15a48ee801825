//! Live events: a wake-up per user when something new is stored for them.
//! Streams re-read the database when woken, so a missed wake-up delays an
//! event but never loses it.
//!
//! On PostgreSQL every node hears every node's wake-ups at once: a wake-up
//! is also sent as `NOTIFY campus_events_<system>`, and each node LISTENs
//! on one connection and passes what it hears (but its own) to its
//! streams. After that connection is lost and made again, every stream
//! re-reads once (what was said meanwhile was not heard), and streams still
//! re-read every 30 s. On SQLite and MySQL (one node, or nodes without a
//! channel between them) streams re-read every 2 s besides their own
//! node's wake-ups.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;

/// The wake-up that has every stream re-read.
const EVERYONE: &str = "*";

/// Wake-ups name the account by its id as text, so every id type fits
/// (UUID, integer, CUID).
#[derive(Debug, Clone)]
pub struct Hub {
    sender: broadcast::Sender<Arc<str>>,
    /// Tells this node's own notifications from others'.
    node: Arc<str>,
    bridge: Option<Arc<Bridge>>,
    lifecycle: Lifecycle,
    metrics: Option<Arc<Metrics>>,
}

/// The PostgreSQL channel wake-ups cross nodes on. Its two tasks (sending,
/// listening) end when the last clone of the hub is dropped.
#[derive(Debug)]
struct Bridge {
    /// Wake-ups waiting to be sent, in order, by one task.
    outbox: tokio::sync::mpsc::UnboundedSender<String>,
    /// Dropped with the bridge: the listener stops.
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Where the bridge's tasks talk.
#[derive(Debug, Clone)]
struct Channel {
    pool: sea_orm::sqlx::PgPool,
    name: String,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    /// Wake-ups within this process only.
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
            node: uuid::Uuid::new_v4().simple().to_string().into(),
            bridge: None,
            lifecycle: Lifecycle::new(),
            metrics: None,
        }
    }

    /// The hub of a node of `system` on `db`: on PostgreSQL its wake-ups
    /// reach every node's streams (and it starts listening for theirs);
    /// streams end when `lifecycle` closes and count in `metrics`.
    pub fn for_node(
        db: &sea_orm::DatabaseConnection,
        system: &str,
        lifecycle: Lifecycle,
        metrics: Arc<Metrics>,
    ) -> Self {
        let mut hub = Self {
            lifecycle,
            metrics: Some(metrics),
            ..Self::new()
        };
        if db.get_database_backend() == sea_orm::DbBackend::Postgres
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let pool = db.get_postgres_connection_pool();
            let channel = Channel {
                pool: pool.clone(),
                name: format!("campus_events_{system}"),
            };
            // LISTEN holds its connection for good: its own, not one of
            // the pool's, tried again every few seconds while the server
            // is away.
            let listening = sea_orm::sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(Duration::from_secs(3))
                .connect_lazy_with(pool.connect_options().as_ref().clone());
            let (outbox, pending) = tokio::sync::mpsc::unbounded_channel();
            let (stop, stopped) = tokio::sync::oneshot::channel();
            tokio::spawn(send(channel.clone(), pending));
            tokio::spawn(listen(
                Channel {
                    pool: listening,
                    ..channel
                },
                hub.sender.clone(),
                hub.node.clone(),
                hub.lifecycle.clone(),
                stopped,
            ));
            hub.bridge = Some(Arc::new(Bridge {
                outbox,
                _stop: stop,
            }));
        }
        hub
    }

    /// Wakes the streams of `user` on every node (call after the change
    /// committed).
    pub fn notify(&self, user: impl std::fmt::Display) {
        let user = user.to_string();
        if let Some(bridge) = &self.bridge {
            let _ = bridge.outbox.send(format!("{} {user}", self.node));
        }
        let _ = self.sender.send(user.into());
    }

    /// How often a stream re-reads with no wake-up.
    fn fallback(&self) -> Duration {
        if self.bridge.is_some() {
            Duration::from_secs(30)
        } else {
            Duration::from_secs(2)
        }
    }

    /// Wake-ups for every account; a stream keeps those naming its own.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.sender.subscribe()
    }
}

/// Sends this node's wake-ups to the others, in order: whatever queued up
/// meanwhile goes in one statement (at most 500 at a time).
async fn send(channel: Channel, mut pending: tokio::sync::mpsc::UnboundedReceiver<String>) {
    let mut batch = Vec::new();
    while pending.recv_many(&mut batch, 500).await > 0 {
        let sent = sea_orm::sqlx::query(
            "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload",
        )
        .bind(&channel.name)
        .bind(&batch)
        .execute(&channel.pool)
        .await;
        if let Err(error) = sent {
            tracing::warn!(%error, wake_ups = batch.len(), "cannot tell other nodes of live events");
        }
        batch.clear();
    }
}

/// Passes other nodes' wake-ups to this node's streams until the node
/// closes, reconnecting after a lost connection.
async fn listen(
    channel: Channel,
    sender: broadcast::Sender<Arc<str>>,
    node: Arc<str>,
    lifecycle: Lifecycle,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    use sea_orm::sqlx::postgres::PgListener;
    // The hub was dropped, or the node closes.
    let stop = async move {
        tokio::select! {
            _ = &mut stopped => {},
            () = lifecycle.closed() => {},
        }
    };
    let mut stop = std::pin::pin!(stop);
    loop {
        let listener = async {
            let mut listener = PgListener::connect_with(&channel.pool).await?;
            listener.listen(&channel.name).await?;
            Ok::<_, sea_orm::sqlx::Error>(listener)
        };
        let mut listener = tokio::select! {
            made = listener => match made {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for other nodes' live events; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        () = &mut stop => return,
                    }
                }
            },
            () = &mut stop => return,
        };
        // Whatever was said while nobody listened: everyone re-reads.
        let _ = sender.send(Arc::from(EVERYONE));
        loop {
            let heard = tokio::select! {
                heard = listener.try_recv() => heard,
                () = &mut stop => return,
            };
            match heard {
                Ok(Some(notification)) => {
                    if let Some((origin, user)) = notification.payload().split_once(' ')
                        && origin != &*node
                    {
                        let _ = sender.send(Arc::from(user));
                    }
                }
                // The connection was lost; the next receive makes it again.
                Ok(None) => {
                    let _ = sender.send(Arc::from(EVERYONE));
                }
                Err(error) => {
                    tracing::warn!(%error, "lost the live events channel; reconnecting");
                    break;
                }
            }
        }
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
/// what `fetch` answers each time `user` (the account id as text) is woken
/// through `hub` (and now and then without, for changes not announced),
/// with a keep-alive comment every 15 seconds. The stream ends when the
/// node closes. `fetch` gets its state back and
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
    let wake = hub.subscribe();
    let node = Node {
        lifecycle: hub.lifecycle.clone(),
        fallback: hub.fallback(),
        _open: hub.metrics.as_ref().map(Metrics::stream_opened),
    };
    let stream = futures_util::stream::unfold(
        (state, fetch, user, wake, Vec::<Event>::new(), true, node),
        |(mut state, fetch, user, mut wake, mut queue, first, node)| async move {
            if first {
                let ready = Event::default().event("ready").data("{}");
                return Some((Ok(ready), (state, fetch, user, wake, queue, false, node)));
            }
            loop {
                if node.lifecycle.is_closing() {
                    return None;
                }
                if let Some(event) = queue.pop() {
                    return Some((Ok(event), (state, fetch, user, wake, queue, false, node)));
                }
                let deadline = tokio::time::sleep(node.fallback);
                tokio::pin!(deadline);
                loop {
                    tokio::select! {
                        received = wake.recv() => match received {
                            Ok(id) if *id == *user || &*id == EVERYONE => break,
                            Ok(_) => continue,
                            Err(broadcast::error::RecvError::Lagged(_)) => break,
                            Err(broadcast::error::RecvError::Closed) => return None,
                        },
                        () = &mut deadline => break,
                        () = node.lifecycle.closed() => return None,
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

/// What a stream knows of its node.
struct Node {
    lifecycle: Lifecycle,
    fallback: Duration,
    _open: Option<crate::metrics::StreamGuard>,
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
