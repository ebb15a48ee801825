//! Automatic timetable generation over HTTP (contract §4, **Generation**):
//! `POST /api/timetable-generation/generate/` (admin, deputy principal,
//! HOD within their department), synchronous or `?async=true` on the job
//! queue (`roster.timetable.generate`, tasks in `roster_generation_tasks`),
//! and `GET /api/timetable-generation/task_status/?task_id=`.
//!
//! A run loads the term into the conflict engine, narrows the demand to the
//! request's scope, lets [`super::generate::solve`] place it, and writes a
//! new draft version — its row, its scope (the enrollments it covers) and
//! its entries — in one transaction with one audit row. Nothing is
//! published.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use kernel::audit::{Action, Actor, AuditSink, Caller, Entry};
use kernel::{ApiError, ApiResult, Current, Db, Field, Json, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QuerySelect,
};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::engine::{Candidate, PlanEntry, TermPlan};
use super::generate::{self, Board, Kind, Placement, Session, Slot, Verdict};
use crate::access::{Manager, Role, headed_department};
use crate::audit::Log;
use crate::entities::{
    class_group, department, draft_scope, draft_version, generation_task, programme, term,
    timetable_entry, user,
};
use crate::rest::{invalid_pk, refused};
use crate::state::AppState;

/// The job that runs an asynchronous generation: `{"task_id"}`.
pub const GENERATE_JOB: &str = "roster.timetable.generate";

/// The version key the search uses before the version is named.
const WORKING_VERSION: &str = "generation";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(generate))
        .routes(routes!(task_status))
}

/// Hyphenated action names (contract §4).
pub fn aliases() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/api/timetable-generation/task-status/",
        axum::routing::get(task_status),
    )
}

// ----- the request -----

/// What to generate.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct GenerateIn {
    /// The term (required).
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub term_id: Field<String>,
    /// Only these class groups' enrollments.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub class_group_ids: Field<Vec<String>>,
    /// Only the enrollments of these departments' courses.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub department_ids: Field<Vec<String>>,
    /// Write the draft (default true); false computes and reports only.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub create_entries: Field<bool>,
    /// Seed of the tie-breaks: one seed, one timetable (random when absent;
    /// the report gives the seed used).
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub seed: Field<i64>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct GenerateQuery {
    /// `true`: run on the job queue and answer 202 with a task id.
    #[serde(rename = "async")]
    #[param(rename = "async", value_type = Option<bool>)]
    pub run_async: Option<String>,
}

/// A checked request, as a task stores it.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
struct Request {
    term_id: Uuid,
    class_group_ids: Option<Vec<Uuid>>,
    department_ids: Option<Vec<Uuid>>,
    create_entries: bool,
    seed: u64,
}

/// A list of ids in a body: each must name an existing row.
async fn ids_of<E>(
    db: &impl ConnectionTrait,
    field: &str,
    raw: Field<Vec<String>>,
    errors: &mut kernel::FieldErrors,
) -> Result<Option<Vec<E::Model>>, ApiError>
where
    E: EntityTrait,
    E::Column: ColumnTrait,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    let Some(list) = raw.value().filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    let mut rows = Vec::new();
    for item in &list {
        match crate::rest::referenced::<E>(db, field, item).await {
            Ok(row) => rows.push(row),
            Err(_) => {
                errors.add(field, invalid_pk(item));
                return Ok(None);
            }
        }
    }
    Ok(Some(rows))
}

