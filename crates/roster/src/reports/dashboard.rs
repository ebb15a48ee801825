//! `GET /api/reports/dashboard/` (contract §7), by role: the school's (admin,
//! deputy principal) or the department's (HOD) totals, attendance over the
//! last 7 and 30 days, the 5 class groups with the lowest attendance and
//! the trainers with most missed sessions (30 days); a trainer's sessions
//! today and rates per class group; a trainee's rates per course and next
//! sessions.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use kernel::{ApiResult, Current, Db, Json};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::access::{Me, Role, headed_department};
use crate::attendance::{self, SessionStatus, Tally, by_id};
use crate::entities::{
    attendance_record, attendance_session, class_group, class_group_trainee, course, department,
    department_trainer, programme, user,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(dashboard))
}

/// The caller's dashboard; its shape follows the role (`role` says which).
#[utoipa::path(get, path = "/api/reports/dashboard/", tag = "reports", security(("jwt" = [])),
    responses((status = 200, body = Object), (status = 401)))]
pub async fn dashboard(Db(db): Db, Current(me): Me) -> ApiResult<Json<Value>> {
    let tz = crate::timetable::engine::school_timezone(&db).await?;
    let now = kernel::time::now();
    let today = now.with_timezone(&tz).date_naive();
    let day_start = |d: chrono::NaiveDate| -> DateTime<Utc> {
        let naive = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        tz.from_local_datetime(&naive)
            .earliest()
            .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc))
    };
    let today_span = (
        day_start(today),
        day_start(today.succ_opt().unwrap_or(today)),
    );
    let body = match me.role() {
        Role::Admin | Role::DpAcademics => overview(&db, None, now, today_span).await?,
        Role::Hod => match headed_department(&db, &me).await? {
            Some(d) => overview(&db, Some(d), now, today_span).await?,
            None => json!({"role": "hod", "scope": "department", "department": null}),
        },
        Role::Trainer => trainer(&db, &me, today_span).await?,
        Role::Trainee => trainee(&db, &me, now).await?,
    };
    Ok(Json(body))
}

fn rate(t: &Tally) -> Value {
    json!(t.attendance_rate())
}

/// Records of the sessions matching `scope` counted together.
async fn tally_of(
    db: &impl ConnectionTrait,
    scope: Condition,
) -> Result<(Vec<attendance_session::Model>, HashMap<Uuid, Tally>), DbErr> {
    let sessions = attendance_session::Entity::find()
        .filter(scope)
        .all(db)
        .await?;
    let ids: Vec<Uuid> = sessions.iter().map(|s| s.id).collect();
    let tallies = attendance::tallies(db, &ids).await?;
    Ok((sessions, tallies))
}

fn merged<'a>(
    tallies: &HashMap<Uuid, Tally>,
    sessions: impl Iterator<Item = &'a attendance_session::Model>,
) -> Tally {
    let mut t = Tally::default();
    for s in sessions {
        if let Some(x) = tallies.get(&s.id) {
            t.merge(x);
        }
    }
    t
}

