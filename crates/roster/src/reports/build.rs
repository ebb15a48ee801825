//! Computing a report (contract §7): who may ask for which, then the
//! numbers from the sessions, records and feedback the caller may read.
//!
//! Every kind counts the sessions of its scope in the term and date range;
//! rates are the contract's (`attendance::Tally`: excused and pending left
//! out), "held" sessions are the completed ones, and feedback averages are
//! the mean overall rating of the sessions' feedback.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use kernel::ApiError;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::kinds::{Kind, Spec};
use crate::access::{self, Role, forbidden, headed_department};
use crate::attendance::{self, SessionStatus, Tally, by_id, mean, percent};
use crate::entities::{
    attendance_record, attendance_session, class_group, class_group_trainee, course, department,
    enrollment, profile, programme, room, session_feedback, user,
};
use crate::rest::round2;
use crate::timetable::schedule::readable_groups;

/// A computed report, as JSON and as every export reads it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Report {
    /// `trainee`, `class_group`, `course`, `trainer`, `programme`,
    /// `department` or `school`.
    pub report_type: String,
    pub generated_at: DateTime<Utc>,
    /// The filters applied (ids and dates), and `subject`: the name of the
    /// class group, course, trainer, programme or department reported on.
    #[schema(value_type = Object)]
    pub filters: Value,
    /// `sessions_held, present, late, absent, excused, attendance_rate,
    /// punctuality_rate` and the kind's own figures.
    #[schema(value_type = Object)]
    pub summary: Map<String, Value>,
    pub columns: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Map<String, Value>>,
    /// The one-trainee report: `{date, course_code, status, checked_in_at}`
    /// per session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub sessions: Option<Vec<Value>>,
}

impl Report {
    pub fn kind(&self) -> Option<Kind> {
        Kind::parse(&self.report_type)
    }
}

/// The order summary figures are printed in.
pub const SUMMARY_ORDER: [&str; 14] = [
    "sessions_held",
    "present",
    "late",
    "absent",
    "excused",
    "attendance_rate",
    "punctuality_rate",
    "sessions_scheduled",
    "sessions_completed",
    "sessions_missed",
    "on_time_start_rate",
    "avg_start_delay_minutes",
    "weekly_hours",
    "max_weekly_hours",
];

/// What the report is about, once the caller was found allowed to read it.
enum Subject {
    None,
    ClassGroup(class_group::Model),
    Course(course::Model),
    Trainer(user::Model),
    Programme(programme::Model),
    Department(department::Model),
}

impl Subject {
    fn name(&self) -> Option<String> {
        match self {
            Self::None => None,
            Self::ClassGroup(g) => Some(g.name.clone()),
            Self::Course(c) => Some(format!("{} {}", c.code, c.name)),
            Self::Trainer(u) => Some(u.full_name()),
            Self::Programme(p) => Some(p.name.clone()),
            Self::Department(d) => Some(d.name.clone()),
        }
    }
}

/// Whether `me` may read the report `spec` asks for: 403 for a kind the
/// role never reads (a trainee anything but their own trainee report, a
/// trainer the programme, department and school reports, a HOD the
/// school's), 404 for a subject that does not exist or is out of reach.
pub async fn authorize(
    db: &impl ConnectionTrait,
    me: &user::Model,
    spec: &Spec,
) -> Result<(), ApiError> {
    subject(db, me, spec).await.map(drop)
}

