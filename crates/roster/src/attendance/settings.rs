//! Attendance settings (contract §5, **Settings**): one row of windows,
//! thresholds and requirements, `GET|PATCH /api/attendance/settings/` (read
//! staff, write admin). The row is created with the contract's defaults on
//! its first read; [`load`] gives the others the settings in force.

use chrono::{DateTime, Utc};
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::{ApiError, ApiResult, Checker, Current, Db, Field, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::access::{Admin, Staff};
use crate::audit::Log;
use crate::entities::attendance_settings;
use crate::state::AppState;

/// The audit trail's name for the settings row.
const RESOURCE: &str = "attendance_settings";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, update_settings))
}

/// The contract's defaults (not stored).
pub fn defaults() -> attendance_settings::Model {
    attendance_settings::Model {
        id: Uuid::nil(),
        singleton: 1,
        start_window_before_minutes: 15,
        start_window_after_minutes: 30,
        late_after_minutes: 10,
        min_elapsed_percent_to_end: 80,
        auto_close_after_minutes: 60,
        require_trainer_location: true,
        require_trainer_face: true,
        require_trainee_location: true,
        require_trainee_face: true,
        face_match_threshold: 0.6,
        max_location_accuracy_m: 100,
        feedback_window_days: 7,
        excuse_window_days: 7,
        low_attendance_threshold_percent: 75,
        image_retention_days: 90,
        updated_at: kernel::time::now(),
    }
}

/// The settings in force: the stored row, or the contract's defaults when
/// none was stored yet (never writes, so it is safe inside any transaction).
pub async fn load(db: &impl ConnectionTrait) -> Result<attendance_settings::Model, DbErr> {
    Ok(attendance_settings::Entity::find()
        .one(db)
        .await?
        .unwrap_or_else(defaults))
}

/// The stored row, created with the defaults when missing (two first reads
/// at once: the unique `singleton` keeps one, the other reads it).
async fn ensure(db: &DatabaseConnection) -> Result<attendance_settings::Model, DbErr> {
    if let Some(row) = attendance_settings::Entity::find().one(db).await? {
        return Ok(row);
    }
    let d = defaults();
    let row = attendance_settings::ActiveModel {
        id: Set(Uuid::new_v4()),
        singleton: Set(1),
        start_window_before_minutes: Set(d.start_window_before_minutes),
        start_window_after_minutes: Set(d.start_window_after_minutes),
        late_after_minutes: Set(d.late_after_minutes),
        min_elapsed_percent_to_end: Set(d.min_elapsed_percent_to_end),
        auto_close_after_minutes: Set(d.auto_close_after_minutes),
        require_trainer_location: Set(d.require_trainer_location),
        require_trainer_face: Set(d.require_trainer_face),
        require_trainee_location: Set(d.require_trainee_location),
        require_trainee_face: Set(d.require_trainee_face),
        face_match_threshold: Set(d.face_match_threshold),
        max_location_accuracy_m: Set(d.max_location_accuracy_m),
        feedback_window_days: Set(d.feedback_window_days),
        excuse_window_days: Set(d.excuse_window_days),
        low_attendance_threshold_percent: Set(d.low_attendance_threshold_percent),
        image_retention_days: Set(d.image_retention_days),
        updated_at: Set(kernel::time::now()),
    };
    match row.insert(db).await {
        Ok(row) => Ok(row),
        Err(error) if kernel::error::is_unique_violation(&error, "singleton") => {
            attendance_settings::Entity::find()
                .one(db)
                .await?
                .ok_or(error)
        }
        Err(error) => Err(error),
    }
}

/// The attendance settings as the API shows them.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceSettingsOut {
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
    pub updated_at: DateTime<Utc>,
}

