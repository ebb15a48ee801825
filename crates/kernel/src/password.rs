//! Password hashing in Django's formats, and Django's password validators.
//!
//! Hashes are stored exactly as Django stores them (`pbkdf2_sha256$…`,
//! `argon2$argon2id$…`), so accounts imported from a Django database keep
//! working and are re-hashed on the next login when their parameters differ from
//! ours. Hashing is deliberately slow, so it runs on the blocking pool behind a
//! semaphore: a burst of logins waits in line instead of starving other requests.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use rand::Rng;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// The algorithm (and its cost) new hashes are made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Django's `pbkdf2_sha256` with this many iterations (Django 4.2: 600 000).
    Pbkdf2Sha256 { iterations: u32 },
    /// Django's `argon2` (Argon2id, version 19) with memory in KiB.
    Argon2id {
        memory_kib: u32,
        time_cost: u32,
        parallelism: u32,
    },
}

impl Algorithm {
    /// Django 4.2's PBKDF2 default.
    pub const DJANGO_PBKDF2: Self = Self::Pbkdf2Sha256 {
        iterations: 600_000,
    };
    /// OWASP's Argon2id minimum (19 MiB, 2 passes, 1 lane): strong, yet cheap
    /// enough in memory to hash several logins at once.
    pub const ARGON2ID: Self = Self::Argon2id {
        memory_kib: 19_456,
        time_cost: 2,
        parallelism: 1,
    };
}

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub matches: bool,
    /// The hash is valid but made with other parameters: store a fresh one.
    pub needs_rehash: bool,
}

#[derive(Debug, Clone)]
pub struct Hasher {
    preferred: Algorithm,
    permits: Arc<Semaphore>,
}

