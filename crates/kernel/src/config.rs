//! Settings from `CAMPUS_*` environment variables (and a `.env` file).
//!
//! A bad value stops start-up with one line naming the variable; nothing is
//! silently replaced by a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::Rng;

use crate::lockout::LockoutSettings;
use crate::password::Algorithm;

/// What a system chooses for itself; the environment may override the
/// throttles, token lifetimes, lockout and body limit.
#[derive(Debug, Clone)]
pub struct SystemDefaults {
    /// `clearance`, `pss`, ...: names the default SQLite file, the Redis key
    /// space and the system's rows in shared kernel tables.
    pub name: &'static str,
    pub throttle_anon: Option<Rate>,
    pub throttle_user: Option<Rate>,
    pub access_token_lifetime: Duration,
    pub refresh_token_lifetime: Duration,
    /// Failed sign-ins that lock an account+address, and for how long.
    pub lockout: LockoutSettings,
    /// How new passwords are hashed.
    pub password: Algorithm,
    /// Largest request body accepted, in bytes (`CAMPUS_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// What cross-origin browsers may send besides the standard headers.
    pub cors: CorsPolicy,
}

impl SystemDefaults {
    /// DRF's and SimpleJWT's defaults (no throttles, 5-minute access and
    /// 1-day refresh tokens), 10 failures in 15 minutes, Argon2id, 10 MiB
    /// bodies; a system overrides what its spec says with struct update syntax.
    pub const fn base(name: &'static str) -> Self {
        Self {
            name,
            throttle_anon: None,
            throttle_user: None,
            access_token_lifetime: Duration::from_secs(5 * 60),
            refresh_token_lifetime: Duration::from_secs(24 * 3600),
            lockout: LockoutSettings {
                max_failures: 10,
                window: Duration::from_secs(15 * 60),
            },
            password: Algorithm::ARGON2ID,
            max_body_bytes: 10 * 1024 * 1024,
            cors: CorsPolicy::STANDARD,
        }
    }
}

/// Cross-origin policy beyond the allowed origins (`CAMPUS_CORS_ALLOWED_ORIGINS`).
#[derive(Debug, Clone, Copy)]
pub struct CorsPolicy {
    /// Browsers may send cookies (`Access-Control-Allow-Credentials: true`);
    /// ignored when the origins are `*`, which may never carry credentials.
    pub credentials: bool,
    /// Request headers allowed besides `authorization`, `content-type`,
    /// `accept` and `x-request-id` (for example `x-client-id`).
    pub extra_headers: &'static [&'static str],
}

impl CorsPolicy {
    pub const STANDARD: Self = Self {
        credentials: false,
        extra_headers: &[],
    };
}

/// A DRF throttle rate such as `100/hour`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub requests: u32,
    pub period: Duration,
}

impl Rate {
    /// Parses DRF's `N/period` form, where only the period's first letter counts
    /// (`s`, `m`, `h`, `d`), exactly as DRF reads it. `off` means no throttle.
    pub fn parse_setting(value: &str) -> Result<Option<Rate>, String> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("off") || value.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        let (count, period) = value
            .split_once('/')
            .ok_or_else(|| format!("expected N/period such as 100/hour or off, got {value:?}"))?;
        let requests: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{count:?} is not a positive number of requests"))?;
        let seconds = match period.trim().chars().next() {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3600,
            Some('d') => 86_400,
            _ => {
                return Err(format!(
                    "{period:?} is not one of second, minute, hour, day"
                ));
            }
        };
        Ok(Some(Rate {
            requests,
            period: Duration::from_secs(seconds),
        }))
    }
}

