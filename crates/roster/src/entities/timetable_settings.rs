//! `roster_timetable_settings`: The timetable grid of a term (§4); `scope` is the term id, or `default`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_timetable_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub scope: String,
    pub term_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub working_days: String,
    pub day_start: i32,
    pub day_end: i32,
    pub slot_minutes: i32,
    #[sea_orm(column_type = "Text")]
    pub breaks: String,
    pub max_sessions_per_day_per_class_group: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
