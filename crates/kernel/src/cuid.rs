//! Collision-resistant ids in the CUID form (`c` + 24 lowercase base-36
//! characters, 25 in all), for systems whose original data and frontends use
//! Prisma's CUIDs (axis). Laid out as CUID v1: time, a per-process counter,
//! a process fingerprint and randomness, so ids made later sort later
//! (to the millisecond) and ids made on many nodes at once do not collide.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;

/// Characters in an id.
pub const LEN: usize = 25;

const BASE: u64 = 36;
const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A new id: `c`, the milliseconds since 1970 (8), a counter (4), the
/// process's fingerprint (4), random (8).
pub fn new() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static FINGERPRINT: LazyLock<String> = LazyLock::new(|| {
        let pid = u64::from(std::process::id());
        let host: u64 = rand::rng().random();
        let mut print = pad(pid % BASE.pow(2), 2);
        print.push_str(&pad(host % BASE.pow(2), 2));
        print
    });
    let millis = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed) % BASE.pow(4);
    let random: u64 = rand::rng().random_range(0..BASE.pow(8));
    let mut id = String::with_capacity(LEN);
    id.push('c');
    id.push_str(&pad(millis % BASE.pow(8), 8));
    id.push_str(&pad(count, 4));
    id.push_str(&FINGERPRINT);
    id.push_str(&pad(random, 8));
    id
}

/// Whether `text` has the form of an id (`^[a-z][a-z0-9]{24}$`): what a
/// path or an `X-Client-ID` must be before it is looked up.
pub fn is_valid(text: &str) -> bool {
    text.len() == LEN
        && text.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `n` in base 36, left-padded with zeros to `width` digits (`n` must fit).
fn pad(mut n: u64, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for slot in digits.iter_mut().rev() {
        *slot = DIGITS[usize::try_from(n % BASE).unwrap_or(0)];
        n /= BASE;
    }
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_have_the_cuid_form() {
        for _ in 0..1000 {
            let id = new();
            assert_eq!(id.len(), LEN, "{id}");
            assert!(is_valid(&id), "{id}");
            assert!(id.starts_with('c'));
        }
    }

    #[test]
    fn ids_do_not_repeat_and_later_ones_sort_later() {
        let ids: Vec<String> = (0..50_000).map(|_| new()).collect();
        let distinct: HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // The time part never goes back.
        assert!(ids.windows(2).all(|w| w[0][1..9] <= w[1][1..9]));
    }

    #[test]
    fn only_the_form_is_valid() {
        assert!(is_valid("cjld2cjxh0000qzrmn831i7rn"));
        for bad in [
            "",
            "cjld2cjxh0000qzrmn831i7r",
            "cjld2cjxh0000qzrmn831i7rnn",
            "Cjld2cjxh0000qzrmn831i7rn",
            "1jld2cjxh0000qzrmn831i7rn",
            "cjld2cjxh0000qzrmn831i7r-",
            "cjld2cjxh0000qzrmn831i7rñ",
            "00000000-0000-0000-0000-000000000000",
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn base_36_is_padded() {
        assert_eq!(pad(0, 4), "0000");
        assert_eq!(pad(35, 2), "0z");
        assert_eq!(pad(36, 2), "10");
        assert_eq!(pad(BASE.pow(4) - 1, 4), "zzzz");
    }
}
