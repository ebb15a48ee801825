//! oryne's own commands: `campus create-tenant oryne …` (provisions at
//! once and prints the id) and `campus migrate oryne --tenant S`.

use anyhow::Context;
use kernel::{HasKernel, System};

use crate::Oryne;
use crate::platform::tenants::{TenantIn, insert_tenant};
use crate::state::AppState;

async fn ready() -> anyhow::Result<AppState> {
    let (settings, config) = kernel::system::configure::<Oryne>(&kernel::system::environment())?;
    let state = kernel::system::start::<Oryne>(settings, config)
        .await
        .map_err(anyhow::Error::msg)
        .context("cannot start")?;
    kernel::migration::migrate(&state.kernel().db)
        .await
        .context("migration failed")?;
    Ok(state)
}

/// `campus migrate oryne [--tenant S]`: the platform set, then every
/// tenant's (or only S's).
pub async fn migrate(tenant: Option<String>) -> anyhow::Result<()> {
    let state = ready().await?;
    let count = crate::tenancy::migrate::all(&state.db, tenant.as_deref())
        .await
        .context("migration failed")?;
    kernel::counts::fold(&state.db).await.ok();
    println!("oryne: migrations applied (platform and {count} tenant(s))");
    Ok(())
}

/// What `campus create-tenant oryne` takes.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: String,
    pub subdomain: String,
    pub admin_email: String,
    pub admin_password: Option<String>,
    pub plan: Option<String>,
}

/// Creates and provisions a tenant now; answers its id.
pub async fn create_tenant(new: NewTenant) -> anyhow::Result<i64> {
    let state = ready().await?;
    Oryne::migrate(&state.db)
        .await
        .context("migration failed")?;
    let body: TenantIn = serde_json::from_value(serde_json::json!({
        "name": new.name, "subdomain": new.subdomain, "admin_email": new.admin_email,
        "admin_password": new.admin_password, "plan": new.plan.unwrap_or_else(|| "trial".into()),
    }))?;
    let row = insert_tenant(&state, None, &crate::audit::Trail::default(), body)
        .await
        .map_err(|e| {
            let report = e.report();
            anyhow::anyhow!(
                report
                    .fields
                    .map_or(report.message, |f| f.to_json().to_string())
            )
        })?;
    let worker = crate::platform_worker(&state);
    worker.run_due(&state.db).await?;
    let tenant_worker = crate::tenant_worker(&state);
    crate::tenancy::jobs::run_tenant(&state, &tenant_worker, row.id)
        .await
        .map_err(anyhow::Error::msg)?;
    let fresh = crate::entities::tenant::Entity::find_by_id(row.id)
        .one(&state.db)
        .await?
        .context("the tenant vanished")?;
    if fresh.status != "active" {
        anyhow::bail!(
            "tenant {} is {}: {}",
            fresh.id,
            fresh.status,
            fresh.provisioning["last_error"]
                .as_str()
                .unwrap_or("unknown error")
        );
    }
    Ok(row.id)
}

use sea_orm::EntityTrait;