async fn subject(
    db: &impl ConnectionTrait,
    me: &user::Model,
    spec: &Spec,
) -> Result<Subject, ApiError> {
    let role = me.role();
    match (role, spec.kind) {
        (Role::Trainee, Kind::Trainee) if spec.filters.trainee.is_some_and(|t| t != me.id) => {
            return Err(forbidden());
        }
        (Role::Trainee, Kind::Trainee) => {}
        (Role::Trainee, _)
        | (Role::Trainer, Kind::Programme | Kind::Department | Kind::School)
        | (Role::Hod, Kind::School) => return Err(forbidden()),
        _ => {}
    }
    let id = spec.subject.unwrap_or_default();
    let lead = role.is_academic_lead();
    let department = headed_department(db, me).await?;
    Ok(match spec.kind {
        Kind::Trainee | Kind::School => Subject::None,
        Kind::ClassGroup => {
            let group = class_group::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or_else(ApiError::not_found)?;
            if readable_groups(db, me)
                .await?
                .is_some_and(|g| !g.contains(&id))
            {
                return Err(ApiError::not_found());
            }
            Subject::ClassGroup(group)
        }
        Kind::Course => {
            let course = course::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or_else(ApiError::not_found)?;
            let visible = lead
                || (department.is_some() && department == Some(course.department_id))
                || !course_enrollments(db, me, &course, department)
                    .await?
                    .is_empty();
            if !visible {
                return Err(ApiError::not_found());
            }
            Subject::Course(course)
        }
        Kind::Trainer => {
            let trainer = user::Entity::find_by_id(id)
                .one(db)
                .await?
                .filter(|u| matches!(u.role(), Role::Trainer | Role::Hod))
                .ok_or_else(ApiError::not_found)?;
            match role {
                Role::Trainer if id != me.id => return Err(forbidden()),
                Role::Hod if id != me.id => {
                    let theirs = access::trainer_departments(db, id).await?;
                    if !department.is_some_and(|d| theirs.contains(&d)) {
                        return Err(ApiError::not_found());
                    }
                }
                _ => {}
            }
            Subject::Trainer(trainer)
        }
        Kind::Programme => {
            let programme = programme::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or_else(ApiError::not_found)?;
            if !lead && department != Some(programme.department_id) {
                return Err(ApiError::not_found());
            }
            Subject::Programme(programme)
        }
        Kind::Department => {
            let found = department::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or_else(ApiError::not_found)?;
            if !lead && department != Some(found.id) {
                return Err(ApiError::not_found());
            }
            Subject::Department(found)
        }
    })
}

/// The enrollments of `course` whose rows `me` may read: all for the leads
/// and the HOD of its department, a HOD's class groups', a trainer's own.
async fn course_enrollments(
    db: &impl ConnectionTrait,
    me: &user::Model,
    course: &course::Model,
    department: Option<Uuid>,
) -> Result<Vec<enrollment::Model>, DbErr> {
    let mut query = enrollment::Entity::find().filter(enrollment::Column::CourseId.eq(course.id));
    match me.role() {
        Role::Admin | Role::DpAcademics => {}
        Role::Hod if department == Some(course.department_id) => {}
        Role::Trainer => query = query.filter(enrollment::Column::TrainerId.eq(me.id)),
        Role::Hod | Role::Trainee => {
            let groups = readable_groups(db, me).await?.unwrap_or_default();
            query = query.filter(enrollment::Column::ClassGroupId.is_in(groups));
        }
    }
    query.all(db).await
}

/// Figures gathered over some sessions.
#[derive(Debug, Default, Clone)]
struct Agg {
    scheduled: i64,
    held: i64,
    missed: i64,
    started: i64,
    on_time: i64,
    delays: Vec<f64>,
    minutes: i64,
    tally: Tally,
    feedback_sum: i64,
    feedback_n: i64,
}

impl Agg {
    fn add(&mut self, s: &attendance_session::Model, data: &Data) {
        let status = SessionStatus::parse(&s.status);
        if status != Some(SessionStatus::Canceled) {
            self.scheduled += 1;
            self.minutes += (s.scheduled_end - s.scheduled_start).num_minutes();
        }
        match status {
            Some(SessionStatus::Completed) => self.held += 1,
            Some(SessionStatus::Missed) => self.missed += 1,
            _ => {}
        }
        if let Some(at) = s.started_at {
            self.started += 1;
            let delay = at - s.scheduled_start;
            if delay.num_seconds().abs() <= 5 * 60 {
                self.on_time += 1;
            }
            #[allow(clippy::cast_precision_loss)]
            self.delays.push(delay.num_minutes() as f64);
        }
        if let Some(t) = data.tallies.get(&s.id) {
            self.tally.merge(t);
        }
        if let Some((sum, n)) = data.feedback.get(&s.id) {
            self.feedback_sum += sum;
            self.feedback_n += n;
        }
    }

