//! Attendance (contract §5): settings, sessions materialised from the
//! published timetable or made by hand, the session state machine, trainer
//! start and end and trainee check-in with geofence and face verification,
//! records, excuses, feedback, makeup sessions and analytics.
//!
//! This module holds what every part shares: the states, the rates, the
//! geofence distance, who reads which sessions, and the session's JSON
//! shape (rendered for many sessions with a handful of queries).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::access::Role;
use crate::entities::{attendance_record, attendance_session, class_group, course, room, user};
use crate::rest::round2;
use crate::state::AppState;

pub mod analytics;
pub mod checks;
pub mod feedback;
pub mod jobs;
pub mod makeup;
pub mod records;
pub mod sessions;
pub mod settings;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(settings::router())
        .merge(sessions::router())
        .merge(records::router())
        .merge(feedback::router())
        .merge(makeup::router())
        .merge(analytics::router())
}

/// Paths served beside the documented ones (`check_in/`,
/// `sessions/{id}/records/`, ...).
pub fn aliases() -> axum::Router<AppState> {
    axum::Router::new()
        .merge(sessions::aliases())
        .merge(records::aliases())
}

/// A session's state (contract §5, state machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    Scheduled,
    Active,
    Completed,
    Canceled,
    Missed,
}

impl SessionStatus {
    pub const CHOICES: &'static [&'static str] =
        &["scheduled", "active", "completed", "canceled", "missed"];

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "scheduled" => Some(Self::Scheduled),
            "active" => Some(Self::Active),
            "completed" => Some(Self::Completed),
            "canceled" => Some(Self::Canceled),
            "missed" => Some(Self::Missed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Active => "active",
            Self::Completed => "completed",
            Self::Canceled => "canceled",
            Self::Missed => "missed",
        }
    }
}

/// A trainee's standing in one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordStatus {
    Pending,
    Present,
    Late,
    Absent,
    Excused,
}

impl RecordStatus {
    pub const CHOICES: &'static [&'static str] =
        &["present", "late", "absent", "excused", "pending"];

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(Self::Pending),
            "present" => Some(Self::Present),
            "late" => Some(Self::Late),
            "absent" => Some(Self::Absent),
            "excused" => Some(Self::Excused),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Present => "present",
            Self::Late => "late",
            Self::Absent => "absent",
            Self::Excused => "excused",
        }
    }
}

/// Records counted by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Tally {
    pub present: i64,
    pub late: i64,
    pub absent: i64,
    pub excused: i64,
    pub pending: i64,
}

impl Tally {
    pub fn add(&mut self, status: &str, n: i64) {
        match RecordStatus::parse(status) {
            Some(RecordStatus::Present) => self.present += n,
            Some(RecordStatus::Late) => self.late += n,
            Some(RecordStatus::Absent) => self.absent += n,
            Some(RecordStatus::Excused) => self.excused += n,
            Some(RecordStatus::Pending) | None => self.pending += n,
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        self.present += other.present;
        self.late += other.late;
        self.absent += other.absent;
        self.excused += other.excused;
        self.pending += other.pending;
    }

    pub fn total(&self) -> i64 {
        self.present + self.late + self.absent + self.excused + self.pending
    }

    /// `100 × (present + late) / (present + late + absent)`; excused and
    /// pending are left out; `None` when nobody counts.
    pub fn attendance_rate(&self) -> Option<f64> {
        percent(
            self.present + self.late,
            self.present + self.late + self.absent,
        )
    }

    /// `100 × present / (present + late)`.
    pub fn punctuality_rate(&self) -> Option<f64> {
        percent(self.present, self.present + self.late)
    }
}

/// `100 × part / whole` to two places, `None` when `whole` is 0.
pub fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| round2(100.0 * part as f64 / whole as f64))
}

/// The mean of `values` to two places, `None` when there are none.
pub fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0u32), |(sum, n), v| (sum + v, n + 1));
    (n > 0).then(|| round2(sum / f64::from(n)))
}