/// Everything a running system reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub system: &'static str,
    pub database_url: String,
    pub secret_key: String,
    pub bind: SocketAddr,
    pub media_root: PathBuf,
    /// `CAMPUS_STORAGE_URL`: where uploads live (the media root by default,
    /// or an S3 bucket).
    pub storage: crate::upload::StorageSettings,
    pub cors_allowed_origins: Vec<String>,
    pub throttle_anon: Option<Rate>,
    pub throttle_user: Option<Rate>,
    pub access_token_lifetime: Duration,
    pub refresh_token_lifetime: Duration,
    pub trusted_proxies: usize,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// `CAMPUS_LOGIN_MAX_FAILURES` / `CAMPUS_LOGIN_LOCKOUT_SECONDS`.
    pub lockout: LockoutSettings,
    /// How new passwords are hashed (the system's choice; tests lower its cost).
    pub password: Algorithm,
    pub cors: CorsPolicy,
    /// Concurrent password hashes allowed; more wait in line.
    pub hash_concurrency: usize,
    /// Outgoing mail: `smtp://…`, `smtps://…`, `file:///dir` or `console`;
    /// unset means no email is sent.
    pub email_url: Option<String>,
    pub email_from: String,
    /// `CAMPUS_REDIS_URL`: when set, state shared across nodes (login
    /// lockout) lives in this Redis.
    pub redis_url: Option<String>,
    /// `CAMPUS_REDIS_PREFIX` (default `campus`): the first part of every
    /// Redis key, so deployments sharing one Redis keep apart.
    pub redis_prefix: String,
    /// `CAMPUS_THROTTLE_FAIL` (`open`, the default, or `closed`): whether
    /// throttled requests pass (open) or answer 503 (closed) while the
    /// Redis holding the throttle counters cannot be reached.
    pub throttle_fail_open: bool,
    /// `CAMPUS_METRICS_BIND`: where `GET /metrics` is served on its own,
    /// to anyone who can reach it; unset, it is served on the main address
    /// to loopback clients and administrators only.
    pub metrics_bind: Option<SocketAddr>,
    /// `CAMPUS_JOB_LEASE_SECONDS` (default 300): how long a claimed job is
    /// its worker's; a job whose node died is taken by another after this.
    pub job_lease: Duration,
    /// How long clients may take to send a request
    /// (`CAMPUS_HEADER_READ_TIMEOUT`, `CAMPUS_REQUEST_BODY_TIMEOUT`).
    pub serve: crate::serve::ServeSettings,
}

/// A setting that could not be used; its `Display` is the one line printed at start-up.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {name}: {reason}")]
pub struct SettingError {
    pub name: &'static str,
    pub reason: String,
}

fn invalid(name: &'static str, reason: impl Into<String>) -> SettingError {
    SettingError {
        name,
        reason: reason.into(),
    }
}