impl Hasher {
    pub fn new(preferred: Algorithm, concurrency: usize) -> Self {
        Self {
            preferred,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.preferred
    }

    /// Hashes `password` with the preferred algorithm and a fresh salt.
    pub async fn make(&self, password: &str) -> Result<String, ApiError> {
        let (password, algorithm) = (password.to_owned(), self.preferred);
        self.blocking(move || encode(&password, &new_salt(), algorithm))
            .await
    }

    /// Checks `password` against a stored Django hash.
    pub async fn verify(&self, password: &str, encoded: &str) -> Result<Verdict, ApiError> {
        let (password, encoded, preferred) =
            (password.to_owned(), encoded.to_owned(), self.preferred);
        self.blocking(move || verify(&password, &encoded, preferred))
            .await
    }

    /// Spends the time a real check would, so a login for an unknown account
    /// cannot be told apart from a wrong password by its timing.
    pub async fn verify_nothing(&self, password: &str) -> Result<(), ApiError> {
        self.make(password).await.map(drop)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(ApiError::internal)
    }
}

fn new_salt() -> String {
    // Django's salts: 22 characters from [a-zA-Z0-9], about 128 bits.
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(22)
        .map(char::from)
        .collect()
}

/// Encodes `password` in Django's format for `algorithm`.
pub fn encode(password: &str, salt: &str, algorithm: Algorithm) -> String {
    match algorithm {
        Algorithm::Pbkdf2Sha256 { iterations } => {
            let digest = pbkdf2_sha256(password, salt, iterations);
            format!(
                "pbkdf2_sha256${iterations}${salt}${}",
                STANDARD.encode(digest)
            )
        }
        Algorithm::Argon2id {
            memory_kib,
            time_cost,
            parallelism,
        } => {
            let hash = argon2id(
                password,
                salt.as_bytes(),
                memory_kib,
                time_cost,
                parallelism,
                32,
            )
            .unwrap_or_default();
            format!(
                "argon2$argon2id$v=19$m={memory_kib},t={time_cost},p={parallelism}${}${}",
                STANDARD_NO_PAD.encode(salt.as_bytes()),
                STANDARD_NO_PAD.encode(hash)
            )
        }
    }
}

fn pbkdf2_sha256(password: &str, salt: &str, iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    out
}

fn argon2id(password: &str, salt: &[u8], m: u32, t: u32, p: u32, len: usize) -> Option<Vec<u8>> {
    let params = argon2::Params::new(m, t, p, Some(len)).ok()?;
    let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = vec![0u8; len];
    hasher
        .hash_password_into(password.as_bytes(), salt, &mut out)
        .ok()?;
    Some(out)
}

/// Checks `password` against `encoded`; anything unparsable (including
/// Django's unusable `!…` passwords) simply does not match.
pub fn verify(password: &str, encoded: &str, preferred: Algorithm) -> Verdict {
    let no = Verdict {
        matches: false,
        needs_rehash: false,
    };
    let Some((algorithm, rest)) = encoded.split_once('$') else {
        return no;
    };
    match algorithm {
        "pbkdf2_sha256" => {
            let mut parts = rest.splitn(3, '$');
            let (Some(iterations), Some(salt), Some(hash)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return no;
            };
            let Ok(iterations) = iterations.parse::<u32>() else {
                return no;
            };
            let Ok(expected) = STANDARD.decode(hash) else {
                return no;
            };
            if iterations == 0 || expected.len() != 32 {
                return no;
            }
            let actual = pbkdf2_sha256(password, salt, iterations);
            Verdict {
                matches: bool::from(actual.ct_eq(expected.as_slice())),
                needs_rehash: Algorithm::Pbkdf2Sha256 { iterations } != preferred,
            }
        }
        "argon2" => {
            // argon2$argon2id$v=19$m=102400,t=2,p=8$<salt>$<hash>
            let parts: Vec<&str> = rest.split('$').collect();
            let [variant, version, params, salt, hash] = parts.as_slice() else {
                return no;
            };
            if *variant != "argon2id" || *version != "v=19" {
                return no;
            }
            let (mut m, mut t, mut p) = (0, 0, 0);
            for pair in params.split(',') {
                match pair.split_once('=') {
                    Some(("m", v)) => m = v.parse().unwrap_or(0),
                    Some(("t", v)) => t = v.parse().unwrap_or(0),
                    Some(("p", v)) => p = v.parse().unwrap_or(0),
                    _ => return no,
                }
            }
            let (Ok(salt), Ok(expected)) =
                (STANDARD_NO_PAD.decode(salt), STANDARD_NO_PAD.decode(hash))
            else {
                return no;
            };
            // Refuse absurd parameters from a tampered row instead of hashing with them.
            if !(8..=1_048_576).contains(&m)
                || !(1..=64).contains(&t)
                || !(1..=64).contains(&p)
                || expected.len() < 16
            {
                return no;
            }
            let Some(actual) = argon2id(password, &salt, m, t, p, expected.len()) else {
                return no;
            };
            Verdict {
                matches: bool::from(actual.as_slice().ct_eq(expected.as_slice())),
                needs_rehash: Algorithm::Argon2id {
                    memory_kib: m,
                    time_cost: t,
                    parallelism: p,
                } != preferred,
            }
        }
        _ => no,
    }
}

/// The user attributes Django's similarity validator compares against, with
/// their verbose names ("email address", "full name").
pub type Attributes<'a> = &'a [(&'a str, &'a str)];

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../assets/common-passwords.txt")
        .lines()
        .map(str::trim)
        .collect()
});

/// Django's default validators: similarity to the user's attributes, minimum
/// length 8, the 20 000 common passwords, entirely numeric. Returns every
/// message that applies, in Django's order and wording.
pub fn validate(password: &str, attributes: Attributes<'_>) -> Vec<String> {
    validate_with(password, attributes, 8)
}

/// Django's default validators with `MinimumLengthValidator(min_length)`.
pub fn validate_with(password: &str, attributes: Attributes<'_>, min_length: usize) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(name) = too_similar(password, attributes) {
        errors.push(format!("The password is too similar to the {name}."));
    }
    if password.chars().count() < min_length {
        errors.push(format!(
            "This password is too short. It must contain at least {min_length} characters."
        ));
    }
    if COMMON.contains(password.trim().to_lowercase().as_str()) {
        errors.push("This password is too common.".to_owned());
    }
    if !password.is_empty() && password.chars().all(|c| c.is_numeric()) {
        errors.push("This password is entirely numeric.".to_owned());
    }
    errors
}

