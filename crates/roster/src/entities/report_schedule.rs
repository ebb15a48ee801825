//! `roster_report_schedules`: Report schedules (§7): a report built and delivered every day, week or month; `filters`, `formats` and `recipients` are JSON.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_report_schedules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub report_type: String,
    #[sea_orm(column_type = "Text")]
    pub filters: String,
    pub frequency: String,
    #[sea_orm(column_type = "Text")]
    pub formats: String,
    #[sea_orm(column_type = "Text")]
    pub recipients: String,
    pub channel: String,
    pub next_run_at: DateTimeUtc,
    pub last_run_at: Option<DateTimeUtc>,
    pub is_active: bool,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