impl Settings {
    /// Reads the process environment (after loading `.env` when present).
    pub fn from_env(defaults: &SystemDefaults) -> Result<Self, SettingError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(defaults, |name| {
            std::env::var(name).ok().filter(|v| !v.is_empty())
        })
    }

    /// Reads settings through `lookup`, so tests can supply their own environment.
    pub fn from_lookup(
        defaults: &SystemDefaults,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingError> {
        let database_url = lookup("CAMPUS_DATABASE_URL")
            .or_else(|| lookup("DATABASE_URL"))
            .unwrap_or_else(|| format!("sqlite://campus-data/{}.db?mode=rwc", defaults.name));
        let backend = crate::db::Backend::from_url(&database_url).ok_or_else(|| {
            invalid(
                "CAMPUS_DATABASE_URL",
                "the scheme must be sqlite:, postgres: or mysql:",
            )
        })?;

        let secret_key = match lookup("CAMPUS_SECRET_KEY") {
            Some(key) if key.len() >= 16 => key,
            Some(_) => {
                return Err(invalid(
                    "CAMPUS_SECRET_KEY",
                    "must be at least 16 characters",
                ));
            }
            None => match crate::db::sqlite_file(&database_url) {
                Some(path) if backend == crate::db::Backend::Sqlite => development_secret(&path)
                    .map_err(|e| {
                        invalid(
                            "CAMPUS_SECRET_KEY",
                            format!("not set, and the development key could not be stored: {e}"),
                        )
                    })?,
                _ => {
                    return Err(invalid(
                        "CAMPUS_SECRET_KEY",
                        "is required when the database is not a local SQLite file",
                    ));
                }
            },
        };

        let bind = match lookup("CAMPUS_BIND") {
            Some(value) => value.parse().map_err(|_| {
                invalid(
                    "CAMPUS_BIND",
                    format!("{value:?} is not an address such as 127.0.0.1:8000"),
                )
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8000)),
        };

        let media_root = lookup("CAMPUS_MEDIA_ROOT")
            .map_or_else(|| PathBuf::from("campus-data/media"), PathBuf::from);
        let storage = crate::upload::StorageSettings::from_lookup(&lookup, &media_root)?;

        let cors_allowed_origins = match lookup("CAMPUS_CORS_ALLOWED_ORIGINS") {
            Some(value) => {
                parse_origins(&value).map_err(|r| invalid("CAMPUS_CORS_ALLOWED_ORIGINS", r))?
            }
            None => Vec::new(),
        };

        let rate = |name: &'static str, default: Option<Rate>| match lookup(name) {
            Some(value) => Rate::parse_setting(&value).map_err(|r| invalid(name, r)),
            None => Ok(default),
        };
        let seconds = |name: &'static str, default: Duration| match lookup(name) {
            Some(value) => value
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|s| *s > 0)
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    invalid(
                        name,
                        format!("{value:?} is not a positive number of seconds"),
                    )
                }),
            None => Ok(default),
        };
        let count = |name: &'static str, default: usize, min: usize| match lookup(name) {
            Some(value) => value
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= min)
                .ok_or_else(|| {
                    invalid(
                        name,
                        format!("{value:?} is not a whole number of at least {min}"),
                    )
                }),
            None => Ok(default),
        };

        Ok(Self {
            system: defaults.name,
            database_url,
            secret_key,
            bind,
            media_root,
            storage,
            cors_allowed_origins,
            throttle_anon: rate("CAMPUS_THROTTLE_ANON", defaults.throttle_anon)?,
            throttle_user: rate("CAMPUS_THROTTLE_USER", defaults.throttle_user)?,
            access_token_lifetime: seconds(
                "CAMPUS_ACCESS_TOKEN_LIFETIME",
                defaults.access_token_lifetime,
            )?,
            refresh_token_lifetime: seconds(
                "CAMPUS_REFRESH_TOKEN_LIFETIME",
                defaults.refresh_token_lifetime,
            )?,
            trusted_proxies: count("CAMPUS_TRUSTED_PROXIES", 0, 0)?,
            max_body_bytes: count("CAMPUS_MAX_BODY_BYTES", defaults.max_body_bytes, 1024)?,
            lockout: LockoutSettings::from_lookup(&lookup, defaults.lockout)?,
            password: defaults.password,
            cors: defaults.cors,
            hash_concurrency: count(
                "CAMPUS_HASH_CONCURRENCY",
                std::thread::available_parallelism().map_or(2, |n| n.get()),
                1,
            )?,
            email_url: match lookup("CAMPUS_EMAIL_URL") {
                Some(url) => {
                    crate::mail::check_url(&url).map_err(|r| invalid("CAMPUS_EMAIL_URL", r))?;
                    Some(url)
                }
                None => None,
            },
            email_from: lookup("CAMPUS_EMAIL_FROM")
                .unwrap_or_else(|| format!("campus {} <no-reply@localhost>", defaults.name)),
            redis_url: match lookup("CAMPUS_REDIS_URL") {
                Some(url) => {
                    crate::shared::parse_url(&url).map_err(|r| invalid("CAMPUS_REDIS_URL", r))?;
                    Some(url)
                }
                None => None,
            },
            redis_prefix: match lookup("CAMPUS_REDIS_PREFIX") {
                Some(prefix)
                    if !prefix.is_empty()
                        && prefix.len() <= 64
                        && prefix
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) =>
                {
                    prefix
                }
                Some(prefix) => {
                    return Err(invalid(
                        "CAMPUS_REDIS_PREFIX",
                        format!("{prefix:?} must be 1 to 64 letters, digits, '_', '-' or '.'"),
                    ));
                }
                None => "campus".to_owned(),
            },
            throttle_fail_open: match lookup("CAMPUS_THROTTLE_FAIL").as_deref().map(str::trim) {
                None | Some("open") => true,
                Some("closed") => false,
                Some(other) => {
                    return Err(invalid(
                        "CAMPUS_THROTTLE_FAIL",
                        format!("{other:?} must be open or closed"),
                    ));
                }
            },
            metrics_bind: match lookup("CAMPUS_METRICS_BIND") {
                Some(value) => Some(value.parse().map_err(|_| {
                    invalid(
                        "CAMPUS_METRICS_BIND",
                        format!("{value:?} is not an address such as 127.0.0.1:9100"),
                    )
                })?),
                None => None,
            },
            job_lease: seconds("CAMPUS_JOB_LEASE_SECONDS", Duration::from_secs(300))?,
            serve: crate::serve::ServeSettings::from_lookup(&lookup)?,
        })
    }
}

fn parse_origins(value: &str) -> Result<Vec<String>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|origin| {
            if origin == "*" {
                return Ok(origin.to_owned());
            }
            let parsed = url::Url::parse(origin).map_err(|_| {
                format!("{origin:?} is not an origin such as https://app.example.org")
            })?;
            let bare = parsed.path() == "/" && !origin.ends_with('/') && parsed.query().is_none();
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() || !bare {
                return Err(format!(
                    "{origin:?} is not an origin such as https://app.example.org"
                ));
            }
            Ok(origin.to_owned())
        })
        .collect()
}

