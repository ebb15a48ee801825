//! Login lockout: after too many failed sign-ins for one account from one
//! address, further attempts are refused for a while, whatever the password.
//! Keyed by account and IP, so an attacker cannot lock a user out everywhere.
//!
//! [`Lockout`] keeps its counts in this process. [`LoginGuard`] is the same
//! rule behind an async interface whose counts live either in this process or,
//! when `CAMPUS_REDIS_URL` is set, in Redis, so that every node of a
//! scaled-out system sees the same failures (django-axes' "database handler").

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::Digest;

use crate::config::SettingError;
use crate::error::ApiError;

#[derive(Debug)]
pub struct Lockout {
    max_failures: u32,
    window: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

impl Lockout {
    /// `max_failures` failures within `window` lock the key for `window`;
    /// `max_failures == 0` turns the lockout off.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            entries: Mutex::default(),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Refuses with 429 while `key` is locked.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), ApiError> {
        if self.max_failures == 0 {
            return Ok(());
        }
        let entries = self.entries();
        match entries.get(key).and_then(|e| e.locked_until) {
            Some(until) if until > now => {
                let wait = until.duration_since(now);
                let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
                Err(ApiError::Throttled {
                    wait_seconds: seconds,
                })
            }
            _ => Ok(()),
        }
    }

    /// Records a failed attempt.
    pub fn fail(&self, key: &str, now: Instant) {
        if self.max_failures == 0 {
            return;
        }
        let mut entries = self.entries();
        if entries.len() > 100_000 {
            let window = self.window;
            entries.retain(|_, e| {
                now.duration_since(e.first) < window || e.locked_until.is_some_and(|u| u > now)
            });
        }
        let entry = entries.entry(key.to_owned()).or_insert(Entry {
            failures: 0,
            first: now,
            locked_until: None,
        });
        if now.duration_since(entry.first) >= self.window
            || entry.locked_until.is_some_and(|u| u <= now)
        {
            *entry = Entry {
                failures: 0,
                first: now,
                locked_until: None,
            };
        }
        entry.failures += 1;
        if entry.failures >= self.max_failures {
            entry.locked_until = Some(now + self.window);
        }
    }

    /// Forgets the failures of `key` after a successful sign-in.
    pub fn succeed(&self, key: &str) {
        if self.max_failures > 0 {
            self.entries().remove(key);
        }
    }
}

/// How many failures lock a key, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutSettings {
    /// Failures within `window` that lock the key; 0 turns the lockout off.
    pub max_failures: u32,
    /// How long failures are remembered, and how long a lock lasts.
    pub window: Duration,
}

impl LockoutSettings {
    /// Reads `CAMPUS_LOGIN_MAX_FAILURES` and `CAMPUS_LOGIN_LOCKOUT_SECONDS`,
    /// falling back to a system's own defaults.
    pub fn from_lookup(
        lookup: &impl Fn(&str) -> Option<String>,
        defaults: LockoutSettings,
    ) -> Result<Self, SettingError> {
        let max_failures = match lookup("CAMPUS_LOGIN_MAX_FAILURES") {
            Some(v) => v.trim().parse::<u32>().map_err(|_| SettingError {
                name: "CAMPUS_LOGIN_MAX_FAILURES",
                reason: format!("{v:?} is not a whole number (0 turns the lockout off)"),
            })?,
            None => defaults.max_failures,
        };
        let window = match lookup("CAMPUS_LOGIN_LOCKOUT_SECONDS") {
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|s| *s > 0)
                .map(Duration::from_secs)
                .ok_or_else(|| SettingError {
                    name: "CAMPUS_LOGIN_LOCKOUT_SECONDS",
                    reason: format!("{v:?} is not a positive number of seconds"),
                })?,
            None => defaults.window,
        };
        Ok(Self {
            max_failures,
            window,
        })
    }
}

/// Checks the URL of `CAMPUS_REDIS_URL` without connecting.
pub fn parse_redis_url(url: &str) -> Result<redis::Client, String> {
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        return Err("expected redis://host:port[/db] or rediss://…".to_owned());
    }
    redis::Client::open(url).map_err(|_| "is not a valid Redis URL".to_owned())
}

/// The lockout rule of [`Lockout`], with its counts in this process or in Redis.
pub struct LoginGuard {
    settings: LockoutSettings,
    store: Store,
}

enum Store {
    Memory(Lockout),
    Redis {
        client: redis::Client,
        /// Prefixes every key, so systems sharing a Redis keep apart.
        namespace: String,
        connection: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    },
}