/// The school's (`department` none) or a department's figures.
async fn overview(
    db: &impl ConnectionTrait,
    department: Option<Uuid>,
    now: DateTime<Utc>,
    today: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Value, DbErr> {
    let mut programmes = programme::Entity::find();
    if let Some(d) = department {
        programmes = programmes.filter(programme::Column::DepartmentId.eq(d));
    }
    let programme_ids: Vec<Uuid> = programmes
        .select_only()
        .column(programme::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let mut groups_q = class_group::Entity::find();
    if department.is_some() {
        groups_q =
            groups_q.filter(class_group::Column::ProgrammeId.is_in(programme_ids.iter().copied()));
    }
    let groups = groups_q.all(db).await?;
    let group_ids: Vec<Uuid> = groups.iter().map(|g| g.id).collect();
    let (departments, trainees, trainers) = match department {
        None => (
            department::Entity::find().count(db).await?,
            user::Entity::find()
                .filter(user::Column::Role.eq("trainee"))
                .filter(user::Column::IsActive.eq(true))
                .count(db)
                .await?,
            user::Entity::find()
                .filter(user::Column::Role.eq("trainer"))
                .filter(user::Column::IsActive.eq(true))
                .count(db)
                .await?,
        ),
        Some(d) => {
            let trainees: HashSet<Uuid> = class_group_trainee::Entity::find()
                .select_only()
                .column(class_group_trainee::Column::TraineeId)
                .filter(class_group_trainee::Column::ClassGroupId.is_in(group_ids.iter().copied()))
                .into_tuple::<Uuid>()
                .all(db)
                .await?
                .into_iter()
                .collect();
            let trainers = department_trainer::Entity::find()
                .filter(department_trainer::Column::DepartmentId.eq(d))
                .count(db)
                .await?;
            (1, trainees.len() as u64, trainers)
        }
    };
    let scoped = |c: Condition| match department {
        Some(_) => c.add(attendance_session::Column::ClassGroupId.is_in(group_ids.iter().copied())),
        None => c,
    };
    let sessions_today = attendance_session::Entity::find()
        .filter(scoped(
            Condition::all()
                .add(attendance_session::Column::ScheduledStart.gte(today.0))
                .add(attendance_session::Column::ScheduledStart.lt(today.1)),
        ))
        .count(db)
        .await?;
    let month_ago = now - TimeDelta::days(30);
    let week_ago = now - TimeDelta::days(7);
    let (sessions, tallies) = tally_of(
        db,
        scoped(
            Condition::all()
                .add(attendance_session::Column::ScheduledStart.gte(month_ago))
                .add(attendance_session::Column::ScheduledStart.lte(now)),
        ),
    )
    .await?;
    let week = merged(
        &tallies,
        sessions.iter().filter(|s| s.scheduled_start >= week_ago),
    );
    let month = merged(&tallies, sessions.iter());
    let mut by_group: HashMap<Uuid, Tally> = HashMap::new();
    let mut missed: HashMap<Uuid, i64> = HashMap::new();
    for s in &sessions {
        if let Some(t) = tallies.get(&s.id) {
            by_group.entry(s.class_group_id).or_default().merge(t);
        }
        if let (Some(trainer), Some(SessionStatus::Missed)) =
            (s.trainer_id, SessionStatus::parse(&s.status))
        {
            *missed.entry(trainer).or_default() += 1;
        }
    }
    let names: HashMap<Uuid, String> = groups.iter().map(|g| (g.id, g.name.clone())).collect();
    let mut lowest: Vec<(f64, String, Uuid)> = by_group
        .iter()
        .filter_map(|(id, t)| {
            t.attendance_rate()
                .map(|r| (r, names.get(id).cloned().unwrap_or_default(), *id))
        })
        .collect();
    lowest.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let people =
        by_id::<user::Entity>(db, missed.keys().copied().collect(), user::Column::Id).await?;
    let mut most_missed: Vec<(i64, String, Uuid)> = missed
        .iter()
        .map(|(id, n)| {
            (
                *n,
                people
                    .get(id)
                    .map(user::Model::full_name)
                    .unwrap_or_default(),
                *id,
            )
        })
        .collect();
    most_missed.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    Ok(json!({
        "role": if department.is_some() { "hod" } else { "admin" },
        "scope": if department.is_some() { "department" } else { "school" },
        "department": department,
        "totals": {
            "departments": departments,
            "programmes": programme_ids.len(),
            "class_groups": groups.len(),
            "trainees": trainees,
            "trainers": trainers,
            "sessions_today": sessions_today,
        },
        "attendance_rate_7d": rate(&week),
        "attendance_rate_30d": rate(&month),
        "lowest_class_groups": lowest.into_iter().take(5)
            .map(|(r, name, id)| json!({"id": id, "name": name, "attendance_rate": r}))
            .collect::<Vec<_>>(),
        "trainers_most_missed": most_missed.into_iter().take(5)
            .map(|(n, name, id)| json!({"id": id, "name": name, "missed_sessions": n}))
            .collect::<Vec<_>>(),
    }))
}

/// A trainer's sessions today and rates per class group (their sessions).
async fn trainer(
    db: &impl ConnectionTrait,
    me: &user::Model,
    today: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Value, DbErr> {
    let (sessions, tallies) = tally_of(
        db,
        Condition::all().add(attendance_session::Column::TrainerId.eq(me.id)),
    )
    .await?;
    let mut today_sessions: Vec<attendance_session::Model> = sessions
        .iter()
        .filter(|s| s.scheduled_start >= today.0 && s.scheduled_start < today.1)
        .cloned()
        .collect();
    today_sessions.sort_by_key(|s| s.scheduled_start);
    let mut by_group: HashMap<Uuid, (Tally, i64)> = HashMap::new();
    for s in &sessions {
        let entry = by_group.entry(s.class_group_id).or_default();
        if let Some(t) = tallies.get(&s.id) {
            entry.0.merge(t);
        }
        if s.status == SessionStatus::Completed.as_str() {
            entry.1 += 1;
        }
    }
    let groups = by_id::<class_group::Entity>(
        db,
        by_group.keys().copied().collect(),
        class_group::Column::Id,
    )
    .await?;
    let mut rows: Vec<(String, Value)> = by_group
        .iter()
        .map(|(id, (t, held))| {
            let name = groups.get(id).map(|g| g.name.clone()).unwrap_or_default();
            (
                name.clone(),
                json!({"class_group": id, "name": name, "sessions_held": held,
                       "attendance_rate": t.attendance_rate(), "punctuality_rate": t.punctuality_rate()}),
            )
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(json!({
        "role": "trainer",
        "today_sessions": attendance::render(db, today_sessions).await?,
        "class_groups": rows.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
    }))
}

/// A trainee's rates per course and their next 5 sessions.
async fn trainee(
    db: &impl ConnectionTrait,
    me: &user::Model,
    now: DateTime<Utc>,
) -> Result<Value, DbErr> {
    let records: Vec<(Uuid, String)> = attendance_record::Entity::find()
        .select_only()
        .column(attendance_record::Column::SessionId)
        .column(attendance_record::Column::Status)
        .filter(attendance_record::Column::TraineeId.eq(me.id))
        .into_tuple()
        .all(db)
        .await?;
    let sessions = by_id::<attendance_session::Entity>(
        db,
        records.iter().map(|(s, _)| *s).collect(),
        attendance_session::Column::Id,
    )
    .await?;
    let mut by_course: HashMap<Uuid, Tally> = HashMap::new();
    for (session, status) in &records {
        if let Some(s) = sessions.get(session) {
            by_course.entry(s.course_id).or_default().add(status, 1);
        }
    }
    let courses =
        by_id::<course::Entity>(db, by_course.keys().copied().collect(), course::Column::Id)
            .await?;
    let mut rows: Vec<(String, Value)> = by_course
        .iter()
        .map(|(id, t)| {
            let c = courses.get(id);
            let code = c.map(|c| c.code.clone()).unwrap_or_default();
            (
                code.clone(),
                json!({"course": id, "course_code": code, "course_name": c.map(|c| c.name.clone()),
                       "attendance_rate": t.attendance_rate(), "punctuality_rate": t.punctuality_rate()}),
            )
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let groups = crate::access::trainee_class_groups(db, me.id).await?;
    let next = attendance_session::Entity::find()
        .filter(attendance_session::Column::ClassGroupId.is_in(groups))
        .filter(attendance_session::Column::ScheduledEnd.gt(now))
        .filter(attendance_session::Column::Status.is_in(["scheduled", "active"]))
        .order_by_asc(attendance_session::Column::ScheduledStart)
        .limit(5)
        .all(db)
        .await?;
    Ok(json!({
        "role": "trainee",
        "courses": rows.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "next_sessions": attendance::render(db, next).await?,
    }))
}