/// Checks the body and the caller's reach: 400 for bad input, 403 for a
/// class group or department outside a HOD's department.
async fn check_request(
    db: &DatabaseConnection,
    me: &user::Model,
    input: GenerateIn,
) -> ApiResult<Request> {
    let mut errors = kernel::FieldErrors::new();
    let term = match input.term_id {
        Field::Value(raw) => {
            match crate::rest::referenced::<term::Entity>(db, "term_id", &raw).await {
                Ok(t) => Some(t),
                Err(_) => {
                    errors.add("term_id", invalid_pk(&raw));
                    None
                }
            }
        }
        Field::Null => {
            errors.add("term_id", kernel::form::NOT_NULL);
            None
        }
        Field::Absent => {
            errors.add("term_id", kernel::form::REQUIRED);
            None
        }
    };
    let groups =
        ids_of::<class_group::Entity>(db, "class_group_ids", input.class_group_ids, &mut errors)
            .await?;
    let departments =
        ids_of::<department::Entity>(db, "department_ids", input.department_ids, &mut errors)
            .await?;
    errors.into_result()?;
    let Some(term) = term else {
        return Err(ApiError::field("term_id", kernel::form::REQUIRED));
    };
    if me.role() == Role::Hod {
        let own = headed_department(db, me)
            .await?
            .ok_or_else(crate::access::forbidden)?;
        if departments.iter().flatten().any(|d| d.id != own) {
            return Err(crate::access::forbidden());
        }
        if let Some(groups) = &groups {
            let programmes: HashSet<Uuid> = groups.iter().map(|g| g.programme_id).collect();
            let outside = programme::Entity::find()
                .filter(programme::Column::Id.is_in(programmes))
                .filter(programme::Column::DepartmentId.ne(own))
                .one(db)
                .await?;
            if outside.is_some() {
                return Err(crate::access::forbidden());
            }
        }
    }
    let department_ids = match (me.role(), departments) {
        (_, Some(list)) => Some(list.into_iter().map(|d| d.id).collect()),
        (Role::Hod, None) => headed_department(db, me).await?.map(|d| vec![d]),
        (_, None) => None,
    };
    let seed = match input.seed {
        // Any 64 bits: a negative seed is as good as a positive one.
        #[allow(clippy::cast_sign_loss)]
        Field::Value(s) => s as u64,
        Field::Absent | Field::Null => rand::random(),
    };
    Ok(Request {
        term_id: term.id,
        class_group_ids: groups.map(|g| g.into_iter().map(|g| g.id).collect()),
        department_ids,
        create_entries: input.create_entries.value().unwrap_or(true),
        seed,
    })
}

fn wants_async(query: &GenerateQuery) -> ApiResult<bool> {
    match query.run_async.as_deref().map(str::trim) {
        None => Ok(false),
        Some(v) if ["true", "1", "yes", "True"].contains(&v) => Ok(true),
        Some(v) if ["false", "0", "no", "False"].contains(&v) => Ok(false),
        Some(_) => Err(ApiError::field("async", "Must be a valid boolean.")),
    }
}

// ----- endpoints -----

/// Generate a draft timetable version for a term (or part of it).
///
/// 200 `{success: true, report}` when every demanded session was placed;
/// 422 `{success: false, report}` when some were not (`report.unplaced`
/// says why; the placed ones are kept in the draft); `?async=true` → 202
/// `{detail, task_id}`.
#[utoipa::path(post, path = "/api/timetable-generation/generate/", tag = "timetable",
    security(("jwt" = [])), params(GenerateQuery), request_body = GenerateIn,
    responses((status = 200, description = "Every session placed.", body = Object),
        (status = 202, description = "Queued: `{detail, task_id}`.", body = Object),
        (status = 400), (status = 401), (status = 403),
        (status = 422, description = "Some sessions could not be placed.", body = Object)))]
async fn generate(
    State(state): State<AppState>,
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Query(query): Query<GenerateQuery>,
    Json(input): Json<GenerateIn>,
) -> ApiResult<Response> {
    let run_async = wants_async(&query)?;
    let request = check_request(&db, &me, input).await?;
    if run_async {
        let task_id = queue(&db, &me, &actor, &request).await?;
        state.jobs_wake.notify_one();
        let body = json!({"detail": "Timetable generation started.", "task_id": task_id});
        return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
    }
    let report = run(&db, &request, &actor, me.id, None).await?;
    let status = if report.success {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Json(report.body())).into_response())
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct TaskQuery {
    /// The id `generate?async=true` answered.
    #[param(value_type = Uuid, required = true)]
    pub task_id: Option<String>,
}

