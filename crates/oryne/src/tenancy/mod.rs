//! Tenancy (contract §1): which tenant a request is for, and each tenant's
//! database.
//!
//! A request is resolved before anything else, in the spec's order: a host
//! `<subdomain>.<base>` under a configured base domain, then `X-Tenant-ID`
//! (id, `tenant_<id>` or subdomain), then a verified custom domain. Only
//! `active` tenants resolve. Answers are cached per node for at most five
//! seconds and dropped on every change this node makes, so a suspension
//! reaches every node within seconds.
//!
//! Each tenant's database is its own: an SQLite file beside the platform's,
//! or a PostgreSQL schema whose connections are bound to it
//! ([`kernel::db::connect_tenant`]). Open pools are kept in a small LRU.

pub mod jobs;
pub mod migrate;
pub mod provision;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::StatusCode;
use axum::http::request::Parts;
use kernel::ApiError;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use crate::entities::{domain, tenant};
use crate::envelope;
use crate::settings::Config;

/// How long a resolution is trusted.
const CACHE_FOR: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

/// What a request is for.
#[derive(Debug, Clone)]
pub enum Context {
    /// A platform host without `X-Tenant-ID`.
    Platform,
    Tenant(Arc<tenant::Model>),
}

/// A resolution and when it was made.
type Cached = (chrono::DateTime<chrono::Utc>, Option<Arc<tenant::Model>>);

/// The tenants one node knows of: resolution cache and open databases.
pub struct Registry {
    platform: DatabaseConnection,
    cache: Mutex<HashMap<String, Cached>>,
    pools: Mutex<Pools>,
}

struct Pools {
    open: HashMap<i64, (DatabaseConnection, u64)>,
    clock: u64,
    cap: usize,
}

impl Registry {
    pub fn new(platform: DatabaseConnection, cap: usize) -> Self {
        Self {
            platform,
            cache: Mutex::default(),
            pools: Mutex::new(Pools {
                open: HashMap::new(),
                clock: 0,
                cap: cap.max(1),
            }),
        }
    }

    /// Forgets every cached resolution (after a tenant or domain change).
    pub fn changed(&self) {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The database of tenant `id` (opened on first use; the least recently
    /// used is closed past the cap).
    pub async fn open(&self, id: i64) -> Result<DatabaseConnection, DbErr> {
        {
            let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
            pools.clock += 1;
            let now = pools.clock;
            if let Some((db, used)) = pools.open.get_mut(&id) {
                *used = now;
                return Ok(db.clone());
            }
        }
        let db = kernel::db::connect_tenant(&self.platform, &tenant::schema_name(id)).await?;
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        pools.clock += 1;
        let now = pools.clock;
        let db = pools.open.entry(id).or_insert_with(|| (db, now)).0.clone();
        if pools.open.len() > pools.cap
            && let Some(oldest) = pools
                .open
                .iter()
                .filter(|(k, _)| **k != id)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k)
        {
            // Closed now: requests still using it finish first (their
            // connections close as they are returned).
            if let Some((evicted, _)) = pools.open.remove(&oldest) {
                tokio::spawn(async move { evicted.close().await.ok() });
            }
        }
        Ok(db)
    }

    /// Closes tenant `id`'s pool on this node (before its file or schema
    /// is dropped).
    pub fn close(&self, id: i64) -> Option<DatabaseConnection> {
        self.pools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .open
            .remove(&id)
            .map(|(db, _)| db)
    }

    async fn cached<F, Fut>(
        &self,
        key: String,
        load: F,
    ) -> Result<Option<Arc<tenant::Model>>, DbErr>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<tenant::Model>, DbErr>>,
    {
        if let Some((at, hit)) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            && kernel::time::now() - *at < CACHE_FOR
        {
            return Ok(hit.clone());
        }
        let found = load().await?.filter(|t| t.status == "active").map(Arc::new);
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(key, (kernel::time::now(), found.clone()));
        Ok(found)
    }

    async fn by_subdomain(&self, sub: &str) -> Result<Option<Arc<tenant::Model>>, DbErr> {
        let db = &self.platform;
        let sub = sub.to_owned();
        self.cached(format!("s:{sub}"), || async move {
            tenant::Entity::find()
                .filter(tenant::Column::Subdomain.eq(sub))
                .one(db)
                .await
        })
        .await
    }

    async fn by_header(&self, value: &str) -> Result<Option<Arc<tenant::Model>>, DbErr> {
        let db = &self.platform;
        let id = value
            .strip_prefix("tenant_")
            .unwrap_or(value)
            .parse::<i64>()
            .ok()
            .filter(|id| {
                *id > 0
                    && (value.starts_with("tenant_") || value.bytes().all(|b| b.is_ascii_digit()))
            });
        let sub = value.to_owned();
        self.cached(format!("h:{value}"), || async move {
            match id {
                Some(id) => tenant::Entity::find_by_id(id).one(db).await,
                None => {
                    tenant::Entity::find()
                        .filter(tenant::Column::Subdomain.eq(sub))
                        .one(db)
                        .await
                }
            }
        })
        .await
    }

    async fn by_domain(&self, host: &str) -> Result<Option<Arc<tenant::Model>>, DbErr> {
        let db = &self.platform;
        let host = host.to_owned();
        self.cached(format!("d:{host}"), || async move {
            let Some(found) = domain::Entity::find()
                .filter(domain::Column::Domain.eq(host))
                .filter(domain::Column::IsVerified.eq(true))
                .one(db)
                .await?
            else {
                return Ok(None);
            };
            tenant::Entity::find_by_id(found.tenant_id).one(db).await
        })
        .await
    }

    /// How many school databases this node keeps open at most.
    pub fn cap(&self) -> usize {
        self.pools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .cap
    }

    /// Tenant `id` whatever its status (cached like resolutions).
    pub async fn get(&self, id: i64) -> Result<Option<Arc<tenant::Model>>, DbErr> {
        let key = format!("i:{id}");
        if let Some((at, hit)) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            && kernel::time::now() - *at < CACHE_FOR
        {
            return Ok(hit.clone());
        }
        let found = tenant::Entity::find_by_id(id)
            .one(&self.platform)
            .await?
            .map(Arc::new);
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, (kernel::time::now(), found.clone()));
        Ok(found)
    }

