//! `axis_service_providers`: an organisation or counsellor delivering services.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "axis_service_providers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    #[sea_orm(column_name = "type")]
    #[serde(rename = "type")]
    pub provider_type: String,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub location: Option<String>,
    pub qualifications: Json,
    pub specializations: Json,
    pub availability: Json,
    /// In hundredths (0 to 500).
    pub rating: i32,
    pub is_verified: bool,
    pub status: String,
    pub metadata: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