impl std::fmt::Debug for LoginGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let store = match self.store {
            Store::Memory(_) => "memory",
            Store::Redis { .. } => "redis",
        };
        f.debug_struct("LoginGuard")
            .field("settings", &self.settings)
            .field("store", &store)
            .finish()
    }
}

/// django-axes' lockout message.
pub const LOCKED_MESSAGE: &str = "Account locked: too many login attempts. Please try again later.";

/// Counts a failure and, at the limit, swaps the count for a lock, atomically.
const FAIL_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
  redis.call('DEL', KEYS[1])
end
return n
";

impl LoginGuard {
    /// Counts kept in this process (one node).
    pub fn in_memory(settings: LockoutSettings) -> Self {
        Self {
            settings,
            store: Store::Memory(Lockout::new(settings.max_failures, settings.window)),
        }
    }

    /// Counts kept in Redis under `campus:<namespace>:lockout:`; connects on
    /// first use and reconnects by itself.
    pub fn redis(settings: LockoutSettings, url: &str, namespace: &str) -> Result<Self, String> {
        Ok(Self {
            settings,
            store: Store::Redis {
                client: parse_redis_url(url)?,
                namespace: format!("campus:{namespace}:lockout"),
                connection: tokio::sync::OnceCell::new(),
            },
        })
    }

    /// In Redis when `redis_url` is given, else in this process.
    pub fn new(
        settings: LockoutSettings,
        redis_url: Option<&str>,
        namespace: &str,
    ) -> Result<Self, String> {
        match redis_url {
            Some(url) => Self::redis(settings, url, namespace),
            None => Ok(Self::in_memory(settings)),
        }
    }

    pub fn settings(&self) -> LockoutSettings {
        self.settings
    }

    fn disabled(&self) -> bool {
        self.settings.max_failures == 0
    }

    /// Redis keys name a digest of the key, never the account itself.
    fn redis_keys(namespace: &str, key: &str) -> (String, String) {
        let digest = sha2::Sha256::digest(key.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        (
            format!("{namespace}:failures:{hex}"),
            format!("{namespace}:locked:{hex}"),
        )
    }

    async fn connection(
        client: &redis::Client,
        cell: &tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    ) -> Result<redis::aio::ConnectionManager, ApiError> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1);
        cell.get_or_try_init(|| client.get_connection_manager_with_config(config))
            .await
            .cloned()
            .map_err(unavailable)
    }

    /// Refuses with 429 and django-axes' message while `key` is locked.
    pub async fn check(&self, key: &str) -> Result<(), ApiError> {
        match self.locked_for(key).await? {
            Some(wait) => Err(ApiError::TooManyRequests {
                detail: LOCKED_MESSAGE.into(),
                code: "account_locked",
                wait_seconds: (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1),
            }),
            None => Ok(()),
        }
    }

    /// `Some(wait)` while `key` is locked.
    pub async fn locked_for(&self, key: &str) -> Result<Option<Duration>, ApiError> {
        if self.disabled() {
            return Ok(None);
        }
        match &self.store {
            Store::Memory(lockout) => Ok(match lockout.check(key, Instant::now()) {
                Err(ApiError::Throttled { wait_seconds }) => {
                    Some(Duration::from_secs(wait_seconds))
                }
                _ => None,
            }),
            Store::Redis {
                client,
                namespace,
                connection,
            } => {
                let mut conn = Self::connection(client, connection).await?;
                let (_, locked) = Self::redis_keys(namespace, key);
                let ttl_ms: i64 = redis::cmd("PTTL")
                    .arg(&locked)
                    .query_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                Ok((ttl_ms > 0).then(|| Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0))))
            }
        }
    }

    /// Records a failed attempt for `key`.
    pub async fn fail(&self, key: &str) -> Result<(), ApiError> {
        if self.disabled() {
            return Ok(());
        }
        match &self.store {
            Store::Memory(lockout) => {
                lockout.fail(key, Instant::now());
                Ok(())
            }
            Store::Redis {
                client,
                namespace,
                connection,
            } => {
                let mut conn = Self::connection(client, connection).await?;
                let (failures, locked) = Self::redis_keys(namespace, key);
                let window_ms = u64::try_from(self.settings.window.as_millis()).unwrap_or(u64::MAX);
                let _: i64 = redis::Script::new(FAIL_SCRIPT)
                    .key(failures)
                    .key(locked)
                    .arg(window_ms.max(1))
                    .arg(self.settings.max_failures)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                Ok(())
            }
        }
    }

    /// Forgets the failures (and any lock) of `key` after a successful sign-in.
    pub async fn succeed(&self, key: &str) -> Result<(), ApiError> {
        if self.disabled() {
            return Ok(());
        }
        match &self.store {
            Store::Memory(lockout) => {
                lockout.succeed(key);
                Ok(())
            }
            Store::Redis {
                client,
                namespace,
                connection,
            } => {
                let mut conn = Self::connection(client, connection).await?;
                let (failures, locked) = Self::redis_keys(namespace, key);
                let _: i64 = redis::cmd("DEL")
                    .arg(failures)
                    .arg(locked)
                    .query_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                Ok(())
            }
        }
    }
}

