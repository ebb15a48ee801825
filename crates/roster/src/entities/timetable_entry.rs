//! `roster_timetable_entries`: Timetable entries (§4): a weekly (or one-off) slot of an enrollment in a room. Times are minutes after midnight, school time; `day` 0 is Monday.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_timetable_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub term_id: Uuid,
    pub enrollment_id: Uuid,
    pub room_id: Uuid,
    pub day: i32,
    pub start_minute: i32,
    pub end_minute: i32,
    pub session_type: String,
    pub is_recurring: bool,
    pub specific_date: Option<Date>,
    pub is_makeup: bool,
    pub is_draft: bool,
    pub draft_version: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