/// Reads (or creates, readable by the owner only) the key kept beside the SQLite file.
fn development_secret(database: &Path) -> std::io::Result<String> {
    let dir = database
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let path = dir.join("secret_key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if existing.len() >= 16 {
            return Ok(existing.to_owned());
        }
    }
    let key: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(64)
        .map(char::from)
        .collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&path)?, key.as_bytes())?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn defaults() -> SystemDefaults {
        SystemDefaults {
            throttle_anon: Rate::parse_setting("100/hour").ok().flatten(),
            ..SystemDefaults::base("test")
        }
    }

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingError> {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(&defaults(), |k| env.get(k).cloned())
    }

    #[test]
    fn rates_parse_like_drf() {
        assert_eq!(
            Rate::parse_setting("100/hour"),
            Ok(Some(Rate {
                requests: 100,
                period: Duration::from_secs(3600)
            }))
        );
        assert_eq!(
            Rate::parse_setting("5/min"),
            Ok(Some(Rate {
                requests: 5,
                period: Duration::from_secs(60)
            }))
        );
        assert_eq!(Rate::parse_setting("off"), Ok(None));
        assert!(Rate::parse_setting("100").is_err());
        assert!(Rate::parse_setting("0/hour").is_err());
        assert!(Rate::parse_setting("10/fortnight").is_err());
    }

    #[test]
    fn a_bad_setting_names_itself() {
        let base = [("CAMPUS_SECRET_KEY", "0123456789abcdef0123")];
        let error = settings(&[base[0], ("CAMPUS_BIND", "nowhere")]).unwrap_err();
        assert_eq!(error.name, "CAMPUS_BIND");
        let error = settings(&[base[0], ("CAMPUS_THROTTLE_USER", "lots")]).unwrap_err();
        assert_eq!(error.name, "CAMPUS_THROTTLE_USER");
        let error = settings(&[base[0], ("CAMPUS_ACCESS_TOKEN_LIFETIME", "-5")]).unwrap_err();
        assert_eq!(error.name, "CAMPUS_ACCESS_TOKEN_LIFETIME");
        let error = settings(&[
            base[0],
            ("CAMPUS_CORS_ALLOWED_ORIGINS", "https://a.org/path"),
        ])
        .unwrap_err();
        assert_eq!(error.name, "CAMPUS_CORS_ALLOWED_ORIGINS");
        let error = settings(&[base[0], ("CAMPUS_REDIS_URL", "localhost:6379")]).unwrap_err();
        assert_eq!(error.name, "CAMPUS_REDIS_URL");
        let error = settings(&[base[0], ("CAMPUS_EMAIL_URL", "mail.example.org")]).unwrap_err();
        assert_eq!(error.name, "CAMPUS_EMAIL_URL");
        assert!(!error.to_string().contains('\n'));
        for good in [
            "console",
            "file:///tmp/mail",
            "smtp://u:p@h:587?tls=required",
        ] {
            let s = settings(&[base[0], ("CAMPUS_EMAIL_URL", good)]).unwrap();
            assert_eq!(s.email_url.as_deref(), Some(good));
        }
        let error = settings(&[base[0], ("CAMPUS_DATABASE_URL", "oracle://x")]).unwrap_err();
        assert_eq!(error.name, "CAMPUS_DATABASE_URL");
        assert!(
            error
                .to_string()
                .starts_with("invalid setting CAMPUS_DATABASE_URL: ")
        );
    }

    #[test]
    fn postgres_requires_a_secret_key() {
        let error = settings(&[("DATABASE_URL", "postgres://localhost/campus")]).unwrap_err();
        assert_eq!(error.name, "CAMPUS_SECRET_KEY");
        let ok = settings(&[
            ("DATABASE_URL", "postgres://localhost/campus"),
            ("CAMPUS_SECRET_KEY", "0123456789abcdef0123"),
            ("CAMPUS_THROTTLE_ANON", "off"),
            (
                "CAMPUS_CORS_ALLOWED_ORIGINS",
                "http://localhost:4200, https://app.example.org",
            ),
        ])
        .unwrap();
        assert_eq!(ok.throttle_anon, None);
        assert_eq!(ok.cors_allowed_origins.len(), 2);
        assert_eq!(ok.bind.port(), 8000);
    }

    #[test]
    fn sqlite_development_key_is_generated_once() {
        let dir = std::env::temp_dir().join(format!("campus-config-{}", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}/x.db?mode=rwc", dir.display());
        let first = settings(&[("CAMPUS_DATABASE_URL", &url)])
            .unwrap()
            .secret_key;
        let second = settings(&[("CAMPUS_DATABASE_URL", &url)])
            .unwrap()
            .secret_key;
        assert_eq!(first, second);
        assert_eq!(first.len(), 64);
        let _ = std::fs::remove_dir_all(dir);
    }
}