/// A "strong password" rule on top of Django's validators: at least one
/// upper-case letter, lower-case letter, digit and symbol (`[^\w\s]`), and none
/// of `personal` (an email's local part, names; parts shorter than 3
/// characters are ignored) inside the password, case-insensitively.
pub fn strong_rules(password: &str, personal: &[&str]) -> Vec<String> {
    let mut errors = Vec::new();
    if !password.chars().any(char::is_uppercase) {
        errors.push("Password must contain at least one uppercase letter.".to_owned());
    }
    if !password.chars().any(char::is_lowercase) {
        errors.push("Password must contain at least one lowercase letter.".to_owned());
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        errors.push("Password must contain at least one number.".to_owned());
    }
    if !password
        .chars()
        .any(|c| !(c.is_alphanumeric() || c == '_' || c.is_whitespace()))
    {
        errors.push("Password must contain at least one special character.".to_owned());
    }
    let lowered = password.to_lowercase();
    if personal
        .iter()
        .map(|p| p.trim().to_lowercase())
        .any(|p| p.chars().count() >= 3 && lowered.contains(&p))
    {
        errors.push("Password must not contain your email address or name.".to_owned());
    }
    errors
}

/// Django's `UserAttributeSimilarityValidator` with `max_similarity = 0.7`.
fn too_similar<'a>(password: &str, attributes: Attributes<'a>) -> Option<&'a str> {
    const MAX_SIMILARITY: f64 = 0.7;
    let password = password.to_lowercase();
    let password_len = password.chars().count();
    for (verbose_name, value) in attributes {
        if value.is_empty() {
            continue;
        }
        let value = value.to_lowercase();
        let mut parts: Vec<&str> = value
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .collect();
        parts.push(&value);
        for part in parts {
            let part_len = part.chars().count();
            // exceeds_maximum_length_ratio: a short part inside a long password is not "similar".
            if password_len >= 10 * part_len
                && (part_len as f64) < MAX_SIMILARITY / 2.0 * password_len as f64
            {
                continue;
            }
            if quick_ratio(&password, part) >= MAX_SIMILARITY {
                return Some(verbose_name);
            }
        }
    }
    None
}

/// difflib's `SequenceMatcher.quick_ratio`: 2·(shared characters, as a
/// multiset) / (total length).
fn quick_ratio(a: &str, b: &str) -> f64 {
    let total = a.chars().count() + b.chars().count();
    if total == 0 {
        return 1.0;
    }
    let mut available = std::collections::HashMap::<char, usize>::new();
    for c in b.chars() {
        *available.entry(c).or_default() += 1;
    }
    let mut matches = 0usize;
    for c in a.chars() {
        if let Some(n) = available.get_mut(&c).filter(|n| **n > 0) {
            *n -= 1;
            matches += 1;
        }
    }
    2.0 * matches as f64 / total as f64
}