/// The state of an asynchronous generation: `{task_id, state,
/// progress_percentage, …}` with the report's members once it ran.
#[utoipa::path(get, path = "/api/timetable-generation/task_status/", tag = "timetable",
    security(("jwt" = [])), params(TaskQuery),
    responses((status = 200, body = Object), (status = 400), (status = 401), (status = 403), (status = 404)))]
async fn task_status(
    Db(db): Db,
    Manager(Current(me)): Manager,
    Query(query): Query<TaskQuery>,
) -> ApiResult<Json<Value>> {
    let raw = query
        .task_id
        .ok_or_else(|| ApiError::field("task_id", kernel::form::REQUIRED))?;
    let id = Uuid::parse_str(raw.trim()).map_err(|_| ApiError::not_found())?;
    let mut find = generation_task::Entity::find_by_id(id);
    if !me.role().is_academic_lead() {
        find = find.filter(generation_task::Column::RequestedBy.eq(me.id));
    }
    let task = find.one(&db).await?.ok_or_else(ApiError::not_found)?;
    let mut body = json!({
        "task_id": task.id,
        "term": task.term_id,
        "state": task.state,
        "progress_percentage": task.progress,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
    });
    if let (Some(report), Some(map)) = (
        task.report
            .as_deref()
            .and_then(|r| serde_json::from_str::<Value>(r).ok()),
        body.as_object_mut(),
    ) && let Value::Object(members) = report
    {
        for (k, v) in members {
            map.entry(k).or_insert(v);
        }
    }
    Ok(Json(body))
}

// ----- the asynchronous path -----

const PENDING: &str = "PENDING";
const PROGRESS: &str = "PROGRESS";
const SUCCESS: &str = "SUCCESS";
const FAILURE: &str = "FAILURE";

/// Stores the task and its job in one transaction (one audit row).
async fn queue(
    db: &DatabaseConnection,
    me: &user::Model,
    actor: &Actor,
    request: &Request,
) -> ApiResult<Uuid> {
    let id = Uuid::new_v4();
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db).await?;
    generation_task::ActiveModel {
        id: Set(id),
        term_id: Set(request.term_id),
        requested_by: Set(me.id),
        request: Set(serde_json::to_string(request).map_err(ApiError::internal)?),
        state: Set(PENDING.to_owned()),
        progress: Set(0),
        report: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    kernel::jobs::enqueue(&txn, GENERATE_JOB, json!({"task_id": id})).await?;
    let changes = json!({"term": request.term_id, "seed": request.seed.to_string(),
        "create_entries": request.create_entries});
    Log::write(
        &txn,
        Entry::new(actor, Action::CREATE, "generation_task", id).changes(changes),
    )
    .await?;
    txn.commit().await?;
    Ok(id)
}

/// Runs the generation task of a `roster.timetable.generate` job. Safe to
/// run again: a finished task is left alone, and the draft and the task's
/// end state are written in one transaction.
pub async fn run_job(state: AppState, payload: Value) -> Result<(), String> {
    let Some(id) = payload
        .get("task_id")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
    else {
        return Ok(()); // not ours to retry
    };
    run_task(&state.db, id).await.map_err(|e| e.to_string())
}

async fn run_task(db: &DatabaseConnection, id: Uuid) -> Result<(), sea_orm::DbErr> {
    let Some(task) = generation_task::Entity::find_by_id(id).one(db).await? else {
        return Ok(());
    };
    if task.state == SUCCESS || task.state == FAILURE {
        return Ok(());
    }
    set_task(db, id, PROGRESS, 10, None).await?;
    let request: Option<Request> = serde_json::from_str(&task.request).ok();
    let requester = user::Entity::find_by_id(task.requested_by).one(db).await?;
    let (Some(request), Some(_)) = (request, requester) else {
        let report =
            json!({"success": false, "error": "The request of this task can no longer be read."});
        return set_task(db, id, FAILURE, 100, Some(report)).await;
    };
    let actor = Actor::user(task.requested_by, None);
    match run(db, &request, &actor, task.requested_by, Some(id)).await {
        Ok(_) => Ok(()), // the task was finished with the draft
        Err(ApiError::Internal(e)) => Err(sea_orm::DbErr::Custom(e.to_string())),
        Err(other) => {
            let detail = other.report().message;
            let report = json!({"success": false, "error": detail});
            set_task(db, id, FAILURE, 100, Some(report)).await
        }
    }
}

