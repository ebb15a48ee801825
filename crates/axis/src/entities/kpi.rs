//! `axis_kpis`: a measure, global (no client) or a client's, possibly tied
//! to one of its contracts.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "axis_kpis")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub type_id: String,
    pub unit: String,
    pub unit_type: String,
    pub target_value: Option<String>,
    pub calculation_method: Option<String>,
    pub frequency: Option<String>,
    pub is_public: bool,
    pub client_id: Option<String>,
    pub contract_id: Option<String>,
    pub metadata: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