    /// The request's context (contract §1, "Resolution").
    pub async fn resolve(&self, config: &Config, parts: &Parts) -> Result<Context, ApiError> {
        let host = host_of(parts);
        let header = parts
            .headers
            .get("x-tenant-id")
            .map(|v| v.to_str().map(|s| s.trim().to_ascii_lowercase()));
        let header = match header {
            None => None,
            Some(Ok(value)) if !value.is_empty() && value.len() <= 63 => Some(value),
            Some(_) => return Err(envelope::tenant_not_found()),
        };
        let from_host = match classify(config, &host) {
            Host::Platform => None,
            Host::Subdomain(sub) => Some(
                self.by_subdomain(&sub)
                    .await?
                    .ok_or_else(envelope::tenant_not_found)?,
            ),
            Host::Custom => Some(
                self.by_domain(&host)
                    .await?
                    .ok_or_else(envelope::tenant_not_found)?,
            ),
        };
        let from_header = match &header {
            None => None,
            Some(value) => Some(
                self.by_header(value)
                    .await?
                    .ok_or_else(envelope::tenant_not_found)?,
            ),
        };
        match (from_host, from_header) {
            (Some(a), Some(b)) if a.id != b.id => Err(envelope::error(
                StatusCode::BAD_REQUEST,
                envelope::TENANT_MISMATCH,
                "The host and X-Tenant-ID name different tenants.",
            )),
            (Some(t), _) | (None, Some(t)) => Ok(Context::Tenant(t)),
            (None, None) => Ok(Context::Platform),
        }
    }
}

enum Host {
    Platform,
    Subdomain(String),
    Custom,
}

/// The request's host name, lower-case, without port or trailing dot.
fn host_of(parts: &Parts) -> String {
    let raw = parts
        .headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.host())
        .unwrap_or("localhost");
    let host = if let Some(rest) = raw.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        raw.rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(raw, |(h, _)| h)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

fn classify(config: &Config, host: &str) -> Host {
    if host.is_empty()
        || host == "localhost"
        || host.parse::<IpAddr>().is_ok()
        || config.base_domains.iter().any(|b| b == host)
        || config.platform_hosts.iter().any(|h| h == host)
    {
        return Host::Platform;
    }
    for base in &config.base_domains {
        if let Some(sub) = host
            .strip_suffix(base.as_str())
            .and_then(|s| s.strip_suffix('.'))
            && !sub.is_empty()
            && !sub.contains('.')
        {
            return Host::Subdomain(sub.to_owned());
        }
    }
    Host::Custom
}

/// Reserved subdomains (contract §1).
pub const RESERVED: &[&str] = &[
    "www",
    "api",
    "admin",
    "app",
    "mail",
    "public",
    "static",
    "platform",
    "oryne",
    "localhost",
];

/// Why `sub` cannot be a subdomain, if it cannot.
pub fn subdomain_problem(sub: &str) -> Option<&'static str> {
    let shaped = (3..=63).contains(&sub.len())
        && sub
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !sub.starts_with('-')
        && !sub.ends_with('-');
    if !shaped {
        return Some(
            "Use 3 to 63 lowercase letters, digits and hyphens, not starting or ending with a hyphen.",
        );
    }
    if RESERVED.contains(&sub) {
        return Some("This subdomain is reserved.");
    }
    None
}

/// A school's files: the node's storage under `tenants/<schema>/` (a
/// folder of the media root, or a prefix of the S3 bucket).
pub fn files(state: &crate::state::AppState, schema: &str) -> kernel::upload::Storage {
    state.storage.with_prefix(&format!("tenants/{schema}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::read(&|name| match name {
            "CAMPUS_ORYNE_BASE_DOMAINS" => Some("oryne.test, localhost".into()),
            "CAMPUS_ORYNE_PLATFORM_HOSTS" => Some("admin.example.org".into()),
            _ => None,
        })
        .unwrap()
    }

    #[test]
    fn hosts_are_classified_under_base_domains_only() {
        let c = config();
        assert!(matches!(classify(&c, "alpha.oryne.test"), Host::Subdomain(s) if s == "alpha"));
        assert!(matches!(classify(&c, "alpha.localhost"), Host::Subdomain(s) if s == "alpha"));
        assert!(matches!(classify(&c, "oryne.test"), Host::Platform));
        assert!(matches!(classify(&c, "127.0.0.1"), Host::Platform));
        assert!(matches!(classify(&c, "::1"), Host::Platform));
        assert!(matches!(classify(&c, "admin.example.org"), Host::Platform));
        // A custom domain whose first label is a tenant's subdomain is not that tenant.
        assert!(matches!(classify(&c, "alpha.example.org"), Host::Custom));
        assert!(matches!(classify(&c, "a.b.oryne.test"), Host::Custom));
    }

    #[test]
    fn subdomains_are_slugs_and_not_reserved() {
        assert_eq!(subdomain_problem("alpha-school"), None);
        assert!(subdomain_problem("ab").is_some());
        assert!(subdomain_problem("-abc").is_some());
        assert!(subdomain_problem("Alpha").is_some());
        assert!(subdomain_problem("www").is_some());
        assert!(subdomain_problem(&"a".repeat(64)).is_some());
    }
}
