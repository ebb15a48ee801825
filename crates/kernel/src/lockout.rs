//! Login lockout: after too many failed sign-ins for one account from one
//! address, further attempts are refused for a while, whatever the password.
//! Keyed by account and IP, so an attacker cannot lock a user out everywhere.
//!
//! An attempt is *reserved* before its password is verified, atomically with
//! the check of the lock, and counts as a failure from that moment: however
//! many attempts for one key arrive at once, at most `max_failures` of them
//! are ever evaluated in a window, and the rest are refused. An attempt that
//! turns out right forgets the failures that were already settled (not those
//! of attempts still being evaluated); one that must not count (a right
//! password awaiting its second factor) hands its reservation back.
//!
//! [`Lockout`] keeps its counts in this process. [`LoginGuard`] is the same
//! rule behind an async interface whose counts live either in this process or,
//! when `CAMPUS_REDIS_URL` is set, in Redis, so that every node of a
//! scaled-out system sees the same failures (django-axes' "database handler").

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::SettingError;
use crate::error::ApiError;
use crate::shared::SharedRedis;

#[derive(Debug)]
pub struct Lockout {
    max_failures: u32,
    window: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Failures in the window, counting the attempts still in flight.
    attempts: u32,
    /// Attempts reserved and not yet settled.
    pending: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

/// How a reserved attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Wrong: the reservation stays as the counted failure.
    Failed,
    /// Right: the settled failures are forgotten and any lock lifted.
    Succeeded,
    /// Not to be counted either way: the reservation is handed back.
    Released,
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

    /// `Some(wait)` while `key` is locked.
    pub fn locked_for(&self, key: &str, now: Instant) -> Option<Duration> {
        if self.max_failures == 0 {
            return None;
        }
        self.entries()
            .get(key)
            .and_then(|e| e.locked_until)
            .filter(|until| *until > now)
            .map(|until| until.duration_since(now))
    }

    /// Admits one attempt for `key` and counts it as a failure until it is
    /// settled, or refuses it with the time left on the lock. The attempt
    /// that uses up the last failure locks the key for those after it.
    pub fn reserve(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.max_failures == 0 {
            return Ok(());
        }
        let mut entries = self.entries();
        if entries.len() > 100_000 {
            let window = self.window;
            entries.retain(|_, e| {
                e.pending > 0
                    || now.duration_since(e.first) < window
                    || e.locked_until.is_some_and(|u| u > now)
            });
        }
        let entry = entries.entry(key.to_owned()).or_insert(Entry {
            attempts: 0,
            pending: 0,
            first: now,
            locked_until: None,
        });
        if let Some(until) = entry.locked_until.filter(|until| *until > now) {
            return Err(until.duration_since(now));
        }
        if entry.locked_until.is_some() || now.duration_since(entry.first) >= self.window {
            // The lock or the window is over: only attempts in flight still count.
            *entry = Entry {
                attempts: entry.pending,
                pending: entry.pending,
                first: now,
                locked_until: None,
            };
        }
        if entry.attempts >= self.max_failures {
            entry.locked_until = Some(now + self.window);
            return Err(self.window);
        }
        entry.attempts += 1;
        entry.pending += 1;
        if entry.attempts >= self.max_failures {
            entry.locked_until = Some(now + self.window);
        }
        Ok(())
    }