impl From<&attendance_settings::Model> for AttendanceSettingsOut {
    fn from(s: &attendance_settings::Model) -> Self {
        Self {
            start_window_before_minutes: s.start_window_before_minutes,
            start_window_after_minutes: s.start_window_after_minutes,
            late_after_minutes: s.late_after_minutes,
            min_elapsed_percent_to_end: s.min_elapsed_percent_to_end,
            auto_close_after_minutes: s.auto_close_after_minutes,
            require_trainer_location: s.require_trainer_location,
            require_trainer_face: s.require_trainer_face,
            require_trainee_location: s.require_trainee_location,
            require_trainee_face: s.require_trainee_face,
            face_match_threshold: s.face_match_threshold,
            max_location_accuracy_m: s.max_location_accuracy_m,
            feedback_window_days: s.feedback_window_days,
            excuse_window_days: s.excuse_window_days,
            low_attendance_threshold_percent: s.low_attendance_threshold_percent,
            image_retention_days: s.image_retention_days,
            updated_at: s.updated_at,
        }
    }
}

impl AttendanceSettingsOut {
    fn snapshot(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Value::Object(map) = &mut value {
            map.remove("updated_at");
        }
        value
    }
}

/// What a PATCH may change (every field optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AttendanceSettingsIn {
    /// 0–240.
    #[serde(default)]
    #[schema(value_type = i64, minimum = 0, maximum = 240)]
    pub start_window_before_minutes: Field<i64>,
    /// 0–240.
    #[serde(default)]
    #[schema(value_type = i64, minimum = 0, maximum = 240)]
    pub start_window_after_minutes: Field<i64>,
    /// 0–240.
    #[serde(default)]
    #[schema(value_type = i64, minimum = 0, maximum = 240)]
    pub late_after_minutes: Field<i64>,
    /// 1–100.
    #[serde(default)]
    #[schema(value_type = i64, minimum = 1, maximum = 100)]
    pub min_elapsed_percent_to_end: Field<i64>,
    /// 0–1440.
    #[serde(default)]
    #[schema(value_type = i64, minimum = 0, maximum = 1440)]
    pub auto_close_after_minutes: Field<i64>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub require_trainer_location: Field<bool>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub require_trainer_face: Field<bool>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub require_trainee_location: Field<bool>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub require_trainee_face: Field<bool>,
    /// 0.3–0.8.
    #[serde(default)]
    #[schema(value_type = f64, minimum = 0.3, maximum = 0.8)]
    pub face_match_threshold: Field<f64>,
    /// 1–10000.
    #[serde(default)]
    #[schema(value_type = i64, minimum = 1, maximum = 10000)]
    pub max_location_accuracy_m: Field<i64>,
    /// 0–365.
    #[serde(default)]
    #[schema(value_type = i64, minimum = 0, maximum = 365)]
    pub feedback_window_days: Field<i64>,
    /// 0–365.
    #[serde(default)]
    #[schema(value_type = i64, minimum = 0, maximum = 365)]
    pub excuse_window_days: Field<i64>,
    /// 1–100.
    #[serde(default)]
    #[schema(value_type = i64, minimum = 1, maximum = 100)]
    pub low_attendance_threshold_percent: Field<i64>,
    /// 0–3650.
    #[serde(default)]
    #[schema(value_type = i64, minimum = 0, maximum = 3650)]
    pub image_retention_days: Field<i64>,
}

/// The attendance settings (any staff member; created with the defaults on
/// first read).
#[utoipa::path(get, path = "/api/attendance/settings/", tag = "attendance", security(("jwt" = [])),
    responses((status = 200, body = AttendanceSettingsOut), (status = 401), (status = 403)))]
pub async fn get_settings(Db(db): Db, _staff: Staff) -> ApiResult<Json<AttendanceSettingsOut>> {
    let row = ensure(&db).await?;
    Ok(Json(AttendanceSettingsOut::from(&row)))
}

/// Change some settings (admin).
#[utoipa::path(patch, path = "/api/attendance/settings/", tag = "attendance", security(("jwt" = [])),
    request_body = AttendanceSettingsIn,
    responses((status = 200, body = AttendanceSettingsOut), (status = 400), (status = 401), (status = 403)))]