/// A password no one can sign in with (Django's `set_unusable_password`):
/// `!` and random text, which no hasher matches.
pub fn unusable() -> String {
    format!("!{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DJANGO_PBKDF2: &str =
        "pbkdf2_sha256$600000$seasalt0123456789abcde$9r1kFfE6rJF6hhj/MNZ6CMwaV4hj/yrcbQkd7Mmd4lY=";
    const DJANGO_ARGON2: &str = "argon2$argon2id$v=19$m=102400,t=2,p=8$c2Vhc2FsdDAxMjM0NTY3ODlhYmNkZQ$PNT3uGeXznfTNLAn2CfThQveRvYzaGsnCToZMeYOxl8";

    #[test]
    fn hashes_made_by_django_verify() {
        let v = verify("lètmein-campus", DJANGO_PBKDF2, Algorithm::DJANGO_PBKDF2);
        assert_eq!(
            v,
            Verdict {
                matches: true,
                needs_rehash: false
            }
        );
        assert!(!verify("letmein-campus", DJANGO_PBKDF2, Algorithm::DJANGO_PBKDF2).matches);
        let v = verify("lètmein-campus", DJANGO_ARGON2, Algorithm::DJANGO_PBKDF2);
        assert_eq!(
            v,
            Verdict {
                matches: true,
                needs_rehash: true
            }
        );
        assert!(!verify("wrong", DJANGO_ARGON2, Algorithm::ARGON2ID).matches);
    }

    #[test]
    fn our_hashes_are_django_hashes() {
        assert_eq!(
            encode(
                "lètmein-campus",
                "seasalt0123456789abcde",
                Algorithm::DJANGO_PBKDF2
            ),
            DJANGO_PBKDF2
        );
        let argon = Algorithm::Argon2id {
            memory_kib: 102_400,
            time_cost: 2,
            parallelism: 8,
        };
        assert_eq!(
            encode("lètmein-campus", "seasalt0123456789abcde", argon),
            DJANGO_ARGON2
        );
    }

    #[test]
    fn other_parameters_ask_for_a_rehash_and_garbage_never_matches() {
        let cheap = Algorithm::Pbkdf2Sha256 { iterations: 1000 };
        let hash = encode("pw-123456", "abc", cheap);
        assert_eq!(
            verify("pw-123456", &hash, Algorithm::DJANGO_PBKDF2),
            Verdict {
                matches: true,
                needs_rehash: true
            }
        );
        for garbage in [
            "",
            "!unusable",
            "md5$x$y",
            "pbkdf2_sha256$0$s$h",
            "pbkdf2_sha256$x$s$h",
            "argon2$argon2id$v=19$m=999999999,t=1,p=1$YQ$YQ",
        ] {
            assert!(!verify("pw", garbage, cheap).matches, "{garbage}");
        }
    }

    #[tokio::test]
    async fn hasher_round_trips_off_the_runtime() {
        let hasher = Hasher::new(Algorithm::Pbkdf2Sha256 { iterations: 1000 }, 1);
        let hash = hasher.make("correct horse").await.unwrap();
        assert!(hash.starts_with("pbkdf2_sha256$1000$"));
        assert!(hasher.verify("correct horse", &hash).await.unwrap().matches);
        assert!(!hasher.verify("wrong horse", &hash).await.unwrap().matches);
    }

    #[test]
    fn strong_rules_need_every_class_and_nothing_personal() {
        assert_eq!(
            strong_rules("Quiet-Harbour-42", &["thandi", "nkosi"]),
            Vec::<String>::new()
        );
        assert_eq!(
            strong_rules("alllowercase", &[]),
            vec![
                "Password must contain at least one uppercase letter.",
                "Password must contain at least one number.",
                "Password must contain at least one special character.",
            ]
        );
        assert_eq!(
            strong_rules("Thandi-Harbour-42", &["thandi", "xy"]),
            vec!["Password must not contain your email address or name."]
        );
        assert_eq!(strong_rules("Xy-Harbour-42", &["xy"]), Vec::<String>::new());
        assert_eq!(
            validate_with("Short-1a", &[], 12),
            vec!["This password is too short. It must contain at least 12 characters."]
        );
    }

    #[test]
    fn validators_speak_django() {
        let attrs: Attributes<'_> = &[
            ("email address", "jane.wanjiru@mksu.ac.ke"),
            ("full name", "Jane Wanjiru"),
        ];
        assert_eq!(validate("Tr1cky-Passphrase", attrs), Vec::<String>::new());
        assert_eq!(
            validate("1234567", attrs),
            vec![
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
                "This password is entirely numeric.",
            ]
        );
        assert_eq!(
            validate("password", attrs),
            vec!["This password is too common."]
        );
        // Expected values checked against Django 4.2's own validators.
        assert_eq!(
            validate("janewanjiru1", attrs),
            vec!["The password is too similar to the email address."]
        );
        assert_eq!(
            validate("wanjiru.jane", attrs),
            vec!["The password is too similar to the email address."]
        );
        assert_eq!(validate("mksu-ac-ke-2024", attrs), Vec::<String>::new());
        let name_only: Attributes<'_> = &[("full name", "Jane Wanjiru")];
        assert_eq!(
            validate("JaneWanjiru", name_only),
            vec!["The password is too similar to the full name."]
        );
    }
}