async fn set_task(
    db: &impl ConnectionTrait,
    id: Uuid,
    state: &str,
    progress: i32,
    report: Option<Value>,
) -> Result<(), sea_orm::DbErr> {
    let mut row = generation_task::ActiveModel {
        id: Set(id),
        state: Set(state.to_owned()),
        progress: Set(progress),
        updated_at: Set(kernel::time::now()),
        ..Default::default()
    };
    if let Some(report) = report {
        row.report = Set(Some(report.to_string()));
    }
    generation_task::Entity::update(row)
        .exec(db)
        .await
        .map(drop)
}

// ----- one run -----

/// What a run did (contract §4 report).
#[derive(Debug, Clone)]
pub struct Report {
    pub success: bool,
    pub draft_version: Option<String>,
    pub term: Uuid,
    pub requested_sessions: usize,
    pub placed_sessions: usize,
    pub created_count: usize,
    pub unplaced: Vec<Value>,
    pub duration_ms: u128,
    pub search_steps: u64,
    pub seed: u64,
}

impl Report {
    fn json(&self) -> Value {
        json!({
            "draft_version": self.draft_version,
            "term": self.term,
            "requested_sessions": self.requested_sessions,
            "placed_sessions": self.placed_sessions,
            "created_count": self.created_count,
            "unplaced": self.unplaced,
            "duration_ms": u64::try_from(self.duration_ms).unwrap_or(u64::MAX),
            "search_steps": self.search_steps,
            // As text: a 64-bit seed may not survive a JSON number reader.
            "seed": self.seed.to_string(),
        })
    }

    /// `{success, report}` as the endpoint answers it.
    fn body(&self) -> Value {
        json!({"success": self.success, "report": self.json()})
    }
}

/// Loads, searches and (unless `create_entries` is false) writes one
/// generation; with `task`, the task's end state is written with the draft.
async fn run(
    db: &DatabaseConnection,
    request: &Request,
    actor: &Actor,
    user_id: Uuid,
    task: Option<Uuid>,
) -> ApiResult<Report> {
    let started = Instant::now();
    let term = term::Entity::find_by_id(request.term_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::field("term_id", invalid_pk(&request.term_id.to_string())))?;
    let mut plan = TermPlan::load(db, term.id).await?;
    let scope = scope_of(db, &plan, request).await?;
    if scope.is_empty() {
        return Err(refused(
            format!(
                "No enrollment of {} in this scope needs a timetable: generation takes enrollments that are scheduled or in progress and have a trainer.",
                term.name
            ),
            "nothing_to_generate",
        ));
    }
    if let Some(task) = task {
        set_task(db, task, PROGRESS, 30, None).await?;
    }
    plan.set_scope(WORKING_VERSION, scope.iter().copied());
    let demand = demand_of(&plan, &scope);
    let seed = request.seed;
    let (outcome, demand) = tokio::task::spawn_blocking(move || {
        let mut board = EngineBoard::new(plan, &demand);
        let outcome = generate::solve(&mut board, &demand, seed);
        (outcome, demand)
    })
    .await
    .map_err(ApiError::internal)?;
    let unplaced: Vec<Value> = outcome
        .unplaced
        .iter()
        .map(|u| {
            let s = &demand[u.session];
            json!({
                "enrollment": s.enrollment,
                "course_code": s.course_code,
                "class_group": s.class_group_name,
                "session_type": s.kind.as_str(),
                "reason": u.reason,
            })
        })
        .collect();
    let mut report = Report {
        success: outcome.unplaced.is_empty(),
        draft_version: None,
        term: term.id,
        requested_sessions: demand.len(),
        placed_sessions: outcome.placements.len(),
        created_count: 0,
        unplaced,
        duration_ms: 0,
        search_steps: outcome.steps,
        seed,
    };
    let write = request.create_entries && !outcome.placements.is_empty();
    if !write && task.is_none() {
        report.duration_ms = started.elapsed().as_millis();
        return Ok(report);
    }
    let txn = kernel::db::begin_write(db).await?;
    if write {
        let version = free_version(&txn, &term).await?;
        let written = write_draft(
            &txn,
            &term,
            &version,
            &scope,
            &demand,
            &outcome.placements,
            user_id,
        )
        .await?;
        report.draft_version = Some(version.clone());
        report.created_count = written;
        report.duration_ms = started.elapsed().as_millis();
        let changes = json!({"term": term.id, "requested_sessions": report.requested_sessions,
            "placed_sessions": report.placed_sessions, "created_count": written,
            "enrollments": scope.len(), "seed": seed.to_string()});
        Log::write(
            &txn,
            Entry::new(actor, Action("generate"), "draft_version", &version).changes(changes),
        )
        .await?;
    }
    report.duration_ms = started.elapsed().as_millis();
    if let Some(task) = task {
        let mut body = report.json();
        if let Some(map) = body.as_object_mut() {
            map.insert("success".into(), report.success.into());
        }
        set_task(&txn, task, SUCCESS, 100, Some(body)).await?;
    }
    txn.commit().await?;
    Ok(report)
}

