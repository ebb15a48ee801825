//! The clock every system reads.

use chrono::{DateTime, SubsecRound, Utc};

/// The current time, truncated to microseconds.
///
/// Django stores and renders microseconds; PostgreSQL and MySQL's
/// `DATETIME(6)` keep no more. Reading the clock here, rather than
/// `Utc::now()`, keeps a timestamp the same whether it is rendered from the
/// value just written or from the row read back, and keeps responses at DRF's
/// six fractional digits instead of chrono's nine.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now().trunc_subsecs(6);
    #[cfg(feature = "testing")]
    if let Ok(shift) = SHIFT.try_with(|shift| *shift) {
        return now + shift;
    }
    now
}

#[cfg(feature = "testing")]
tokio::task_local! {
    static SHIFT: chrono::TimeDelta;
}

/// Runs `future` with [`now`] moved by `by` (tests only): a session "an hour
/// later" is reached by running the request an hour later, not by sleeping.
/// The shift holds inside the calling task, so parallel tests never see each
/// other's clocks.
#[cfg(feature = "testing")]
pub async fn shifted<F: std::future::Future>(by: chrono::TimeDelta, future: F) -> F::Output {
    SHIFT.scope(by, future).await
}

/// `at` as RFC 3339 text, exactly as serde renders it in a response
/// (`2026-05-01T09:30:00.123456Z`), for values kept inside JSON columns.
pub fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    #[test]
    fn now_has_no_sub_microsecond_part() {
        let at = super::now();
        assert_eq!(at.nanosecond() % 1_000, 0);
        let text = serde_json::to_string(&at).unwrap_or_default();
        let fraction = text
            .trim_matches('"')
            .trim_end_matches('Z')
            .split('.')
            .nth(1)
            .unwrap_or("");
        assert!(fraction.len() <= 6, "{text}");
    }
}
