//! The Redis that nodes of one deployment share (`CAMPUS_REDIS_URL`): the
//! sign-in lockout's and the throttles' counters live there, so every node
//! counts the same requests. One multiplexed connection per process,
//! opened on first use and re-opened by itself after Redis comes back; a
//! Redis that does not answer within two seconds is unavailable, never a
//! request left hanging.

use std::sync::Arc;
use std::time::Duration;

use sha2::Digest;

/// A handle on the shared Redis; clones share one connection.
#[derive(Clone)]
pub struct SharedRedis {
    client: redis::Client,
    /// `<CAMPUS_REDIS_PREFIX>:<system>`: the start of every key.
    namespace: Arc<str>,
    connection: Arc<tokio::sync::OnceCell<redis::aio::ConnectionManager>>,
}

impl std::fmt::Debug for SharedRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRedis")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// Checks a `redis://` or `rediss://` URL.
pub fn parse_url(url: &str) -> Result<redis::Client, String> {
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        return Err("expected redis://host:port[/db] or rediss://…".to_owned());
    }
    redis::Client::open(url).map_err(|_| "is not a valid Redis URL".to_owned())
}

impl SharedRedis {
    /// Keys under `<prefix>:<system>:`; nothing is connected yet.
    pub fn open(url: &str, prefix: &str, system: &str) -> Result<Self, String> {
        Ok(Self {
            client: parse_url(url)?,
            namespace: format!("{prefix}:{system}").into(),
            connection: Arc::default(),
        })
    }

    /// The key `<namespace>:<part>:<digest of key>`: keys name a digest,
    /// never the account or address itself.
    pub fn key(&self, part: &str, key: &str) -> String {
        let digest = sha2::Sha256::digest(key.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}:{part}:{hex}", self.namespace)
    }

    /// The shared connection.
    pub async fn connection(&self) -> redis::RedisResult<redis::aio::ConnectionManager> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1);
        self.connection
            .get_or_try_init(|| self.client.get_connection_manager_with_config(config))
            .await
            .cloned()
    }

    /// The connection if one was opened already (for work that must not
    /// wait for one).
    pub fn connected(&self) -> Option<redis::aio::ConnectionManager> {
        self.connection.get().cloned()
    }

    /// Whether Redis answers a `PING` now.
    pub async fn ping(&self) -> Result<(), String> {
        let mut connection = self.connection().await.map_err(|_| unreachable_message())?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(drop)
            .map_err(|_| unreachable_message())
    }
}

fn unreachable_message() -> String {
    "Redis does not answer".to_owned()
}
