//! Attendance analytics (contract §5, **Analytics**): the sessions, records,
//! rates, trainer adherence and feedback of the sessions the caller may
//! read (`/api/attendance/analytics/`), and a trainee's own summary
//! (`/api/attendance/my-summary/`). Rates are exactly [`Tally`]'s.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use kernel::listing::ListOf;
use kernel::{ApiError, ApiResult, Current, Db, Json};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Adherence, SessionStatus, Tally, mean, percent};
use crate::Roster;
use crate::access::{Me, Role};
use crate::entities::{attendance_record, attendance_session, course, session_feedback};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(attendance_analytics))
        .routes(routes!(my_summary))
}

/// Sessions counted by state (`scheduled`: every session in the range,
/// whatever its state; `makeup`: the makeup sessions among them).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct SessionCounts {
    pub scheduled: i64,
    pub completed: i64,
    pub missed: i64,
    pub canceled: i64,
    pub makeup: i64,
}

/// How trainers kept to their slots (sessions that started).
#[derive(Debug, Serialize, ToSchema)]
pub struct TrainerAdherence {
    /// Percentage of started sessions started within 5 minutes of their
    /// scheduled start.
    pub on_time_start_rate: Option<f64>,
    pub avg_start_delay_minutes: Option<f64>,
    /// Over sessions that started and ended.
    pub avg_duration_minutes: Option<f64>,
}

/// The feedback of the sessions, averaged over every rating.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackTotals {
    pub count: i64,
    pub overall_avg: Option<f64>,
    pub content_avg: Option<f64>,
    pub delivery_avg: Option<f64>,
    pub engagement_avg: Option<f64>,
}

/// One school-local day's attendance rate.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayRate {
    pub date: NaiveDate,
    pub attendance_rate: Option<f64>,
}

/// `GET /api/attendance/analytics/`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsOut {
    pub sessions: SessionCounts,
    pub records: Tally,
    pub attendance_rate: Option<f64>,
    pub punctuality_rate: Option<f64>,
    pub trainer_adherence: TrainerAdherence,
    pub feedback: FeedbackTotals,
    pub by_day: Vec<DayRate>,
}

/// The attendance figures of the sessions the caller may read (trainer:
/// own; HOD: their department's; admin, deputy principal: all; trainee:
/// 403), filtered by `course`, `class_group`, `trainer`, `date_from`,
/// `date_to` (school-local dates of the scheduled start).
#[utoipa::path(get, path = "/api/attendance/analytics/", tag = "attendance", security(("jwt" = [])),
    params(("course" = Option<Uuid>, Query), ("class_group" = Option<Uuid>, Query),
           ("trainer" = Option<Uuid>, Query), ("date_from" = Option<NaiveDate>, Query),
           ("date_to" = Option<NaiveDate>, Query)),
    responses((status = 200, body = AnalyticsOut), (status = 400), (status = 401), (status = 403)))]
