//! DRF's `AnonRateThrottle` and `UserRateThrottle`: a sliding window of request
//! times per client (anonymous: by IP; authenticated: by user id).
//!
//! The windows live in this process, or with `CAMPUS_REDIS_URL` in Redis
//! (one sorted set of request times per client, checked and extended by one
//! script, timed by Redis' clock), so a limit holds across every node.
//! While Redis cannot be reached, `CAMPUS_THROTTLE_FAIL` decides: `open`
//! (the default) lets requests through unthrottled, `closed` answers 503.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::Rate;
use crate::error::ApiError;
use crate::jwt::{Jwt, TokenType, bearer_token};
use crate::metrics::Metrics;
use crate::shared::SharedRedis;

const SHARDS: usize = 16;

/// Request histories: in this process (sharded to keep lock contention
/// low) or in the shared Redis.
#[derive(Debug)]
pub struct Throttle {
    anon: Option<Rate>,
    user: Option<Rate>,
    shards: Vec<Mutex<Shard>>,
    shared: Option<SharedRedis>,
    fail_open: bool,
    /// When an unreachable store was last logged.
    warned: Mutex<Option<Instant>>,
}

/// DRF's sliding window in Redis, atomically: 0 when admitted (the request
/// recorded), else the milliseconds to wait (DRF's remaining window divided
/// by the requests that will be available). KEYS: the history; ARGV:
/// period (ms), requests allowed, a member unique to this request.
const WINDOW_SCRIPT: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local period = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local remaining = period - (now - tonumber(oldest[2]))
  local available = math.max(limit + 1 - n, 1)
  return math.max(math.floor(remaining / available), 1)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], period)
return 0
";

/// What a throttle check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Refused: try again after this long.
    Wait(Duration),
    /// The shared counters could not be reached and the throttle fails
    /// closed.
    Unavailable,
}

#[derive(Debug, Default)]
struct Shard {
    histories: HashMap<String, VecDeque<Instant>>,
    checks: u32,
}

impl Throttle {
    /// Windows kept in this process.
    pub fn new(anon: Option<Rate>, user: Option<Rate>) -> Self {
        Self {
            anon,
            user,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            shared: None,
            fail_open: true,
            warned: Mutex::new(None),
        }
    }

    /// Windows kept in the shared Redis when there is one; `fail_open`
    /// decides what a request gets while it cannot be reached.
    pub fn shared(
        anon: Option<Rate>,
        user: Option<Rate>,
        redis: Option<SharedRedis>,
        fail_open: bool,
    ) -> Self {
        Self {
            shared: redis,
            fail_open,
            ..Self::new(anon, user)
        }
    }

    /// Records a request by `key` under `rate`, in Redis or in this
    /// process; `metrics` counts a store failure.
    pub async fn admit(&self, key: &str, rate: Rate, metrics: &Metrics) -> Admission {
        let Some(redis) = &self.shared else {
            return match self.check(key, rate, Instant::now()) {
                Ok(()) => Admission::Admitted,
                Err(wait) => Admission::Wait(wait),
            };
        };
        let period_ms = u64::try_from(rate.period.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let answer: redis::RedisResult<i64> = async {
            let mut connection = redis.connection().await?;
            redis::Script::new(WINDOW_SCRIPT)
                .key(redis.key("throttle", key))
                .arg(period_ms)
                .arg(rate.requests)
                .arg(uuid::Uuid::new_v4().simple().to_string())
                .invoke_async(&mut connection)
                .await
        }
        .await;
        match answer {
            Ok(0) => Admission::Admitted,
            Ok(wait_ms) => Admission::Wait(Duration::from_millis(
                u64::try_from(wait_ms).unwrap_or(1000),
            )),
            Err(error) => {
                metrics.throttle_store_failed();
                // Once a few seconds, not once a request.
                if self.warned.try_lock().is_ok_and(|mut last| {
                    let due =
                        last.is_none_or(|at: Instant| at.elapsed() >= Duration::from_secs(10));
                    if due {
                        *last = Some(Instant::now());
                    }
                    due
                }) {
                    tracing::warn!(%error, fail_open = self.fail_open, "throttle store (Redis) unreachable");
                }
                if self.fail_open {
                    Admission::Admitted
                } else {
                    Admission::Unavailable
                }
            }
        }
    }

    pub fn is_off(&self) -> bool {
        self.anon.is_none() && self.user.is_none()
    }

    /// Records a request by `key` under `rate`; `Err(wait)` when it must be refused.
    pub fn check(&self, key: &str, rate: Rate, now: Instant) -> Result<(), Duration> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        let shard = &self.shards[(hasher.finish() as usize) % SHARDS];
        let mut shard = shard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        shard.checks = shard.checks.wrapping_add(1);
        if shard.checks.is_multiple_of(4096) {
            // Forget clients whose whole window has passed.
            shard.histories.retain(|_, h| {
                h.front().is_some_and(|newest| {
                    now.duration_since(*newest) < rate.period.max(Duration::from_secs(86_400))
                })
            });
        }
        let history = shard.histories.entry(key.to_owned()).or_default();
        while history
            .back()
            .is_some_and(|oldest| now.duration_since(*oldest) >= rate.period)
        {
            history.pop_back();
        }
        if history.len() >= rate.requests as usize {
            // DRF: remaining window / requests that will be available.
            let oldest = history.back().copied().unwrap_or(now);
            let remaining = rate.period.saturating_sub(now.duration_since(oldest));
            let available = (rate.requests as usize + 1)
                .saturating_sub(history.len())
                .max(1);
            return Err(remaining / available as u32);
        }
        history.push_front(now);
        Ok(())
    }
}