/// Records of `sessions` counted by status, per session.
pub async fn tallies(
    db: &impl ConnectionTrait,
    sessions: &[Uuid],
) -> Result<HashMap<Uuid, Tally>, DbErr> {
    let mut out: HashMap<Uuid, Tally> = HashMap::new();
    for chunk in sessions.chunks(500) {
        let rows: Vec<(Uuid, String, i64)> = attendance_record::Entity::find()
            .select_only()
            .column(attendance_record::Column::SessionId)
            .column(attendance_record::Column::Status)
            .column_as(attendance_record::Column::Id.count(), "n")
            .filter(attendance_record::Column::SessionId.is_in(chunk.iter().copied()))
            .group_by(attendance_record::Column::SessionId)
            .group_by(attendance_record::Column::Status)
            .into_tuple()
            .all(db)
            .await?;
        for (session, status, n) in rows {
            out.entry(session).or_default().add(&status, n);
        }
    }
    Ok(out)
}

/// Great-circle distance in metres (haversine, mean earth radius
/// 6 371 008.8 m).
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const EARTH_RADIUS_M: f64 = 6_371_008.8;
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let d_phi = (lat2 - lat1).to_radians();
    let d_lambda = (lon2 - lon1).to_radians();
    let a = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().atan2((1.0 - a).sqrt())
}

/// The sessions `me` may read, as a condition on `roster_attendance_sessions`
/// (`None`: every session). Admin and deputy principal read all; a HOD the
/// sessions of their department's class groups (and of the class groups its
/// enrollments teach); a trainer their own sessions; a trainee the sessions
/// of their class groups.
pub async fn readable(
    db: &impl ConnectionTrait,
    me: &user::Model,
) -> Result<Option<Condition>, DbErr> {
    Ok(match me.role() {
        Role::Admin | Role::DpAcademics => None,
        Role::Trainer => {
            Some(Condition::all().add(attendance_session::Column::TrainerId.eq(me.id)))
        }
        Role::Hod | Role::Trainee => {
            let groups = crate::timetable::schedule::readable_groups(db, me)
                .await?
                .unwrap_or_default();
            Some(Condition::all().add(attendance_session::Column::ClassGroupId.is_in(groups)))
        }
    })
}

/// Whether `me` runs or manages `session` (its trainer, the HOD of its
/// department, admin or deputy principal): cancel, records, excuse review.
pub async fn manages(
    db: &impl ConnectionTrait,
    me: &user::Model,
    session: &attendance_session::Model,
) -> Result<bool, DbErr> {
    Ok(match me.role() {
        Role::Admin | Role::DpAcademics => true,
        Role::Trainer => session.trainer_id == Some(me.id),
        Role::Hod => {
            session.trainer_id == Some(me.id)
                || crate::timetable::schedule::readable_groups(db, me)
                    .await?
                    .is_some_and(|groups| groups.contains(&session.class_group_id))
        }
        Role::Trainee => false,
    })
}

/// How a session kept to its slot.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Adherence {
    /// Minutes between the scheduled and the actual start (negative: early).
    pub start_delay_minutes: Option<i64>,
    /// Minutes the session ended before its scheduled end (0 when it did not).
    pub ended_early_minutes: Option<i64>,
    pub duration_minutes: Option<i64>,
    /// Started within 5 minutes of the scheduled start.
    pub on_time: Option<bool>,
}

impl Adherence {
    pub fn of(session: &attendance_session::Model) -> Self {
        let start_delay = session
            .started_at
            .map(|at| (at - session.scheduled_start).num_minutes());
        let ended_early = session
            .ended_at
            .map(|at| (session.scheduled_end - at).num_minutes().max(0));
        let duration = match (session.started_at, session.ended_at) {
            (Some(start), Some(end)) => Some((end - start).num_minutes()),
            _ => None,
        };
        let on_time = session
            .started_at
            .map(|at| (at - session.scheduled_start).num_seconds().abs() <= 5 * 60);
        Self {
            start_delay_minutes: start_delay,
            ended_early_minutes: ended_early,
            duration_minutes: duration,
            on_time,
        }
    }
}