/// The enrollments the request covers: the term's scheduled or in-progress
/// enrollments with a trainer, narrowed to the listed class groups and to
/// the listed departments (a HOD's own when they list none).
async fn scope_of(
    db: &impl ConnectionTrait,
    plan: &TermPlan,
    request: &Request,
) -> ApiResult<Vec<Uuid>> {
    let groups: Option<HashSet<Uuid>> = request
        .class_group_ids
        .as_ref()
        .map(|l| l.iter().copied().collect());
    let departments: Option<HashSet<Uuid>> = request
        .department_ids
        .as_ref()
        .map(|l| l.iter().copied().collect());
    // A class group's department is its programme's.
    let group_departments: HashMap<Uuid, Uuid> = if departments.is_some() {
        let programmes: HashMap<Uuid, Uuid> = programme::Entity::find()
            .select_only()
            .column(programme::Column::Id)
            .column(programme::Column::DepartmentId)
            .into_tuple::<(Uuid, Uuid)>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        class_group::Entity::find()
            .select_only()
            .column(class_group::Column::Id)
            .column(class_group::Column::ProgrammeId)
            .into_tuple::<(Uuid, Uuid)>()
            .all(db)
            .await?
            .into_iter()
            .filter_map(|(group, prog)| programmes.get(&prog).map(|d| (group, *d)))
            .collect()
    } else {
        HashMap::new()
    };
    let mut scope: Vec<(String, String, Uuid)> = plan
        .enrollments()
        .filter(|e| matches!(e.status.as_str(), "scheduled" | "in_progress") && e.trainer.is_some())
        .filter(|e| groups.as_ref().is_none_or(|g| g.contains(&e.class_group)))
        .filter(|e| {
            departments.as_ref().is_none_or(|d| {
                d.contains(&e.department)
                    || group_departments
                        .get(&e.class_group)
                        .is_some_and(|gd| d.contains(gd))
            })
        })
        .map(|e| (e.course_code.clone(), e.class_group_name.clone(), e.id))
        .collect();
    scope.sort();
    Ok(scope.into_iter().map(|(_, _, id)| id).collect())
}

/// The weekly sessions of every enrollment in `scope`, in scope order.
fn demand_of(plan: &TermPlan, scope: &[Uuid]) -> Vec<Session> {
    let mut demand = Vec::new();
    for id in scope {
        let Some(e) = plan.enrollment(*id) else {
            continue;
        };
        let Some(trainer) = e.trainer else { continue };
        for (kind, count) in [
            (Kind::Theory, e.theory_sessions),
            (Kind::Practical, e.practical_sessions),
        ] {
            let base = Session {
                enrollment: e.id,
                class_group: e.class_group,
                trainer,
                kind,
                duration: e.session_minutes,
                course_code: e.course_code.clone(),
                class_group_name: e.class_group_name.clone(),
                trainer_name: e.trainer_name.clone(),
                room_type: e.room_type_for(kind.as_str()).map(str::to_owned),
                min_capacity: e.trainee_count,
            };
            let (theory, practical) = match kind {
                Kind::Theory => (count, 0),
                Kind::Practical => (0, count),
            };
            demand.extend(generate::sessions_of(&base, theory, practical));
        }
    }
    demand
}