/// Sign-in refuses to run without its brute-force protection: a Redis outage
/// is a 503, never a silently unlimited login.
fn unavailable(error: redis::RedisError) -> ApiError {
    tracing::error!(%error, "the lockout store (Redis) is unreachable");
    ApiError::Unavailable("Sign-in is temporarily unavailable. Please try again later.".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_repeated_failures_then_releases() {
        let lockout = Lockout::new(3, Duration::from_secs(900));
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(lockout.check("a|1.2.3.4", t0).is_ok(), "attempt {i}");
            lockout.fail("a|1.2.3.4", t0);
        }
        assert!(matches!(
            lockout.check("a|1.2.3.4", t0),
            Err(ApiError::Throttled { wait_seconds: 900 })
        ));
        assert!(
            lockout.check("a|5.6.7.8", t0).is_ok(),
            "another address is not locked"
        );
        assert!(
            lockout
                .check("a|1.2.3.4", t0 + Duration::from_secs(901))
                .is_ok()
        );
    }

    #[test]
    fn success_forgets_failures_and_zero_disables() {
        let lockout = Lockout::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        lockout.fail("k", t0);
        lockout.succeed("k");
        lockout.fail("k", t0);
        assert!(lockout.check("k", t0).is_ok());
        let off = Lockout::new(0, Duration::from_secs(60));
        for _ in 0..10 {
            off.fail("k", t0);
        }
        assert!(off.check("k", t0).is_ok());
    }

    #[test]
    fn lockout_settings_read_the_environment() {
        let defaults = LockoutSettings {
            max_failures: 5,
            window: Duration::from_secs(900),
        };
        let none = |_: &str| None;
        assert_eq!(
            LockoutSettings::from_lookup(&none, defaults).unwrap(),
            defaults
        );
        let set = |k: &str| match k {
            "CAMPUS_LOGIN_MAX_FAILURES" => Some("3".to_owned()),
            "CAMPUS_LOGIN_LOCKOUT_SECONDS" => Some("2".to_owned()),
            _ => None,
        };
        assert_eq!(
            LockoutSettings::from_lookup(&set, defaults).unwrap(),
            LockoutSettings {
                max_failures: 3,
                window: Duration::from_secs(2)
            }
        );
        let bad = |k: &str| (k == "CAMPUS_LOGIN_LOCKOUT_SECONDS").then(|| "0".to_owned());
        assert_eq!(
            LockoutSettings::from_lookup(&bad, defaults)
                .unwrap_err()
                .name,
            "CAMPUS_LOGIN_LOCKOUT_SECONDS"
        );
        assert!(parse_redis_url("http://x").is_err());
        assert!(parse_redis_url("redis://127.0.0.1:6379/0").is_ok());
    }

    #[tokio::test]
    async fn guard_in_memory_locks_and_releases() {
        let guard = LoginGuard::in_memory(LockoutSettings {
            max_failures: 2,
            window: Duration::from_millis(300),
        });
        guard.fail("k").await.unwrap();
        assert_eq!(guard.locked_for("k").await.unwrap(), None);
        guard.fail("k").await.unwrap();
        assert!(guard.locked_for("k").await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(guard.locked_for("k").await.unwrap(), None);
        guard.fail("k").await.unwrap();
        guard.succeed("k").await.unwrap();
        guard.fail("k").await.unwrap();
        assert_eq!(guard.locked_for("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn guard_reports_an_unreachable_redis_as_unavailable() {
        // Nothing listens on port 1.
        let guard = LoginGuard::redis(
            LockoutSettings {
                max_failures: 2,
                window: Duration::from_secs(60),
            },
            "redis://127.0.0.1:1/",
            "test",
        )
        .unwrap();
        assert!(matches!(
            guard.locked_for("k").await,
            Err(ApiError::Unavailable(_))
        ));
    }
}
