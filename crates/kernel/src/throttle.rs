//! DRF's `AnonRateThrottle` and `UserRateThrottle`: a sliding window of request
//! times per client (anonymous: by IP; authenticated: by user id).

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

const SHARDS: usize = 16;

/// Request histories, sharded to keep lock contention low.
#[derive(Debug)]
pub struct Throttle {
    anon: Option<Rate>,
    user: Option<Rate>,
    shards: Vec<Mutex<Shard>>,
}

#[derive(Debug, Default)]
struct Shard {
    histories: HashMap<String, VecDeque<Instant>>,
    checks: u32,
}

impl Throttle {
    pub fn new(anon: Option<Rate>, user: Option<Rate>) -> Self {
        Self {
            anon,
            user,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
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
    let (key, rate) = match user {
        Some(id) => (format!("user:{tenant}{id}"), state.throttle.user),
        None => {
            let ip = crate::extract::client_ip(&parts, state.trusted_proxies)
                .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
            (format!("anon:{tenant}{ip}"), state.throttle.anon)
        }
    };
    if let Some(rate) = rate
        && let Err(wait) = state.throttle.check(&key, rate, Instant::now())
    {
        let wait_seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return ApiError::Throttled {
            wait_seconds: wait_seconds.max(1),
        }
        .into_response();
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