pub async fn attendance_analytics(
    Db(db): Db,
    Current(me): Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<AnalyticsOut>> {
    if me.role() == Role::Trainee {
        return Err(crate::access::forbidden());
    }
    let mut cond = super::records::session_filters(&db, &list, true).await?;
    if let Some(readable) = super::readable(&db, &me).await? {
        cond = cond.add(readable);
    }
    let sessions = attendance_session::Entity::find()
        .filter(cond.clone())
        .all(&db)
        .await?;
    let mut counts = SessionCounts::default();
    let mut delays = Vec::new();
    let mut durations = Vec::new();
    let (mut started, mut on_time) = (0i64, 0i64);
    for s in &sessions {
        counts.scheduled += 1;
        match SessionStatus::parse(&s.status) {
            Some(SessionStatus::Completed) => counts.completed += 1,
            Some(SessionStatus::Missed) => counts.missed += 1,
            Some(SessionStatus::Canceled) => counts.canceled += 1,
            _ => {}
        }
        if s.is_makeup {
            counts.makeup += 1;
        }
        let a = Adherence::of(s);
        if let Some(delay) = a.start_delay_minutes {
            started += 1;
            delays.push(delay as f64);
            if a.on_time == Some(true) {
                on_time += 1;
            }
        }
        if let Some(d) = a.duration_minutes {
            durations.push(d as f64);
        }
    }
    let ids: Vec<Uuid> = sessions.iter().map(|s| s.id).collect();
    let tallies = super::tallies(&db, &ids).await?;
    let tz = crate::timetable::engine::school_timezone(&db).await?;
    let mut total = Tally::default();
    let mut days: BTreeMap<NaiveDate, Tally> = BTreeMap::new();
    for s in &sessions {
        let Some(t) = tallies.get(&s.id) else {
            continue;
        };
        total.merge(t);
        days.entry(s.scheduled_start.with_timezone(&tz).date_naive())
            .or_default()
            .merge(t);
    }
    let sub = Query::select()
        .column(attendance_session::Column::Id)
        .from(attendance_session::Entity)
        .cond_where(cond)
        .to_owned();
    let ratings: Vec<(i32, i32, i32, i32)> = session_feedback::Entity::find()
        .select_only()
        .column(session_feedback::Column::OverallRating)
        .column(session_feedback::Column::ContentRating)
        .column(session_feedback::Column::DeliveryRating)
        .column(session_feedback::Column::EngagementRating)
        .filter(session_feedback::Column::SessionId.in_subquery(sub))
        .into_tuple()
        .all(&db)
        .await?;
    let avg = |f: fn(&(i32, i32, i32, i32)) -> i32| mean(ratings.iter().map(|r| f64::from(f(r))));
    Ok(Json(AnalyticsOut {
        sessions: counts,
        records: total,
        attendance_rate: total.attendance_rate(),
        punctuality_rate: total.punctuality_rate(),
        trainer_adherence: TrainerAdherence {
            on_time_start_rate: percent(on_time, started),
            avg_start_delay_minutes: mean(delays),
            avg_duration_minutes: mean(durations),
        },
        feedback: FeedbackTotals {
            count: i64::try_from(ratings.len()).unwrap_or(i64::MAX),
            overall_avg: avg(|r| r.0),
            content_avg: avg(|r| r.1),
            delivery_avg: avg(|r| r.2),
            engagement_avg: avg(|r| r.3),
        },
        by_day: days
            .into_iter()
            .map(|(date, t)| DayRate {
                date,
                attendance_rate: t.attendance_rate(),
            })
            .collect(),
    }))
}

/// One course of a trainee's summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct CourseRate {
    pub course: Uuid,
    pub course_code: String,
    pub attendance_rate: Option<f64>,
}

/// `GET /api/attendance/my-summary/`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MySummary {
    /// Every record of the trainee (pending included).
    pub total: i64,
    pub present: i64,
    pub late: i64,
    pub absent: i64,
    pub excused: i64,
    pub attendance_rate: Option<f64>,
    /// By course code.
    pub by_course: Vec<CourseRate>,
}

/// The caller's own attendance (trainees only), overall and per course.
#[utoipa::path(get, path = "/api/attendance/my-summary/", tag = "attendance", security(("jwt" = [])),
    responses((status = 200, body = MySummary), (status = 401), (status = 403)))]
pub async fn my_summary(Db(db): Db, Current(me): Me) -> ApiResult<Json<MySummary>> {
    if me.role() != Role::Trainee {
        return Err(ApiError::forbidden(
            "Only trainees have an attendance summary.",
        ));
    }
    let records: Vec<(Uuid, String)> = attendance_record::Entity::find()
        .select_only()
        .column(attendance_record::Column::SessionId)
        .column(attendance_record::Column::Status)
        .filter(attendance_record::Column::TraineeId.eq(me.id))
        .into_tuple()
        .all(&db)
        .await?;
    let sessions = super::by_id::<attendance_session::Entity>(
        &db,
        records.iter().map(|(s, _)| *s).collect(),
        attendance_session::Column::Id,
    )
    .await?;
    let mut total = Tally::default();
    let mut per_course: HashMap<Uuid, Tally> = HashMap::new();
    for (session, status) in &records {
        total.add(status, 1);
        if let Some(s) = sessions.get(session) {
            per_course.entry(s.course_id).or_default().add(status, 1);
        }
    }
    let courses = course::Entity::find()
        .filter(Condition::all().add(course::Column::Id.is_in(per_course.keys().copied())))
        .all(&db)
        .await?;
    let codes: HashMap<Uuid, String> = courses.into_iter().map(|c| (c.id, c.code)).collect();
    let mut by_course: Vec<CourseRate> = per_course
        .into_iter()
        .map(|(id, t)| CourseRate {
            course: id,
            course_code: codes.get(&id).cloned().unwrap_or_default(),
            attendance_rate: t.attendance_rate(),
        })
        .collect();
    by_course.sort_by(|a, b| {
        a.course_code
            .cmp(&b.course_code)
            .then(a.course.cmp(&b.course))
    });
    Ok(Json(MySummary {
        total: total.total(),
        present: total.present,
        late: total.late,
        absent: total.absent,
        excused: total.excused,
        attendance_rate: total.attendance_rate(),
        by_course,
    }))
}
