//! `axis_services`: a service of the catalogue.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "axis_services")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub category_id: String,
    pub status: String,
    /// Minutes.
    pub duration: Option<i32>,
    pub capacity: i32,
    pub prerequisites: Option<String>,
    pub is_public: bool,
    /// In cents (`kernel::money::Money`).
    pub price: Option<i64>,
    pub service_provider_id: Option<String>,
    pub metadata: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
