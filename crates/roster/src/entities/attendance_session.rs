//! `roster_attendance_sessions`: Attendance sessions (§5): one held (or to be held) occurrence of an enrollment, from the timetable or made by hand (makeup). `active_trainer_id` is the trainer while the session is active, else null; it is unique.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_attendance_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub timetable_entry_id: Option<Uuid>,
    pub enrollment_id: Uuid,
    pub course_id: Uuid,
    pub class_group_id: Uuid,
    pub term_id: Uuid,
    pub trainer_id: Option<Uuid>,
    pub active_trainer_id: Option<Uuid>,
    pub room_id: Option<Uuid>,
    pub scheduled_start: DateTimeUtc,
    pub scheduled_end: DateTimeUtc,
    pub status: String,
    pub started_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub start_latitude: Option<f64>,
    pub start_longitude: Option<f64>,
    pub start_distance_m: Option<f64>,
    pub start_face_distance: Option<f64>,
    pub trainer_face_verified: bool,
    pub end_latitude: Option<f64>,
    pub end_longitude: Option<f64>,
    pub end_distance_m: Option<f64>,
    pub is_makeup: bool,
    pub makeup_for_id: Option<Uuid>,
    #[sea_orm(column_type = "Text", nullable)]
    pub cancel_reason: Option<String>,
    pub auto_closed: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub notes: Option<String>,
    pub feedback_count: i32,
    pub content_avg: Option<f64>,
    pub delivery_avg: Option<f64>,
    pub engagement_avg: Option<f64>,
    pub overall_avg: Option<f64>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