    fn feedback_avg(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        (self.feedback_n > 0).then(|| round2(self.feedback_sum as f64 / self.feedback_n as f64))
    }

    fn on_time_rate(&self) -> Option<f64> {
        percent(self.on_time, self.started)
    }

    fn summary(&self) -> Map<String, Value> {
        summary_of(self.held, &self.tally)
    }
}

fn summary_of(held: i64, t: &Tally) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("sessions_held".into(), json!(held));
    out.insert("present".into(), json!(t.present));
    out.insert("late".into(), json!(t.late));
    out.insert("absent".into(), json!(t.absent));
    out.insert("excused".into(), json!(t.excused));
    out.insert("attendance_rate".into(), json!(t.attendance_rate()));
    out.insert("punctuality_rate".into(), json!(t.punctuality_rate()));
    out
}

/// The sessions of a report with their records counted and feedback summed.
struct Data {
    sessions: Vec<attendance_session::Model>,
    tallies: HashMap<Uuid, Tally>,
    /// Per session: (sum of overall ratings, number of feedbacks).
    feedback: HashMap<Uuid, (i64, i64)>,
}

impl Data {
    async fn load(
        db: &impl ConnectionTrait,
        me: &user::Model,
        spec: &Spec,
        tz: Tz,
        scope: Condition,
    ) -> Result<Self, DbErr> {
        let mut query = attendance_session::Entity::find().filter(scope);
        if let Some(readable) = attendance::readable(db, me).await? {
            query = query.filter(readable);
        }
        if let Some(term) = spec.filters.term {
            query = query.filter(attendance_session::Column::TermId.eq(term));
        }
        let (from, to) = spec.bounds(tz);
        if let Some(from) = from {
            query = query.filter(attendance_session::Column::ScheduledStart.gte(from));
        }
        if let Some(to) = to {
            query = query.filter(attendance_session::Column::ScheduledStart.lt(to));
        }
        let mut sessions = query.all(db).await?;
        sessions.sort_by_key(|s| (s.scheduled_start, s.id));
        let ids: Vec<Uuid> = sessions.iter().map(|s| s.id).collect();
        let tallies = attendance::tallies(db, &ids).await?;
        let mut feedback: HashMap<Uuid, (i64, i64)> = HashMap::new();
        for chunk in ids.chunks(500) {
            let rows: Vec<(Uuid, i32)> = session_feedback::Entity::find()
                .select_only()
                .column(session_feedback::Column::SessionId)
                .column(session_feedback::Column::OverallRating)
                .filter(session_feedback::Column::SessionId.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(db)
                .await?;
            for (session, rating) in rows {
                let entry = feedback.entry(session).or_default();
                entry.0 += i64::from(rating);
                entry.1 += 1;
            }
        }
        Ok(Self {
            sessions,
            tallies,
            feedback,
        })
    }

    fn total(&self) -> Agg {
        let mut agg = Agg::default();
        for s in &self.sessions {
            agg.add(s, self);
        }
        agg
    }

    /// The sessions' figures grouped by `key`.
    fn grouped(
        &self,
        key: impl Fn(&attendance_session::Model) -> Option<Uuid>,
    ) -> HashMap<Uuid, Agg> {
        let mut out: HashMap<Uuid, Agg> = HashMap::new();
        for s in &self.sessions {
            if let Some(k) = key(s) {
                out.entry(k).or_default().add(s, self);
            }
        }
        out
    }
}

/// Computes the report `spec` asks for, as `me` may see it (403/404 when
/// they may not).
pub async fn compute(
    db: &impl ConnectionTrait,
    me: &user::Model,
    spec: &Spec,
) -> Result<Report, ApiError> {
    let subject = subject(db, me, spec).await?;
    let tz = crate::timetable::engine::school_timezone(db).await?;
    let mut filters = spec.filters_json();
    if let (Some(name), Value::Object(map)) = (subject.name(), &mut filters) {
        map.insert("subject".into(), json!(name));
    }
    let mut report = Report {
        report_type: spec.kind.as_str().to_owned(),
        generated_at: kernel::time::now(),
        filters,
        summary: Map::new(),
        columns: spec
            .kind
            .columns()
            .iter()
            .map(|c| (*c).to_owned())
            .collect(),
        rows: Vec::new(),
        sessions: None,
    };
    match subject {
        Subject::None if spec.kind == Kind::Trainee => {
            trainees(db, me, spec, tz, &mut report).await?
        }
        Subject::ClassGroup(group) => {
            let mut query =
                enrollment::Entity::find().filter(enrollment::Column::ClassGroupId.eq(group.id));
            if me.role() == Role::Trainer {
                query = query.filter(enrollment::Column::TrainerId.eq(me.id));
            }
            let enrollments = narrow(query, spec).all(db).await?;
            enrollment_rows(db, me, spec, tz, enrollments, &mut report).await?;
        }
        Subject::Course(course) => {
            let department = headed_department(db, me).await?;
            let enrollments: Vec<enrollment::Model> =
                course_enrollments(db, me, &course, department)
                    .await?
                    .into_iter()
                    .filter(|e| spec.filters.term.is_none_or(|t| t == e.term_id))
                    .filter(|e| {
                        spec.filters
                            .class_group
                            .is_none_or(|g| g == e.class_group_id)
                    })
                    .collect();
            enrollment_rows(db, me, spec, tz, enrollments, &mut report).await?;
        }
        Subject::Trainer(trainer) => trainer_rows(db, me, spec, tz, &trainer, &mut report).await?,
        Subject::Programme(p) => {
            let groups = class_group::Entity::find()
                .filter(class_group::Column::ProgrammeId.eq(p.id))
                .all(db)
                .await?;
            let names: Vec<(Uuid, String)> =
                groups.iter().map(|g| (g.id, g.name.clone())).collect();
            let ids: Vec<Uuid> = names.iter().map(|(id, _)| *id).collect();
            let scope = Condition::all().add(attendance_session::Column::ClassGroupId.is_in(ids));
            let data = Data::load(db, me, spec, tz, scope).await?;
            let by = data.grouped(|s| Some(s.class_group_id));
            unit_rows(&data, names, &by, &mut report);
        }
        Subject::Department(d) => {
            let programmes = programme::Entity::find()
                .filter(programme::Column::DepartmentId.eq(d.id))
                .all(db)
                .await?;
            let of_group = group_parents(db, programmes.iter().map(|p| p.id).collect()).await?;
            let names: Vec<(Uuid, String)> =
                programmes.iter().map(|p| (p.id, p.name.clone())).collect();
            let groups: Vec<Uuid> = of_group.keys().copied().collect();
            let scope =
                Condition::all().add(attendance_session::Column::ClassGroupId.is_in(groups));
            let data = Data::load(db, me, spec, tz, scope).await?;
            let by = data.grouped(|s| of_group.get(&s.class_group_id).copied());
            unit_rows(&data, names, &by, &mut report);
        }
        Subject::None => {
            let departments = department::Entity::find().all(db).await?;
            let programmes: HashMap<Uuid, Uuid> = programme::Entity::find()
                .select_only()
                .column(programme::Column::Id)
                .column(programme::Column::DepartmentId)
                .into_tuple::<(Uuid, Uuid)>()
                .all(db)
                .await?
                .into_iter()
                .collect();
            let of_group: HashMap<Uuid, Uuid> =
                group_parents(db, programmes.keys().copied().collect())
                    .await?
                    .into_iter()
                    .filter_map(|(g, p)| programmes.get(&p).map(|d| (g, *d)))
                    .collect();
            let names: Vec<(Uuid, String)> =
                departments.iter().map(|d| (d.id, d.name.clone())).collect();
            let data = Data::load(db, me, spec, tz, Condition::all()).await?;
            let by = data.grouped(|s| of_group.get(&s.class_group_id).copied());
            unit_rows(&data, names, &by, &mut report);
        }
    }
    Ok(report)
}

/// Class group → programme, for the class groups of `programmes`.
async fn group_parents(
    db: &impl ConnectionTrait,
    programmes: Vec<Uuid>,
) -> Result<HashMap<Uuid, Uuid>, DbErr> {
    let mut out = HashMap::new();
    for chunk in programmes.chunks(500) {
        let rows: Vec<(Uuid, Uuid)> = class_group::Entity::find()
            .select_only()
            .column(class_group::Column::Id)
            .column(class_group::Column::ProgrammeId)
            .filter(class_group::Column::ProgrammeId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

fn narrow(
    mut query: sea_orm::Select<enrollment::Entity>,
    spec: &Spec,
) -> sea_orm::Select<enrollment::Entity> {
    let f = &spec.filters;
    if let Some(term) = f.term {
        query = query.filter(enrollment::Column::TermId.eq(term));
    }
    if let Some(course) = f.course {
        query = query.filter(enrollment::Column::CourseId.eq(course));
    }
    if let Some(group) = f.class_group {
        query = query.filter(enrollment::Column::ClassGroupId.eq(group));
    }
    query
}

/// Programme, department and school rows: one per unit, named.
fn unit_rows(
    data: &Data,
    mut names: Vec<(Uuid, String)>,
    by: &HashMap<Uuid, Agg>,
    report: &mut Report,
) {
    names.sort_by(|a, b| a.1.cmp(&b.1));
    let empty = Agg::default();
    for (id, name) in names {
        let agg = by.get(&id).unwrap_or(&empty);
        report.rows.push(row(&[
            ("id", json!(id)),
            ("name", json!(name)),
            ("sessions_held", json!(agg.held)),
            ("attendance_rate", json!(agg.tally.attendance_rate())),
            ("punctuality_rate", json!(agg.tally.punctuality_rate())),
            ("on_time_start_rate", json!(agg.on_time_rate())),
            ("missed_sessions", json!(agg.missed)),
        ]));
    }
    let total = data.total();
    report.summary = total.summary();
    report
        .summary
        .insert("on_time_start_rate".into(), json!(total.on_time_rate()));
    report
        .summary
        .insert("missed_sessions".into(), json!(total.missed));
}

fn row(cells: &[(&str, Value)]) -> Map<String, Value> {
    cells
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// Names of users by id.
async fn names(
    db: &impl ConnectionTrait,
    ids: HashSet<Uuid>,
) -> Result<HashMap<Uuid, String>, DbErr> {
    Ok(by_id::<user::Entity>(db, ids, user::Column::Id)
        .await?
        .into_iter()
        .map(|(id, u)| (id, u.full_name()))
        .collect())
}

/// Class group and course rows: one per enrollment.
async fn enrollment_rows(
    db: &impl ConnectionTrait,
    me: &user::Model,
    spec: &Spec,
    tz: Tz,
    enrollments: Vec<enrollment::Model>,
    report: &mut Report,
) -> Result<(), DbErr> {
    let ids: Vec<Uuid> = enrollments.iter().map(|e| e.id).collect();
    let scope = Condition::all().add(attendance_session::Column::EnrollmentId.is_in(ids));
    let data = Data::load(db, me, spec, tz, scope).await?;
    let by = data.grouped(|s| Some(s.enrollment_id));
    let courses = by_id::<course::Entity>(
        db,
        enrollments.iter().map(|e| e.course_id).collect(),
        course::Column::Id,
    )
    .await?;
    let groups = by_id::<class_group::Entity>(
        db,
        enrollments.iter().map(|e| e.class_group_id).collect(),
        class_group::Column::Id,
    )
    .await?;
    let trainers = names(
        db,
        enrollments.iter().filter_map(|e| e.trainer_id).collect(),
    )
    .await?;
    let empty = Agg::default();
    let mut rows: Vec<(String, Map<String, Value>)> = Vec::new();
    for e in &enrollments {
        let agg = by.get(&e.id).unwrap_or(&empty);
        let course = courses.get(&e.course_id);
        let group = groups
            .get(&e.class_group_id)
            .map(|g| g.name.clone())
            .unwrap_or_default();
        let trainer = e.trainer_id.and_then(|t| trainers.get(&t)).cloned();
        let t = &agg.tally;
        let cells = if spec.kind == Kind::Course {
            vec![
                ("enrollment", json!(e.id)),
                ("class_group", json!(group)),
                ("trainer_name", json!(trainer)),
                ("sessions_held", json!(agg.held)),
                ("attendance_rate", json!(t.attendance_rate())),
                ("punctuality_rate", json!(t.punctuality_rate())),
                ("feedback_overall_avg", json!(agg.feedback_avg())),
            ]
        } else {
            vec![
                ("enrollment", json!(e.id)),
                ("course_code", json!(course.map(|c| c.code.clone()))),
                ("course_name", json!(course.map(|c| c.name.clone()))),
                ("trainer_name", json!(trainer)),
                ("sessions_held", json!(agg.held)),
                ("present", json!(t.present)),
                ("late", json!(t.late)),
                ("absent", json!(t.absent)),
                ("excused", json!(t.excused)),
                ("attendance_rate", json!(t.attendance_rate())),
                ("punctuality_rate", json!(t.punctuality_rate())),
                ("feedback_overall_avg", json!(agg.feedback_avg())),
            ]
        };
        let key = if spec.kind == Kind::Course {
            group
        } else {
            course.map(|c| c.code.clone()).unwrap_or_default()
        };
        rows.push((key, row(&cells)));
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    report.rows = rows.into_iter().map(|(_, r)| r).collect();
    let total = data.total();
    report.summary = total.summary();
    report
        .summary
        .insert("feedback_overall_avg".into(), json!(total.feedback_avg()));
    Ok(())
}

/// The trainer report: one row per session.
async fn trainer_rows(
    db: &impl ConnectionTrait,
    me: &user::Model,
    spec: &Spec,
    tz: Tz,
    trainer: &user::Model,
    report: &mut Report,
) -> Result<(), DbErr> {
    let mut scope = Condition::all().add(attendance_session::Column::TrainerId.eq(trainer.id));
    if let Some(course) = spec.filters.course {
        scope = scope.add(attendance_session::Column::CourseId.eq(course));
    }
    let data = Data::load(db, me, spec, tz, scope).await?;
    let courses = by_id::<course::Entity>(
        db,
        data.sessions.iter().map(|s| s.course_id).collect(),
        course::Column::Id,
    )
    .await?;
    let groups = by_id::<class_group::Entity>(
        db,
        data.sessions.iter().map(|s| s.class_group_id).collect(),
        class_group::Column::Id,
    )
    .await?;
    let rooms = by_id::<room::Entity>(
        db,
        data.sessions.iter().filter_map(|s| s.room_id).collect(),
        room::Column::Id,
    )
    .await?;
    for s in &data.sessions {
        let adherence = attendance::Adherence::of(s);
        let t = data.tallies.get(&s.id).copied().unwrap_or_default();
        let feedback = data.feedback.get(&s.id).and_then(|(sum, n)| {
            #[allow(clippy::cast_precision_loss)]
            (*n > 0).then(|| round2(*sum as f64 / *n as f64))
        });
        report.rows.push(row(&[
            ("session", json!(s.id)),
            (
                "date",
                json!(s.scheduled_start.with_timezone(&tz).date_naive()),
            ),
            (
                "course_code",
                json!(courses.get(&s.course_id).map(|c| c.code.clone())),
            ),
            (
                "class_group",
                json!(groups.get(&s.class_group_id).map(|g| g.name.clone())),
            ),
            (
                "room",
                json!(
                    s.room_id
                        .and_then(|r| rooms.get(&r))
                        .map(|r| r.name.clone())
                ),
            ),
            ("scheduled_start", json!(s.scheduled_start)),
            ("started_at", json!(s.started_at)),
            ("start_delay_minutes", json!(adherence.start_delay_minutes)),
            ("ended_at", json!(s.ended_at)),
            ("duration_minutes", json!(adherence.duration_minutes)),
            ("status", json!(s.status)),
            ("present", json!(t.present)),
            ("late", json!(t.late)),
            ("absent", json!(t.absent)),
            ("attendance_rate", json!(t.attendance_rate())),
            ("feedback_overall_avg", json!(feedback)),
        ]));
    }
    let total = data.total();
    let mut summary = total.summary();
    let weeks = weeks_spanned(spec, &data.sessions, tz);
    #[allow(clippy::cast_precision_loss)]
    let weekly_hours = round2(total.minutes as f64 / 60.0 / weeks as f64);
    let max_weekly_hours: Option<i32> = profile::Entity::find()
        .select_only()
        .column(profile::Column::MaxWeeklyHours)
        .filter(profile::Column::UserId.eq(trainer.id))
        .into_tuple::<Option<i32>>()
        .one(db)
        .await?
        .flatten();
    for (key, value) in [
        ("sessions_scheduled", json!(total.scheduled)),
        ("sessions_completed", json!(total.held)),
        ("sessions_missed", json!(total.missed)),
        ("on_time_start_rate", json!(total.on_time_rate())),
        (
            "avg_start_delay_minutes",
            json!(mean(total.delays.iter().copied())),
        ),
        ("weekly_hours", json!(weekly_hours)),
        ("max_weekly_hours", json!(max_weekly_hours)),
    ] {
        summary.insert(key.into(), value);
    }
    report.summary = summary;
    Ok(())
}

/// The weeks the report covers (at least 1): the date range when given,
/// else the span of the sessions.
fn weeks_spanned(spec: &Spec, sessions: &[attendance_session::Model], tz: Tz) -> i64 {
    let first = spec.filters.date_from.or_else(|| {
        sessions
            .first()
            .map(|s| s.scheduled_start.with_timezone(&tz).date_naive())
    });
    let last = spec.filters.date_to.or_else(|| {
        sessions
            .last()
            .map(|s| s.scheduled_start.with_timezone(&tz).date_naive())
    });
    match (first, last) {
        (Some(a), Some(b)) if b >= a => ((b - a).num_days() + 1 + 6) / 7,
        _ => 1,
    }
    .max(1)
}

/// The trainee report: one row per (trainee, class group, course) of the
/// enrollments in scope.
async fn trainees(
    db: &impl ConnectionTrait,
    me: &user::Model,
    spec: &Spec,
    tz: Tz,
    report: &mut Report,
) -> Result<(), DbErr> {
    let trainee = match me.role() {
        Role::Trainee => Some(me.id),
        _ => spec.filters.trainee,
    };
    let mut query = narrow(enrollment::Entity::find(), spec);
    match me.role() {
        Role::Admin | Role::DpAcademics => {}
        Role::Trainer => query = query.filter(enrollment::Column::TrainerId.eq(me.id)),
        Role::Hod | Role::Trainee => {
            let groups = readable_groups(db, me).await?.unwrap_or_default();
            query = query.filter(enrollment::Column::ClassGroupId.is_in(groups));
        }
    }
    let enrollments = query.all(db).await?;
    let by_enrollment: HashMap<Uuid, &enrollment::Model> =
        enrollments.iter().map(|e| (e.id, e)).collect();
    let group_ids: HashSet<Uuid> = enrollments.iter().map(|e| e.class_group_id).collect();
    let mut members = class_group_trainee::Entity::find()
        .filter(class_group_trainee::Column::ClassGroupId.is_in(group_ids.iter().copied()));
    if let Some(t) = trainee {
        members = members.filter(class_group_trainee::Column::TraineeId.eq(t));
    }
    let members = members.all(db).await?;
    let scope = Condition::all()
        .add(attendance_session::Column::EnrollmentId.is_in(enrollments.iter().map(|e| e.id)));
    let data = Data::load(db, me, spec, tz, scope).await?;
    let session_ids: Vec<Uuid> = data.sessions.iter().map(|s| s.id).collect();
    let sessions: HashMap<Uuid, &attendance_session::Model> =
        data.sessions.iter().map(|s| (s.id, s)).collect();
    let mut records: Vec<attendance_record::Model> = Vec::new();
    for chunk in session_ids.chunks(500) {
        let mut query = attendance_record::Entity::find()
            .filter(attendance_record::Column::SessionId.is_in(chunk.iter().copied()));
        if let Some(t) = trainee {
            query = query.filter(attendance_record::Column::TraineeId.eq(t));
        }
        records.extend(query.all(db).await?);
    }
    let trainee_ids: HashSet<Uuid> = members
        .iter()
        .map(|m| m.trainee_id)
        .chain(records.iter().map(|r| r.trainee_id))
        .collect();
    let people = by_id::<user::Entity>(db, trainee_ids.clone(), user::Column::Id).await?;
    let admission: HashMap<Uuid, Option<String>> = profile::Entity::find()
        .select_only()
        .column(profile::Column::UserId)
        .column(profile::Column::AdmissionNumber)
        .filter(profile::Column::UserId.is_in(trainee_ids.iter().copied()))
        .into_tuple::<(Uuid, Option<String>)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let courses = by_id::<course::Entity>(
        db,
        enrollments.iter().map(|e| e.course_id).collect(),
        course::Column::Id,
    )
    .await?;
    let groups = by_id::<class_group::Entity>(db, group_ids, class_group::Column::Id).await?;
    // (class group name, trainee name, course code, ids) → counts.
    type Key = (String, String, String, Uuid, Uuid, Uuid);
    let key_of = |trainee: Uuid, group: Uuid, course: Uuid| -> Key {
        (
            groups
                .get(&group)
                .map(|g| g.name.clone())
                .unwrap_or_default(),
            people
                .get(&trainee)
                .map(user::Model::full_name)
                .unwrap_or_default(),
            courses
                .get(&course)
                .map(|c| c.code.clone())
                .unwrap_or_default(),
            trainee,
            group,
            course,
        )
    };
    let mut cells: BTreeMap<Key, (i64, Tally)> = BTreeMap::new();
    for m in &members {
        for e in enrollments
            .iter()
            .filter(|e| e.class_group_id == m.class_group_id)
        {
            cells
                .entry(key_of(m.trainee_id, e.class_group_id, e.course_id))
                .or_default();
        }
    }
    let mut mine: Vec<(DateTime<Utc>, Value)> = Vec::new();
    let mut held: HashSet<Uuid> = HashSet::new();
    for r in &records {
        let Some(s) = sessions.get(&r.session_id) else {
            continue;
        };
        let Some(e) = by_enrollment.get(&s.enrollment_id) else {
            continue;
        };
        let entry = cells
            .entry(key_of(r.trainee_id, e.class_group_id, e.course_id))
            .or_default();
        entry.0 += 1;
        entry.1.add(&r.status, 1);
        if s.status == SessionStatus::Completed.as_str() {
            held.insert(s.id);
        }
        if trainee.is_some() {
            mine.push((
                s.scheduled_start,
                json!({
                    "date": s.scheduled_start.with_timezone(&tz).date_naive(),
                    "course_code": courses.get(&s.course_id).map(|c| c.code.clone()),
                    "status": r.status,
                    "checked_in_at": r.checked_in_at,
                }),
            ));
        }
    }
    let mut total = Tally::default();
    for ((group, name, code, trainee_id, _, course_id), (count, t)) in &cells {
        total.merge(t);
        report.rows.push(row(&[
            ("trainee_id", json!(trainee_id)),
            (
                "admission_number",
                json!(admission.get(trainee_id).cloned().flatten()),
            ),
            ("trainee_name", json!(name)),
            ("class_group", json!(group)),
            ("course_code", json!(code)),
            (
                "course_name",
                json!(courses.get(course_id).map(|c| c.name.clone())),
            ),
            ("sessions", json!(count)),
            ("present", json!(t.present)),
            ("late", json!(t.late)),
            ("absent", json!(t.absent)),
            ("excused", json!(t.excused)),
            ("attendance_rate", json!(t.attendance_rate())),
            ("punctuality_rate", json!(t.punctuality_rate())),
        ]));
    }
    #[allow(clippy::cast_possible_wrap)]
    let held = held.len() as i64;
    report.summary = summary_of(held, &total);
    report.summary.insert(
        "trainees".into(),
        json!(cells.keys().map(|k| k.3).collect::<HashSet<_>>().len()),
    );
    if trainee.is_some() {
        mine.sort_by_key(|(at, _)| *at);
        report.sessions = Some(mine.into_iter().map(|(_, v)| v).collect());
    }
    Ok(())
}