    /// Settles an attempt [`reserve`](Self::reserve) admitted.
    pub fn settle(&self, key: &str, outcome: Outcome) {
        if self.max_failures == 0 {
            return;
        }
        let mut entries = self.entries();
        let Some(entry) = entries.get_mut(key) else {
            return;
        };
        entry.pending = entry.pending.saturating_sub(1);
        match outcome {
            Outcome::Failed => return,
            // Attempts still in flight keep their reservations.
            Outcome::Succeeded => entry.attempts = entry.pending.min(self.max_failures - 1),
            Outcome::Released => entry.attempts = entry.attempts.saturating_sub(1),
        }
        if entry.attempts < self.max_failures {
            entry.locked_until = None;
        }
        if entry.attempts == 0 && entry.pending == 0 {
            entries.remove(key);
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

/// The lockout rule of [`Lockout`], with its counts in this process or in Redis.
pub struct LoginGuard {
    settings: LockoutSettings,
    store: Store,
    /// Counts the attempts refused by a lock.
    metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
}

enum Store {
    Memory(Lockout),
    Redis {
        redis: SharedRedis,
        /// What the keys are counting (`lockout`, `reset-address`, ...).
        part: &'static str,
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

/// [`Lockout::reserve`] in Redis, atomically: 0 when admitted, else the
/// milliseconds left on the lock. KEYS: attempts, pending, locked; ARGV:
/// window (ms), max failures.
const RESERVE_SCRIPT: &str = r"
local wait = redis.call('PTTL', KEYS[3])
if wait > 0 then return wait end
local n
if redis.call('EXISTS', KEYS[1]) == 1 then
  n = redis.call('INCR', KEYS[1])
else
  n = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
  redis.call('SET', KEYS[1], n, 'PX', ARGV[1])
end
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
if n >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[1])
end
return 0
";

/// [`Lockout::settle`] in Redis, atomically. KEYS as [`RESERVE_SCRIPT`];
/// ARGV: window (ms), max failures, `failed` | `succeeded` | `released`.
const SETTLE_SCRIPT: &str = r"
local pending = tonumber(redis.call('GET', KEYS[2]) or '0')
if pending > 0 then pending = redis.call('DECR', KEYS[2]) end
if pending <= 0 then redis.call('DEL', KEYS[2]) end
if ARGV[3] == 'failed' then return 0 end
local max = tonumber(ARGV[2])
local n
if ARGV[3] == 'succeeded' then
  n = math.min(pending, max - 1)
else
  n = tonumber(redis.call('GET', KEYS[1]) or '0') - 1
end
if n <= 0 then
  redis.call('DEL', KEYS[1])
elseif redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SET', KEYS[1], n, 'KEEPTTL')
else
  redis.call('SET', KEYS[1], n, 'PX', ARGV[1])
end
if n < max then redis.call('DEL', KEYS[3]) end
return 0
";

impl LoginGuard {
    /// Counts kept in this process (one node).
    pub fn in_memory(settings: LockoutSettings) -> Self {
        Self {
            settings,
            store: Store::Memory(Lockout::new(settings.max_failures, settings.window)),
            metrics: None,
        }
    }

    /// Counts kept in the shared Redis under `<namespace>:<part>:`.
    pub fn shared(settings: LockoutSettings, redis: SharedRedis, part: &'static str) -> Self {
        Self {
            settings,
            store: Store::Redis { redis, part },
            metrics: None,
        }
    }

    /// Counts refused attempts in `metrics` (`campus_login_lockouts_total`).
    #[must_use]
    pub fn counted_in(mut self, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// In the shared Redis when there is one, else in this process.
    pub fn new(settings: LockoutSettings, redis: Option<&SharedRedis>, part: &'static str) -> Self {
        match redis {
            Some(redis) => Self::shared(settings, redis.clone(), part),
            None => Self::in_memory(settings),
        }
    }

    pub fn settings(&self) -> LockoutSettings {
        self.settings
    }

    fn disabled(&self) -> bool {
        self.settings.max_failures == 0
    }

    /// Redis keys (a digest of the key, never the account itself):
    /// attempts, pending, locked.
    fn redis_keys(redis: &SharedRedis, part: &str, key: &str) -> [String; 3] {
        ["failures", "pending", "locked"].map(|what| redis.key(&format!("{part}:{what}"), key))
    }

    async fn connection(redis: &SharedRedis) -> Result<redis::aio::ConnectionManager, ApiError> {
        redis.connection().await.map_err(unavailable)
    }

    fn window_ms(&self) -> u64 {
        u64::try_from(self.settings.window.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Reserves one sign-in attempt for `key` before its credentials are
    /// checked; while `key` is locked, 429 with django-axes' message and
    /// `Retry-After`. Settle the attempt with [`Attempt::fail`],
    /// [`Attempt::succeed`] or [`Attempt::release`]; one dropped unsettled
    /// (an error, a cancelled request) stays counted as a failure.
    pub async fn reserve(&self, key: &str) -> Result<Attempt<'_>, ApiError> {
        self.try_reserve(key)
            .await?
            .map_err(|wait| ApiError::TooManyRequests {
                detail: LOCKED_MESSAGE.into(),
                code: "account_locked",
                wait_seconds: whole_seconds(wait),
            })
    }

    /// As [`reserve`](Self::reserve), answering the time left on the lock
    /// instead of an error, for callers with a refusal of their own.
    pub async fn try_reserve(&self, key: &str) -> Result<Result<Attempt<'_>, Duration>, ApiError> {
        if self.disabled() {
            return Ok(Ok(Attempt {
                guard: self,
                key: None,
            }));
        }
        let admitted = match &self.store {
            Store::Memory(lockout) => lockout.reserve(key, Instant::now()),
            Store::Redis { redis, part } => {
                let mut conn = Self::connection(redis).await?;
                let [attempts, pending, locked] = Self::redis_keys(redis, part, key);
                let wait_ms: i64 = redis::Script::new(RESERVE_SCRIPT)
                    .key(attempts)
                    .key(pending)
                    .key(locked)
                    .arg(self.window_ms())
                    .arg(self.settings.max_failures)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                match u64::try_from(wait_ms) {
                    Ok(0) | Err(_) => Ok(()),
                    Ok(ms) => Err(Duration::from_millis(ms)),
                }
            }
        };
        if admitted.is_err()
            && let Some(metrics) = &self.metrics
        {
            metrics.lockout_refused();
        }
        Ok(admitted.map(|()| Attempt {
            guard: self,
            key: Some(key.to_owned()),
        }))
    }

    /// `Some(wait)` while `key` is locked.
    pub async fn locked_for(&self, key: &str) -> Result<Option<Duration>, ApiError> {
        if self.disabled() {
            return Ok(None);
        }
        match &self.store {
            Store::Memory(lockout) => Ok(lockout.locked_for(key, Instant::now())),
            Store::Redis { redis, part } => {
                let mut conn = Self::connection(redis).await?;
                let [_, _, locked] = Self::redis_keys(redis, part, key);
                let ttl_ms: i64 = redis::cmd("PTTL")
                    .arg(&locked)
                    .query_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                Ok((ttl_ms > 0).then(|| Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0))))
            }
        }
    }

    async fn settle(&self, key: &str, outcome: Outcome) -> Result<(), ApiError> {
        match &self.store {
            Store::Memory(lockout) => {
                lockout.settle(key, outcome);
                Ok(())
            }
            Store::Redis { redis, part } => {
                let conn = Self::connection(redis).await?;
                self.settle_in_redis(conn, Self::redis_keys(redis, part, key), outcome)
                    .await
            }
        }
    }

    async fn settle_in_redis(
        &self,
        mut conn: redis::aio::ConnectionManager,
        [attempts, pending, locked]: [String; 3],
        outcome: Outcome,
    ) -> Result<(), ApiError> {
        let _: i64 = redis::Script::new(SETTLE_SCRIPT)
            .key(attempts)
            .key(pending)
            .key(locked)
            .arg(self.window_ms())
            .arg(self.settings.max_failures)
            .arg(match outcome {
                Outcome::Failed => "failed",
                Outcome::Succeeded => "succeeded",
                Outcome::Released => "released",
            })
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Settles an attempt dropped unsettled as a failure, without waiting.
    fn settle_dropped(&self, key: String) {
        match &self.store {
            Store::Memory(lockout) => lockout.settle(&key, Outcome::Failed),
            Store::Redis { redis, part } => {
                // Only its in-flight mark is left to clear (it expires with
                // the window otherwise); the failure itself is counted.
                let (Some(conn), Ok(runtime)) =
                    (redis.connected(), tokio::runtime::Handle::try_current())
                else {
                    return;
                };
                let [_, pending, _] = Self::redis_keys(redis, part, &key);
                runtime.spawn(async move {
                    let mut conn = conn;
                    let script = redis::Script::new(
                        "if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end return 0",
                    );
                    let _: Result<i64, _> = script.key(pending).invoke_async(&mut conn).await;
                });
            }
        }
    }
}

/// One sign-in attempt admitted by [`LoginGuard::reserve`], counted as a
/// failure until it is settled otherwise.
#[must_use = "an attempt is settled with fail(), succeed() or release()"]
#[derive(Debug)]
pub struct Attempt<'a> {
    guard: &'a LoginGuard,
    /// `None` once settled, or when the lockout is off.
    key: Option<String>,
}

impl Attempt<'_> {
    /// Wrong credentials: the reservation stays as the counted failure.
    pub async fn fail(mut self) -> Result<(), ApiError> {
        self.settle(Outcome::Failed).await
    }

    /// Right credentials: forgets the failures of the key (and any lock);
    /// attempts still being evaluated keep theirs.
    pub async fn succeed(mut self) -> Result<(), ApiError> {
        self.settle(Outcome::Succeeded).await
    }

    /// Neither: hands the reservation back (a right password whose second
    /// factor is still to come, a request that never reached the check).
    pub async fn release(mut self) -> Result<(), ApiError> {
        self.settle(Outcome::Released).await
    }

    async fn settle(&mut self, outcome: Outcome) -> Result<(), ApiError> {
        match self.key.take() {
            Some(key) => self.guard.settle(&key, outcome).await,
            None => Ok(()),
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.guard.settle_dropped(key);
        }
    }
}

fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
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
            assert_eq!(lockout.reserve("a|1.2.3.4", t0), Ok(()), "attempt {i}");
            lockout.settle("a|1.2.3.4", Outcome::Failed);
        }
        assert_eq!(
            lockout.reserve("a|1.2.3.4", t0),
            Err(Duration::from_secs(900))
        );
        assert_eq!(
            lockout.locked_for("a|1.2.3.4", t0),
            Some(Duration::from_secs(900))
        );
        assert_eq!(
            lockout.reserve("a|5.6.7.8", t0),
            Ok(()),
            "another address is not locked"
        );
        assert_eq!(
            lockout.reserve("a|1.2.3.4", t0 + Duration::from_secs(901)),
            Ok(())
        );
    }

    #[test]
    fn attempts_in_flight_are_bounded_by_the_limit() {
        let lockout = Lockout::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        // Three attempts are admitted before any is settled; the fourth is not.
        for _ in 0..3 {
            assert_eq!(lockout.reserve("k", t0), Ok(()));
        }
        assert!(lockout.reserve("k", t0).is_err());
        // One turns out right: settled failures are forgotten, but the two
        // still in flight keep their places, so only one more is admitted.
        lockout.settle("k", Outcome::Succeeded);
        assert_eq!(lockout.reserve("k", t0), Ok(()));
        assert!(lockout.reserve("k", t0).is_err());
        for _ in 0..3 {
            lockout.settle("k", Outcome::Failed);
        }
        assert!(lockout.reserve("k", t0).is_err(), "three failures lock");
    }

    #[test]
    fn a_released_attempt_is_not_counted() {
        let lockout = Lockout::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(lockout.reserve("k", t0), Ok(()));
        lockout.settle("k", Outcome::Failed);
        // The last admitted attempt locks the key while it is evaluated...
        assert_eq!(lockout.reserve("k", t0), Ok(()));
        assert!(lockout.locked_for("k", t0).is_some());
        // ...and handing it back lifts the lock again.
        lockout.settle("k", Outcome::Released);
        assert_eq!(lockout.locked_for("k", t0), None);
        assert_eq!(lockout.reserve("k", t0), Ok(()));
        lockout.settle("k", Outcome::Failed);
        assert!(lockout.reserve("k", t0).is_err());
    }

    #[test]
    fn success_forgets_failures_and_zero_disables() {
        let lockout = Lockout::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(lockout.reserve("k", t0), Ok(()));
        lockout.settle("k", Outcome::Failed);
        assert_eq!(lockout.reserve("k", t0), Ok(()));
        lockout.settle("k", Outcome::Succeeded);
        assert_eq!(lockout.reserve("k", t0), Ok(()));
        lockout.settle("k", Outcome::Failed);
        assert_eq!(lockout.locked_for("k", t0), None);
        let off = Lockout::new(0, Duration::from_secs(60));
        for _ in 0..10 {
            assert_eq!(off.reserve("k", t0), Ok(()));
        }
        assert_eq!(off.locked_for("k", t0), None);
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
        assert!(crate::shared::parse_url("http://x").is_err());
        assert!(crate::shared::parse_url("redis://127.0.0.1:6379/0").is_ok());
    }

    #[tokio::test]
    async fn guard_in_memory_locks_and_releases() {
        let guard = LoginGuard::in_memory(LockoutSettings {
            max_failures: 2,
            window: Duration::from_millis(300),
        });
        guard.reserve("k").await.unwrap().fail().await.unwrap();
        assert_eq!(guard.locked_for("k").await.unwrap(), None);
        // An attempt dropped unsettled (a cancelled request) counts as a failure.
        drop(guard.reserve("k").await.unwrap());
        assert!(guard.locked_for("k").await.unwrap().is_some());
        let refused = guard.reserve("k").await.unwrap_err();
        assert!(matches!(
            refused,
            ApiError::TooManyRequests {
                code: "account_locked",
                ..
            }
        ));
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(guard.locked_for("k").await.unwrap(), None);
        guard.reserve("k").await.unwrap().fail().await.unwrap();
        guard.reserve("k").await.unwrap().succeed().await.unwrap();
        guard.reserve("k").await.unwrap().fail().await.unwrap();
        assert_eq!(guard.locked_for("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn guard_reports_an_unreachable_redis_as_unavailable() {
        // Nothing listens on port 1.
        let guard = LoginGuard::shared(
            LockoutSettings {
                max_failures: 2,
                window: Duration::from_secs(60),
            },
            SharedRedis::open("redis://127.0.0.1:1/", "campus", "test").unwrap(),
            "lockout",
        );
        assert!(matches!(
            guard.locked_for("k").await,
            Err(ApiError::Unavailable(_))
        ));
        assert!(matches!(
            guard.reserve("k").await,
            Err(ApiError::Unavailable(_))
        ));
    }
}
