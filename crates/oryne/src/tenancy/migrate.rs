//! The two migration sets: the platform's, then every tenant's (the
//! kernel's tables first, then oryne's tenant set), a few tenants at a time,
//! like django-tenants' `migrate_schemas`.

use futures_util::StreamExt;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use sea_orm_migration::MigratorTrait;

use crate::entities::tenant;
use crate::migration::{PlatformMigrator, TenantMigrator};

/// How many tenants migrate at once.
const AT_ONCE: usize = 4;

/// Brings one tenant's database up to date.
pub async fn tenant(db: &DatabaseConnection) -> Result<(), DbErr> {
    kernel::migration::migrate(db).await?;
    TenantMigrator::up(db, None).await
}

/// Whether tenant `row`'s schema or file exists (its first provisioning
/// step is done).
pub fn has_database(row: &tenant::Model) -> bool {
    row.provisioning["steps_done"]
        .as_array()
        .is_some_and(|steps| steps.iter().any(|s| s == "schema"))
}

/// The platform set, then every tenant's (or only the one whose subdomain
/// is `only`); answers how many tenants were brought up to date.
pub async fn all(platform: &DatabaseConnection, only: Option<&str>) -> Result<usize, DbErr> {
    PlatformMigrator::up(platform, None).await?;
    let mut query = tenant::Entity::find().order_by_asc(tenant::Column::Id);
    if let Some(sub) = only {
        query = query.filter(tenant::Column::Subdomain.eq(sub));
    }
    let rows = query.all(platform).await?;
    if let Some(sub) = only
        && rows.is_empty()
    {
        return Err(DbErr::Custom(format!("no tenant with subdomain {sub}")));
    }
    let rows: Vec<tenant::Model> = rows.into_iter().filter(has_database).collect();
    let count = rows.len();
    let results: Vec<Result<(), DbErr>> = futures_util::stream::iter(rows)
        .map(|row| async move {
            let db = kernel::db::connect_tenant(platform, &row.schema_name()).await?;
            let result = tenant(&db).await;
            db.close().await.ok();
            result.map_err(|e| DbErr::Custom(format!("{}: {e}", row.schema_name())))
        })
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>, DbErr>>()?;
    Ok(count)
}