/// The feedback of one session, averaged (kept on the session row, recomputed
/// in the transaction that adds feedback).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedbackSummary {
    pub count: i32,
    pub content_avg: Option<f64>,
    pub delivery_avg: Option<f64>,
    pub engagement_avg: Option<f64>,
    pub overall_avg: Option<f64>,
}

impl FeedbackSummary {
    pub fn of(session: &attendance_session::Model) -> Self {
        Self {
            count: session.feedback_count,
            content_avg: session.content_avg,
            delivery_avg: session.delivery_avg,
            engagement_avg: session.engagement_avg,
            overall_avg: session.overall_avg,
        }
    }
}

/// Records of a session by status, with the expected total.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Counts {
    pub expected: i64,
    pub present: i64,
    pub late: i64,
    pub absent: i64,
    pub excused: i64,
    pub pending: i64,
}

/// `{id: "…"}` of the session a makeup replaces.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MakeupFor {
    pub id: Uuid,
    pub scheduled_start: DateTime<Utc>,
    pub status: String,
}

/// An attendance session as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionOut {
    pub id: Uuid,
    pub timetable_entry: Option<Uuid>,
    pub enrollment: Uuid,
    pub course: Uuid,
    pub course_code: String,
    pub course_name: String,
    pub class_group: Uuid,
    pub class_group_name: String,
    pub term: Uuid,
    pub trainer: Option<Uuid>,
    pub trainer_name: Option<String>,
    pub room: Option<Uuid>,
    pub room_name: Option<String>,
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
    pub status: String,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub start_latitude: Option<f64>,
    pub start_longitude: Option<f64>,
    pub start_distance_m: Option<f64>,
    pub trainer_face_verified: bool,
    pub is_makeup: bool,
    pub makeup_for: Option<MakeupFor>,
    pub cancel_reason: Option<String>,
    pub auto_closed: bool,
    pub notes: Option<String>,
    pub adherence: Adherence,
    pub counts: Counts,
    pub attendance_rate: Option<f64>,
    pub feedback_summary: FeedbackSummary,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Renders `sessions` in order, with a fixed number of queries.