/// `T<n>-<YYYYMMDDHHMMSS>` of now, one second later while that name is taken.
async fn free_version(db: &impl ConnectionTrait, term: &term::Model) -> ApiResult<String> {
    let mut at: DateTime<Utc> = kernel::time::now();
    for _ in 0..120 {
        let name = format!("T{}-{}", term.number, at.format("%Y%m%d%H%M%S"));
        let taken = draft_version::Entity::find()
            .filter(draft_version::Column::Version.eq(&name))
            .one(db)
            .await?
            .is_some();
        if !taken {
            return Ok(name);
        }
        at += chrono::Duration::seconds(1);
    }
    Err(ApiError::Conflict(
        "Too many versions were generated just now; try again in a minute.".into(),
    ))
}

/// Writes the version, its scope and its entries; answers how many entries.
async fn write_draft(
    txn: &impl ConnectionTrait,
    term: &term::Model,
    version: &str,
    scope: &[Uuid],
    demand: &[Session],
    placements: &[Placement],
    user_id: Uuid,
) -> ApiResult<usize> {
    let now = kernel::time::now();
    draft_version::ActiveModel {
        id: Set(Uuid::new_v4()),
        version: Set(version.to_owned()),
        term_id: Set(term.id),
        created_by: Set(Some(user_id)),
        created_at: Set(now),
        published_at: Set(None),
    }
    .insert(txn)
    .await
    .map_err(|e| {
        if kernel::error::is_unique_violation(&e, "version") {
            ApiError::Conflict("Another generation took this version name; try again.".into())
        } else {
            e.into()
        }
    })?;
    for chunk in scope.chunks(500) {
        let rows = chunk.iter().map(|enrollment| draft_scope::ActiveModel {
            id: Set(Uuid::new_v4()),
            draft_version: Set(version.to_owned()),
            enrollment_id: Set(*enrollment),
        });
        draft_scope::Entity::insert_many(rows).exec(txn).await?;
    }
    for chunk in placements.chunks(500) {
        let rows = chunk.iter().map(|p| timetable_entry::ActiveModel {
            id: Set(p.id),
            term_id: Set(term.id),
            enrollment_id: Set(demand[p.session].enrollment),
            room_id: Set(p.room),
            day: Set(p.day),
            start_minute: Set(p.start),
            end_minute: Set(p.end),
            session_type: Set(demand[p.session].kind.as_str().to_owned()),
            is_recurring: Set(true),
            specific_date: Set(None),
            is_makeup: Set(false),
            is_draft: Set(true),
            draft_version: Set(Some(version.to_owned())),
            created_at: Set(now),
            updated_at: Set(now),
        });
        timetable_entry::Entity::insert_many(rows).exec(txn).await?;
    }
    Ok(placements.len())
}

// ----- the engine as the search's board -----

/// The conflict engine seen by [`generate::solve`]: candidates of the
/// working version, and each class group's busy times per weekday for the
/// consecutive-hours preference.
struct EngineBoard {
    plan: TermPlan,
    busy: BusyTimes,
}

/// (class group, weekday) → (start, end, entry) of the entries a candidate
/// of the working version sees.
type BusyTimes = HashMap<(Uuid, i32), Vec<(i32, i32, Uuid)>>;

impl EngineBoard {
    fn new(plan: TermPlan, demand: &[Session]) -> Self {
        let groups: HashSet<Uuid> = demand.iter().map(|s| s.class_group).collect();
        let mut busy = BusyTimes::new();
        for e in plan.entries() {
            if !plan.visible(Some(WORKING_VERSION), e) {
                continue;
            }
            let Some(group) = plan.enrollment(e.enrollment).map(|x| x.class_group) else {
                continue;
            };
            if groups.contains(&group) {
                busy.entry((group, e.day))
                    .or_default()
                    .push((e.start, e.end, e.id));
            }
        }
        Self { plan, busy }
    }

