//! `roster_attendance_settings`: Attendance settings (§5), a single row (`singleton` is always 1 and unique).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_attendance_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub singleton: i32,
    pub start_window_before_minutes: i32,
    pub start_window_after_minutes: i32,
    pub late_after_minutes: i32,
    pub min_elapsed_percent_to_end: i32,
    pub auto_close_after_minutes: i32,
    pub require_trainer_location: bool,
    pub require_trainer_face: bool,
    pub require_trainee_location: bool,
    pub require_trainee_face: bool,
    pub face_match_threshold: f64,
    pub max_location_accuracy_m: i32,
    pub feedback_window_days: i32,
    pub excuse_window_days: i32,
    pub low_attendance_threshold_percent: i32,
    pub image_retention_days: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