pub async fn render(
    db: &impl ConnectionTrait,
    sessions: Vec<attendance_session::Model>,
) -> Result<Vec<SessionOut>, DbErr> {
    let ids: Vec<Uuid> = sessions.iter().map(|s| s.id).collect();
    let mut tallies = tallies(db, &ids).await?;
    let courses: HashMap<Uuid, course::Model> = by_id::<course::Entity>(
        db,
        sessions.iter().map(|s| s.course_id).collect(),
        course::Column::Id,
    )
    .await?;
    let groups: HashMap<Uuid, class_group::Model> = by_id::<class_group::Entity>(
        db,
        sessions.iter().map(|s| s.class_group_id).collect(),
        class_group::Column::Id,
    )
    .await?;
    let trainers: HashMap<Uuid, user::Model> = by_id::<user::Entity>(
        db,
        sessions.iter().filter_map(|s| s.trainer_id).collect(),
        user::Column::Id,
    )
    .await?;
    let rooms: HashMap<Uuid, room::Model> = by_id::<room::Entity>(
        db,
        sessions.iter().filter_map(|s| s.room_id).collect(),
        room::Column::Id,
    )
    .await?;
    let originals: HashMap<Uuid, attendance_session::Model> = by_id::<attendance_session::Entity>(
        db,
        sessions.iter().filter_map(|s| s.makeup_for_id).collect(),
        attendance_session::Column::Id,
    )
    .await?;
    Ok(sessions
        .into_iter()
        .map(|s| {
            let tally = tallies.remove(&s.id).unwrap_or_default();
            let course = courses.get(&s.course_id);
            SessionOut {
                id: s.id,
                timetable_entry: s.timetable_entry_id,
                enrollment: s.enrollment_id,
                course: s.course_id,
                course_code: course.map(|c| c.code.clone()).unwrap_or_default(),
                course_name: course.map(|c| c.name.clone()).unwrap_or_default(),
                class_group: s.class_group_id,
                class_group_name: groups
                    .get(&s.class_group_id)
                    .map(|g| g.name.clone())
                    .unwrap_or_default(),
                term: s.term_id,
                trainer: s.trainer_id,
                trainer_name: s
                    .trainer_id
                    .and_then(|id| trainers.get(&id))
                    .map(user::Model::full_name),
                room: s.room_id,
                room_name: s
                    .room_id
                    .and_then(|id| rooms.get(&id))
                    .map(|r| r.name.clone()),
                scheduled_start: s.scheduled_start,
                scheduled_end: s.scheduled_end,
                status: s.status.clone(),
                started_at: s.started_at,
                ended_at: s.ended_at,
                start_latitude: s.start_latitude,
                start_longitude: s.start_longitude,
                start_distance_m: s.start_distance_m.map(round2),
                trainer_face_verified: s.trainer_face_verified,
                is_makeup: s.is_makeup,
                makeup_for: s
                    .makeup_for_id
                    .and_then(|id| originals.get(&id))
                    .map(|o| MakeupFor {
                        id: o.id,
                        scheduled_start: o.scheduled_start,
                        status: o.status.clone(),
                    }),
                cancel_reason: s.cancel_reason.clone(),
                auto_closed: s.auto_closed,
                notes: s.notes.clone(),
                adherence: Adherence::of(&s),
                counts: Counts {
                    expected: tally.total(),
                    present: tally.present,
                    late: tally.late,
                    absent: tally.absent,
                    excused: tally.excused,
                    pending: tally.pending,
                },
                attendance_rate: tally.attendance_rate(),
                feedback_summary: FeedbackSummary::of(&s),
                created_at: s.created_at,
                updated_at: s.updated_at,
            }
        })
        .collect())
}

/// Rows of `E` whose `column` (its id) is one of `ids`, by id.
pub async fn by_id<E>(
    db: &impl ConnectionTrait,
    ids: HashSet<Uuid>,
    column: E::Column,
) -> Result<HashMap<Uuid, E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: HasId,
{
    let ids: Vec<Uuid> = ids.into_iter().collect();
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        for row in E::find()
            .filter(column.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            out.insert(row.id(), row);
        }
    }
    Ok(out)
}

/// A row with a UUID primary key.
pub trait HasId {
    fn id(&self) -> Uuid;
}

macro_rules! has_id {
    ($($module:ident),*) => {
        $(impl HasId for crate::entities::$module::Model {
            fn id(&self) -> Uuid {
                self.id
            }
        })*
    };
}

has_id!(
    attendance_session,
    attendance_record,
    course,
    class_group,
    user,
    room,
    enrollment,
    term,
    programme,
    department
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_leave_excused_and_pending_out() {
        let mut t = Tally::default();
        t.add("present", 6);
        t.add("late", 2);
        t.add("absent", 2);
        t.add("excused", 5);
        t.add("pending", 1);
        assert_eq!(t.attendance_rate(), Some(80.0));
        assert_eq!(t.punctuality_rate(), Some(75.0));
        assert_eq!(Tally::default().attendance_rate(), None);
    }

    #[test]
    fn haversine_matches_known_distances() {
        // One degree of latitude is about 111.2 km.
        let d = haversine_m(0.0, 0.0, 1.0, 0.0);
        assert!((d - 111_195.08).abs() < 1.0, "{d}");
        assert_eq!(haversine_m(-1.28, 36.82, -1.28, 36.82), 0.0);
    }
}
