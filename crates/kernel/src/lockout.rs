//! Login lockout: after too many failed sign-ins for one account from one
//! address, further attempts are refused for a while, whatever the password.
//! Keyed by account and IP, so an attacker cannot lock a user out everywhere.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
}