    fn candidate(s: &Session, id: Option<Uuid>, room: Uuid, slot: Slot, minutes: i32) -> Candidate {
        Candidate {
            id,
            enrollment: s.enrollment,
            room,
            session_type: s.kind.as_str().to_owned(),
            day: slot.day,
            start: slot.start,
            end: slot.start + minutes,
            specific_date: None,
            draft_version: Some(WORKING_VERSION.to_owned()),
        }
    }
}

impl Board for EngineBoard {
    fn slots(&self, s: &Session) -> Vec<Slot> {
        let h = &self.plan.hours;
        let step = h.slot_minutes.max(5);
        let mut out = Vec::new();
        for &day in &h.working_days {
            let mut start = h.day_start;
            while start + s.duration <= h.day_end {
                let end = start + s.duration;
                if self.plan.fits_grid(day, start, end)
                    && self.plan.trainer_available(s.trainer, day, start, end)
                {
                    out.push(Slot { day, start });
                }
                start += step;
            }
        }
        out
    }

    fn rooms(&self, s: &Session) -> Vec<(Uuid, i32)> {
        self.plan
            .rooms()
            .filter(|r| self.plan.room_suitable(s.enrollment, s.kind.as_str(), r.id))
            .map(|r| (r.id, r.capacity))
            .collect()
    }

    fn people_free(&self, s: &Session, slot: Slot) -> (bool, bool) {
        let c = Self::candidate(s, None, Uuid::nil(), slot, s.duration);
        (self.plan.trainer_free(&c), self.plan.class_group_free(&c))
    }

    fn room_free(&self, room: Uuid, slot: Slot, minutes: i32) -> bool {
        let c = Candidate {
            id: None,
            enrollment: Uuid::nil(),
            room,
            session_type: String::new(),
            day: slot.day,
            start: slot.start,
            end: slot.start + minutes,
            specific_date: None,
            draft_version: Some(WORKING_VERSION.to_owned()),
        };
        self.plan.room_free(&c)
    }

    fn verdict(&self, s: &Session, p: &Placement) -> Verdict {
        let slot = Slot {
            day: p.day,
            start: p.start,
        };
        let conflicts = self.plan.check(&Self::candidate(
            s,
            Some(p.id),
            p.room,
            slot,
            p.end - p.start,
        ));
        let Some(first) = conflicts.first() else {
            return Verdict::Free;
        };
        let mut by = Vec::new();
        let mut fixed = false;
        for c in &conflicts {
            match c.entry.and_then(|id| self.plan.entry(id)) {
                Some(e) if e.draft_version.as_deref() == Some(WORKING_VERSION) => {
                    if !by.contains(&e.id) {
                        by.push(e.id);
                    }
                }
                _ => fixed = true,
            }
        }
        Verdict::Blocked {
            by,
            fixed,
            message: first.message.clone(),
        }
    }

    fn place(&mut self, s: &Session, p: &Placement) {
        self.plan.place(PlanEntry {
            id: p.id,
            enrollment: s.enrollment,
            room: p.room,
            session_type: s.kind.as_str().to_owned(),
            day: p.day,
            start: p.start,
            end: p.end,
            date: None,
            is_draft: true,
            draft_version: Some(WORKING_VERSION.to_owned()),
        });
        self.busy
            .entry((s.class_group, p.day))
            .or_default()
            .push((p.start, p.end, p.id));
    }

    fn remove(&mut self, s: &Session, p: &Placement) {
        self.plan.remove(p.id);
        if let Some(list) = self.busy.get_mut(&(s.class_group, p.day)) {
            list.retain(|(_, _, id)| *id != p.id);
        }
    }

    fn class_group_day(&self, class_group: Uuid, day: i32) -> Vec<(i32, i32)> {
        self.busy
            .get(&(class_group, day))
            .map(|l| l.iter().map(|(s, e, _)| (*s, *e)).collect())
            .unwrap_or_default()
    }
}