pub async fn update_settings(
    Db(db): Db,
    Caller(Admin(Current(_me)), actor): Caller<Admin>,
    body: Result<Json<AttendanceSettingsIn>, ApiError>,
) -> ApiResult<Json<AttendanceSettingsOut>> {
    let Json(input) = body?;
    let mut c = Checker::partial(true);
    let int = |c: &mut Checker, name: &str, field: Field<i64>, min: i64, max: i64| {
        c.int(name, field, min, max)
            .map(|v| i32::try_from(v).unwrap_or_default())
    };
    let before_minutes = int(
        &mut c,
        "start_window_before_minutes",
        input.start_window_before_minutes,
        0,
        240,
    );
    let after_minutes = int(
        &mut c,
        "start_window_after_minutes",
        input.start_window_after_minutes,
        0,
        240,
    );
    let late = int(
        &mut c,
        "late_after_minutes",
        input.late_after_minutes,
        0,
        240,
    );
    let elapsed = int(
        &mut c,
        "min_elapsed_percent_to_end",
        input.min_elapsed_percent_to_end,
        1,
        100,
    );
    let auto_close = int(
        &mut c,
        "auto_close_after_minutes",
        input.auto_close_after_minutes,
        0,
        1440,
    );
    let trainer_location = c.value("require_trainer_location", input.require_trainer_location);
    let trainer_face = c.value("require_trainer_face", input.require_trainer_face);
    let trainee_location = c.value("require_trainee_location", input.require_trainee_location);
    let trainee_face = c.value("require_trainee_face", input.require_trainee_face);
    let threshold = c
        .value("face_match_threshold", input.face_match_threshold)
        .and_then(|v| {
            if (0.3..=0.8).contains(&v) {
                Some(v)
            } else {
                c.error(
                    "face_match_threshold",
                    "Ensure this value is between 0.3 and 0.8.",
                );
                None
            }
        });
    let accuracy = int(
        &mut c,
        "max_location_accuracy_m",
        input.max_location_accuracy_m,
        1,
        10_000,
    );
    let feedback = int(
        &mut c,
        "feedback_window_days",
        input.feedback_window_days,
        0,
        365,
    );
    let excuse = int(
        &mut c,
        "excuse_window_days",
        input.excuse_window_days,
        0,
        365,
    );
    let low = int(
        &mut c,
        "low_attendance_threshold_percent",
        input.low_attendance_threshold_percent,
        1,
        100,
    );
    let retention = int(
        &mut c,
        "image_retention_days",
        input.image_retention_days,
        0,
        3650,
    );
    c.finish()?;
    let existing = ensure(&db).await?;
    let before = AttendanceSettingsOut::from(&existing).snapshot();
    let txn = kernel::db::begin_write(&db).await?;
    let mut row: attendance_settings::ActiveModel = existing.into();
    macro_rules! apply {
        ($($value:ident => $column:ident),* $(,)?) => {
            $(if let Some(v) = $value { row.$column = Set(v); })*
        };
    }
    apply!(
        before_minutes => start_window_before_minutes,
        after_minutes => start_window_after_minutes,
        late => late_after_minutes,
        elapsed => min_elapsed_percent_to_end,
        auto_close => auto_close_after_minutes,
        trainer_location => require_trainer_location,
        trainer_face => require_trainer_face,
        trainee_location => require_trainee_location,
        trainee_face => require_trainee_face,
        threshold => face_match_threshold,
        accuracy => max_location_accuracy_m,
        feedback => feedback_window_days,
        excuse => excuse_window_days,
        low => low_attendance_threshold_percent,
        retention => image_retention_days,
    );
    row.updated_at = Set(kernel::time::now());
    let updated = row.update(&txn).await?;
    let out = AttendanceSettingsOut::from(&updated);
    let entry = Entry::new(&actor, Action::UPDATE, RESOURCE, updated.id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::diff(&before, &out.snapshot())),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(out))
}
