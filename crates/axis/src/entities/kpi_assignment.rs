//! `axis_kpi_assignments`: a KPI tracked for a client's contract, with its
//! measurements in `metadata.measurements`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "axis_kpi_assignments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub kpi_id: String,
    pub client_id: String,
    pub contract_id: String,
    pub target_value: Option<String>,
    pub frequency: String,
    pub status: String,
    pub start_date: Date,
    pub end_date: Option<Date>,
    pub notes: Option<String>,
    pub metadata: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
