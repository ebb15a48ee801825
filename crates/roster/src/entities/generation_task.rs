//! `roster_generation_tasks`: An asynchronous timetable generation (§4 `?async=true`) and its report.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_generation_tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub term_id: Uuid,
    pub requested_by: Uuid,
    #[sea_orm(column_type = "Text")]
    pub request: String,
    pub state: String,
    pub progress: i32,
    #[sea_orm(column_type = "Text")]
    pub report: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
