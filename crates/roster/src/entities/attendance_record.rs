//! `roster_attendance_records`: Attendance records (§5): one trainee in one session; unique (session, trainee). `image` is the storage name of the check-in photo until it is purged.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_attendance_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub session_id: Uuid,
    pub trainee_id: Uuid,
    pub status: String,
    pub checked_in_at: Option<DateTimeUtc>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub accuracy: Option<f64>,
    pub distance_m: Option<f64>,
    pub location_verified: bool,
    pub face_distance: Option<f64>,
    pub face_verified: bool,
    pub failed_attempts: i32,
    pub marked_by_system: bool,
    pub manual_override: bool,
    pub marked_by: Option<Uuid>,
    #[sea_orm(column_type = "Text", nullable)]
    pub override_reason: Option<String>,
    pub image: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub excuse_reason: Option<String>,
    pub excuse_document: Option<String>,
    pub excuse_status: String,
    pub excuse_reviewed_by: Option<Uuid>,
    pub excuse_reviewed_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub excuse_comment: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
