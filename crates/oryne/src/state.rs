//! What oryne's handlers reach.

use std::sync::Arc;

use kernel::Kernel;
use serde_json::{Map, Value, json};

use crate::entities::{platform_user, user};
use crate::settings::Config;
use crate::tenancy::Registry;
use crate::tenancy::jobs::Wake;

#[derive(Clone)]
pub struct AppState {
    pub kernel: Kernel,
    pub config: Arc<Config>,
    /// Tenant resolution and databases.
    pub tenants: Arc<Registry>,
    /// Wakes the tenant job runner.
    pub wake: Arc<Wake>,
    /// Calls the notification gateway.
    pub http: reqwest::Client,
}

kernel::has_kernel!(AppState.kernel);

impl AppState {
    /// The tenant of the request being served, as its id.
    pub fn tenant_id() -> Option<i64> {
        kernel::db::tenant().and_then(|t| t.parse().ok())
    }

    /// After a commit that queued jobs in the current tenant.
    pub fn wake_jobs(&self) {
        match Self::tenant_id() {
            Some(id) => self.wake.tenant(id),
            None => self.jobs_wake.notify_one(),
        }
    }
}

/// Tenant users sign in with tokens carrying the contract's claims.
impl kernel::identity::Identity for AppState {
    type Account = user::Model;

    fn claims(&self, account: &user::Model) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("tenant_id".into(), json!(Self::tenant_id()));
        claims.insert("email".into(), json!(account.email));
        claims.insert("roles".into(), account.roles.clone());
        claims
    }

    /// A refresh token names the user, the school and its type only.
    fn refresh_claims(&self, access: &Map<String, Value>) -> Map<String, Value> {
        refresh_only(access)
    }
}

fn refresh_only(access: &Map<String, Value>) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert(
        "tenant_id".into(),
        access.get("tenant_id").cloned().unwrap_or(Value::Null),
    );
    claims.insert("type".into(), json!("refresh"));
    claims
}

/// The platform's own sign-in: the same state, seen with platform users
/// as its accounts.
#[derive(Clone)]
pub struct Platform(pub AppState);

impl kernel::HasKernel for Platform {
    fn kernel(&self) -> &Kernel {
        &self.0.kernel
    }
}

impl kernel::identity::Identity for Platform {
    type Account = platform_user::Model;

    fn claims(&self, account: &platform_user::Model) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("tenant_id".into(), Value::Null);
        claims.insert("email".into(), json!(account.email));
        claims.insert("roles".into(), account.roles.clone());
        claims.insert("permissions".into(), json!([]));
        claims
    }

    fn refresh_claims(&self, access: &Map<String, Value>) -> Map<String, Value> {
        refresh_only(access)
    }
}
