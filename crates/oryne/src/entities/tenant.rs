//! A school (`tenants`, platform database).

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub subdomain: String,
    pub status: String,
    pub plan: String,
    pub admin_email: String,
    pub admin_phone: String,
    pub paid_until: Option<chrono::NaiveDate>,
    pub trial_ends_at: Option<chrono::NaiveDate>,
    pub enabled_modules: Json,
    pub max_users: i32,
    pub max_storage_gb: i32,
    pub settings: Json,
    pub metadata: Json,
    /// `{steps_done, attempts, last_error}`.
    pub provisioning: Json,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub provisioned_at: Option<DateTime<Utc>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// `tenant_<id>`: its PostgreSQL schema, its SQLite file's stem.
    pub fn schema_name(&self) -> String {
        schema_name(self.id)
    }
}

pub fn schema_name(id: i64) -> String {
    format!("tenant_{id}")
}