/// What the throttling middleware needs.
#[derive(Debug, Clone)]
pub struct ThrottleLayerState {
    pub throttle: Arc<Throttle>,
    pub jwt: Arc<Jwt>,
    pub trusted_proxies: usize,
    /// Paths never throttled (health probes).
    pub exempt: &'static [&'static str],
    pub metrics: Arc<Metrics>,
}

/// Throttles every request: by user when a valid access token is sent, by
/// client IP otherwise.
pub async fn middleware(
    State(state): State<ThrottleLayerState>,
    request: Request,
    next: Next,
) -> Response {
    if state.throttle.is_off() || state.exempt.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let claims = bearer_token(&parts).and_then(|t| state.jwt.verify(t, TokenType::Access).ok());
    let user = claims.as_ref().map(|c| c.user_id.clone());
    if let Some(claims) = claims {
        // Verified once here; the `AccessClaims` extractor reuses it.
        parts.extensions.insert(crate::jwt::AccessClaims(claims));
    }
    // Counted per tenant: account ids repeat across tenants, and one
    // tenant's traffic must not use up another's allowance.
    let tenant = crate::db::tenant().map_or_else(String::new, |t| format!("{t}/"));
    let (scope, key, rate) = match user {
        Some(id) => ("user", format!("user:{tenant}{id}"), state.throttle.user),
        None => {
            let ip = crate::extract::client_ip(&parts, state.trusted_proxies)
                .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
            ("anon", format!("anon:{tenant}{ip}"), state.throttle.anon)
        }
    };
    if let Some(rate) = rate {
        match state.throttle.admit(&key, rate, &state.metrics).await {
            Admission::Admitted => {}
            Admission::Wait(wait) => {
                state.metrics.throttled(scope);
                let wait_seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                return ApiError::Throttled {
                    wait_seconds: wait_seconds.max(1),
                }
                .into_response();
            }
            Admission::Unavailable => {
                return ApiError::Unavailable(
                    "The service is temporarily unavailable; please try again.".into(),
                )
                .into_response();
            }
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window_refuses_then_recovers() {
        let throttle = Throttle::new(None, None);
        let rate = Rate {
            requests: 3,
            period: Duration::from_secs(60),
        };
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(
                throttle
                    .check("a", rate, t0 + Duration::from_secs(i))
                    .is_ok()
            );
        }
        let wait = throttle
            .check("a", rate, t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(
            throttle
                .check("b", rate, t0 + Duration::from_secs(10))
                .is_ok(),
            "keys are independent"
        );
        assert!(
            throttle
                .check("a", rate, t0 + Duration::from_secs(61))
                .is_ok(),
            "the oldest request left the window"
        );
    }
}
