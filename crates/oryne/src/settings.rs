//! oryne's own settings (`CAMPUS_ORYNE_*`, `CAMPUS_GNS_*`), read beside the
//! kernel's.

use std::time::Duration;

use kernel::config::SettingError;

/// Where a tenant is reached and how it is provisioned and told things.
#[derive(Debug, Clone)]
pub struct Config {
    /// `CAMPUS_ORYNE_BASE_DOMAINS` (comma-separated, default `localhost`):
    /// `<subdomain>.<base>` names a tenant; each base itself is a platform host.
    pub base_domains: Vec<String>,
    /// `CAMPUS_ORYNE_PLATFORM_HOSTS`: more hosts serving the platform.
    pub platform_hosts: Vec<String>,
    /// `CAMPUS_ORYNE_TRIAL_DAYS` (30): a new trial tenant's trial length.
    pub trial_days: i64,
    /// `CAMPUS_ORYNE_LOGIN_URL`: the sign-in page told to new admins, with
    /// `{subdomain}` and `{base}` filled in (default
    /// `https://{subdomain}.{base}/login`).
    pub login_url: String,
    /// `CAMPUS_ORYNE_PROVISION_RETRY_SECONDS` (300): the wait before a failed
    /// provisioning is tried again (three tries in all).
    pub provision_retry: Duration,
    /// `CAMPUS_ORYNE_TENANT_POOLS`: school databases kept open per node
    /// (default 256 on SQLite, where an open pool costs a few file handles;
    /// 32 on PostgreSQL, where each holds up to two of the server's
    /// connections).
    pub tenant_pools: Option<usize>,
    /// The notification gateway, when `CAMPUS_GNS_URL` and `CAMPUS_GNS_API_KEY` are set.
    pub gns: Option<Gns>,
}

/// `CAMPUS_GNS_*`.
#[derive(Debug, Clone)]
pub struct Gns {
    pub url: String,
    pub api_key: String,
    /// `CAMPUS_GNS_API=legacy`: the architecture's `/api/notifications/send`.
    pub legacy: bool,
    /// `CAMPUS_GNS_WEBHOOK_SECRET`: signs delivery callbacks.
    pub webhook_secret: Option<String>,
}

fn list(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

fn invalid(name: &'static str, reason: impl Into<String>) -> SettingError {
    SettingError {
        name,
        reason: reason.into(),
    }
}

impl Config {
    pub fn read(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let mut base_domains = list(lookup("CAMPUS_ORYNE_BASE_DOMAINS"));
        if base_domains.is_empty() {
            base_domains.push("localhost".into());
        }
        let number = |name: &'static str, default: u64, min: u64| -> Result<u64, SettingError> {
            match lookup(name) {
                None => Ok(default),
                Some(raw) => raw
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n >= min)
                    .ok_or_else(|| {
                        invalid(name, format!("must be a whole number of at least {min}"))
                    }),
            }
        };
        let gns = match (lookup("CAMPUS_GNS_URL"), lookup("CAMPUS_GNS_API_KEY")) {
            (Some(url), Some(api_key)) => {
                url::Url::parse(&url).map_err(|_| invalid("CAMPUS_GNS_URL", "must be a URL"))?;
                let legacy = match lookup("CAMPUS_GNS_API").as_deref() {
                    None | Some("v1") => false,
                    Some("legacy") => true,
                    Some(_) => return Err(invalid("CAMPUS_GNS_API", "must be v1 or legacy")),
                };
                Some(Gns {
                    url: url.trim_end_matches('/').to_owned(),
                    api_key,
                    legacy,
                    webhook_secret: lookup("CAMPUS_GNS_WEBHOOK_SECRET"),
                })
            }
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "CAMPUS_GNS_URL",
                    "set both CAMPUS_GNS_URL and CAMPUS_GNS_API_KEY, or neither",
                ));
            }
        };
        Ok(Self {
            base_domains,
            platform_hosts: list(lookup("CAMPUS_ORYNE_PLATFORM_HOSTS")),
            trial_days: number("CAMPUS_ORYNE_TRIAL_DAYS", 30, 0)? as i64,
            login_url: lookup("CAMPUS_ORYNE_LOGIN_URL")
                .unwrap_or_else(|| "https://{subdomain}.{base}/login".into()),
            provision_retry: Duration::from_secs(number(
                "CAMPUS_ORYNE_PROVISION_RETRY_SECONDS",
                300,
                0,
            )?),
            tenant_pools: match lookup("CAMPUS_ORYNE_TENANT_POOLS") {
                None => None,
                Some(_) => Some(number("CAMPUS_ORYNE_TENANT_POOLS", 1, 1)? as usize),
            },
            gns,
        })
    }

    /// The sign-in page of tenant `subdomain`.
    pub fn login_url_of(&self, subdomain: &str) -> String {
        let base = self
            .base_domains
            .first()
            .map_or("localhost", String::as_str);
        self.login_url
            .replace("{subdomain}", subdomain)
            .replace("{base}", base)
    }
}
