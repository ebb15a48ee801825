//! Drafts and publishing (contract §4, **[orig]** actions of the timetable
//! resource): publishing one entry, creating many at once, the draft
//! versions of a term and a version's summary, and publishing, discarding
//! or reverting a whole version. Each write is one transaction; publishing
//! re-checks every entry with the engine, rebuilds the class groups' cached
//! schedules and tells the trainers and trainees concerned.

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::http::StatusCode;
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::extract::{Query, RawBody};
use kernel::{ApiError, ApiResult, Current, Db, Id, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::engine::{Candidate, Conflict, PlanEntry, TermPlan};
use super::entries::{
    CONFLICT_400, ConflictOrInvalid, EntryIn, TimetableConflict, ensure_writable, find_visible,
    parse, refusal, snapshot,
};
use super::{EntryOut, schedule, write_scope};
use crate::access::{Manager, forbidden};
use crate::audit::Log;
use crate::entities::{
    course, department, draft_scope, draft_version, enrollment, term, timetable_entry, user,
};
use crate::rest::weekday;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(publish_entry))
        .routes(routes!(bulk_create))
        .routes(routes!(draft_versions))
        .routes(routes!(draft_summary))
        .routes(routes!(publish_draft))
        .routes(routes!(discard_draft))
        .routes(routes!(revert_to_draft))
}

/// The hyphenated forms of the action names.
pub fn aliases() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/api/timetable/{id}/publish", post(publish_entry))
        .route("/api/timetable/bulk-create/", post(bulk_create))
        .route("/api/timetable/draft-versions/", get(draft_versions))
        .route("/api/timetable/draft-summary/", get(draft_summary))
        .route("/api/timetable/publish-draft/", post(publish_draft))
        .route("/api/timetable/discard-draft/", post(discard_draft))
        .route("/api/timetable/revert-to-draft/", post(revert_to_draft))
        .route("/api/timetable/my-schedule/", get(schedule::my_schedule))
}

// ----- one entry -----

#[utoipa::path(post, path = "/api/timetable/{id}/publish/", tag = "timetable", security(("jwt" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = EntryOut), (status = 400, description = CONFLICT_400, body = ConflictOrInvalid), (status = 401), (status = 403), (status = 404)))]
/// Publishes one draft entry after checking it against the published and
/// hand-made timetable.
pub async fn publish_entry(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Id(id): Id,
) -> ApiResult<Json<EntryOut>> {
    let before = find_visible(&db, &me, id).await?;
    ensure_writable(&db, &me, before.enrollment_id).await?;
    if !before.is_draft {
        return Err(crate::rest::refused(
            "This timetable entry is already published.",
            "already_published",
        ));
    }
    let txn = kernel::db::begin_write(&db).await?;
    let plan = TermPlan::load(&txn, before.term_id).await?;
    let candidate = Candidate {
        draft_version: None,
        ..Candidate::of_entry(&PlanEntry::from_model(&before))
    };
    let conflicts = plan.check(&candidate);
    if !conflicts.is_empty() {
        return Err(refusal(&plan, &candidate, &conflicts));
    }
    let mut row: timetable_entry::ActiveModel = before.clone().into();
    row.is_draft = Set(false);
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&txn).await?;
    Log::write(
        &txn,
        Entry::new(&actor, Action("publish"), "timetable_entry", id)
            .changes(kernel::audit::diff(&snapshot(&before), &snapshot(&after))),
    )
    .await?;
    schedule::changed(
        &txn,
        after.term_id,
        &[after.enrollment_id],
        "A timetable entry was published.",
    )
    .await?;
    txn.commit().await?;
    Ok(Json(EntryOut::one(&db, after).await?))
}

#[utoipa::path(post, path = "/api/timetable/bulk_create/", tag = "timetable", security(("jwt" = [])),
    request_body = EntryList, responses((status = 201, body = Vec<EntryOut>), (status = 400), (status = 401), (status = 403)))]
/// Creates a list of entries, all or nothing: each is checked against the
/// timetable and the ones before it; a refusal is 400 `{created: [],
/// errors: [{index, errors}]}`.
pub async fn bulk_create(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<Vec<EntryOut>>)> {
    let items = read_list(&body)?;
    let writable = write_scope(&db, &me).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let mut plans: HashMap<Uuid, TermPlan> = HashMap::new();
    let mut errors: Vec<Value> = Vec::new();
    let mut rows: Vec<timetable_entry::ActiveModel> = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let input: EntryIn = match serde_json::from_value(item) {
            Ok(input) => input,
            Err(e) => {
                errors.push(json!({"index": index, "errors": {"non_field_errors": [format!("Invalid data: {e}")]}}));
                continue;
            }
        };
        let parsed = match parse(&txn, input, None, false).await {
            Ok(p) => p,
            Err(ApiError::Validation(e)) => {
                errors.push(json!({"index": index, "errors": e.to_json()}));
                continue;
            }
            Err(other) => return Err(other),
        };
        if writable
            .as_ref()
            .is_some_and(|w| !w.contains(&parsed.enrollment.id))
        {
            return Err(forbidden());
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = plans.entry(parsed.term.id) {
            slot.insert(TermPlan::load(&txn, parsed.term.id).await?);
        }
        let Some(plan) = plans.get_mut(&parsed.term.id) else {
            continue;
        };
        let id = Uuid::new_v4();
        let candidate = parsed.candidate(Some(id), None);
        let conflicts = plan.check(&candidate);
        if !conflicts.is_empty() {
            let messages: Vec<&str> = conflicts.iter().map(|k| k.message.as_str()).collect();
            errors.push(json!({"index": index, "errors": {"non_field_errors": messages, "conflicts": conflicts}}));
            continue;
        }
        let now = kernel::time::now();
        let model = timetable_entry::Model {
            id,
            term_id: parsed.term.id,
            enrollment_id: parsed.enrollment.id,
            room_id: parsed.room.id,
            day: parsed.day,
            start_minute: parsed.start,
            end_minute: parsed.end,
            session_type: parsed.session_type.clone(),
            is_recurring: parsed.is_recurring,
            specific_date: parsed.specific_date,
            is_makeup: parsed.is_makeup,
            is_draft: parsed.is_draft,
            draft_version: None,
            created_at: now,
            updated_at: now,
        };
        plan.place(PlanEntry::from_model(&model));
        rows.push(model.into());
    }
    if !errors.is_empty() {
        return Err(ApiError::detailed(
            StatusCode::BAD_REQUEST,
            "No entry was created: some are invalid.",
            "invalid",
            json!({"created": [], "errors": errors}),
        ));
    }
    let mut created = Vec::new();
    for row in rows {
        created.push(row.insert(&txn).await?);
    }
    let ids: Vec<Uuid> = created.iter().map(|r| r.id).collect();
    Log::write(
        &txn,
        Entry::new(
            &actor,
            Action("bulk_create"),
            "timetable_entry",
            created.len(),
        )
        .changes(json!({"created": ids})),
    )
    .await?;
    let mut published: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for r in created.iter().filter(|r| !r.is_draft) {
        published
            .entry(r.term_id)
            .or_default()
            .push(r.enrollment_id);
    }
    for (term, enrollments) in published {
        schedule::changed(&txn, term, &enrollments, "Timetable entries were added.").await?;
    }
    txn.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(EntryOut::many(&db, created).await?),
    ))
}

/// OpenAPI: `bulk_create`'s body, 1 to 500 entries (the server also reads
/// `{"entries": […]}`).
pub struct EntryList;

impl utoipa::PartialSchema for EntryList {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(utoipa::openapi::Ref::from_schema_name("EntryIn"))
            .min_items(Some(1))
            .max_items(Some(500))
            .into()
    }
}

impl utoipa::ToSchema for EntryList {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push(("EntryIn".to_owned(), EntryIn::schema()));
        <EntryIn as utoipa::ToSchema>::schemas(schemas);
    }
}

/// A JSON list body (`[…]` or `{"entries": […]}`).
fn read_list(body: &[u8]) -> Result<Vec<Value>, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
        detail: format!("JSON parse error - {e}").into(),
        code: "parse_error",
    })?;
    let list = match value {
        Value::Array(list) => list,
        Value::Object(mut map) => match map.remove("entries") {
            Some(Value::Array(list)) => list,
            _ => return Err(ApiError::non_field("Expected a list of items.")),
        },
        _ => return Err(ApiError::non_field("Expected a list of items.")),
    };
    if list.is_empty() {
        return Err(ApiError::non_field("This list may not be empty."));
    }
    if list.len() > 500 {
        return Err(ApiError::non_field("At most 500 entries at once."));
    }
    Ok(list)
}

// ----- versions -----

/// The enrollments a version covers: its scope rows, and its entries'.
async fn scope_of(
    db: &impl ConnectionTrait,
    version: &str,
    entries: &[timetable_entry::Model],
) -> Result<HashSet<Uuid>, sea_orm::DbErr> {
    let mut scope: HashSet<Uuid> = draft_scope::Entity::find()
        .filter(draft_scope::Column::DraftVersion.eq(version))
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.enrollment_id)
        .collect();
    scope.extend(entries.iter().map(|e| e.enrollment_id));
    Ok(scope)
}

/// `{draft_version}` of a version action, the version (400 when unknown)
/// and its entries.
async fn version_of(
    db: &impl ConnectionTrait,
    me: &user::Model,
    raw: Option<&str>,
) -> Result<(draft_version::Model, Vec<timetable_entry::Model>), ApiError> {
    let Some(name) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Err(ApiError::field("draft_version", kernel::form::REQUIRED));
    };
    let version = draft_version::Entity::find()
        .filter(draft_version::Column::Version.eq(name))
        .one(db)
        .await?
        .ok_or_else(|| {
            ApiError::field(
                "draft_version",
                format!("Draft version \"{name}\" does not exist."),
            )
        })?;
    let entries = timetable_entry::Entity::find()
        .filter(timetable_entry::Column::DraftVersion.eq(name))
        .all(db)
        .await?;
    if let Some(allowed) = write_scope(db, me).await? {
        let scope = scope_of(db, name, &entries).await?;
        if scope.is_empty() || !scope.is_subset(&allowed) {
            return Err(forbidden());
        }
    }
    Ok((version, entries))
}

/// `{draft_version}`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct VersionIn {
    /// The version's name, e.g. `T1-20250901120000`.
    #[schema(schema_with = kernel::form::schema::non_blank, required = true)]
    pub draft_version: Option<Value>,
}

impl VersionIn {
    fn name(&self) -> Option<&str> {
        self.draft_version.as_ref().and_then(Value::as_str)
    }
}

#[utoipa::path(post, path = "/api/timetable/publish_draft/", tag = "timetable", security(("jwt" = [])),
    request_body = VersionIn, responses((status = 200, body = Object), (status = 400, description = CONFLICT_400, body = ConflictOrInvalid), (status = 401), (status = 403)))]
/// Publishes version V: the term's published entries of the enrollments V
/// covers go back to draft and V's entries are published, after every
/// entry of V passes the conflict check.
pub async fn publish_draft(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Json(input): Json<VersionIn>,
) -> ApiResult<Json<Value>> {
    let txn = kernel::db::begin_write(&db).await?;
    let (version, entries) = version_of(&txn, &me, input.name()).await?;
    if entries.is_empty() {
        return Err(crate::rest::refused(
            "This draft version has no entries.",
            "empty_draft",
        ));
    }
    let scope = scope_of(&txn, &version.version, &entries).await?;
    let mut plan = TermPlan::load(&txn, version.term_id).await?;
    plan.set_scope(&version.version, scope.iter().copied());
    let mut conflicts: Vec<Conflict> = Vec::new();
    for e in &entries {
        conflicts.extend(plan.check(&Candidate::of_entry(&PlanEntry::from_model(e))));
    }
    if !conflicts.is_empty() {
        return Err(TimetableConflict::refuse(
            "This draft version no longer passes the conflict check.",
            conflicts,
            None,
        ));
    }
    let now = kernel::time::now();
    let previously = timetable_entry::Entity::update_many()
        .col_expr(timetable_entry::Column::IsDraft, Expr::value(true))
        .col_expr(timetable_entry::Column::UpdatedAt, Expr::value(now))
        .filter(timetable_entry::Column::TermId.eq(version.term_id))
        .filter(timetable_entry::Column::IsDraft.eq(false))
        .filter(timetable_entry::Column::EnrollmentId.is_in(scope.iter().copied()))
        .filter(
            sea_orm::Condition::any()
                .add(timetable_entry::Column::DraftVersion.ne(version.version.as_str()))
                .add(timetable_entry::Column::DraftVersion.is_null()),
        )
        .exec(&txn)
        .await?
        .rows_affected;
    let published = timetable_entry::Entity::update_many()
        .col_expr(timetable_entry::Column::IsDraft, Expr::value(false))
        .col_expr(timetable_entry::Column::UpdatedAt, Expr::value(now))
        .filter(timetable_entry::Column::DraftVersion.eq(version.version.as_str()))
        .filter(timetable_entry::Column::IsDraft.eq(true))
        .exec(&txn)
        .await?
        .rows_affected;
    let mut row: draft_version::ActiveModel = version.clone().into();
    row.published_at = Set(Some(now));
    row.update(&txn).await?;
    Log::write(
        &txn,
        Entry::new(&actor, Action("publish_draft"), "draft_version", version.id)
            .label(version.version.clone())
            .changes(json!({"published_count": published, "previously_active_count": previously})),
    )
    .await?;
    let message = format!(
        "Published {published} entries of {}; {previously} previously published entries went back to draft.",
        version.version
    );
    let scope: Vec<Uuid> = scope.into_iter().collect();
    schedule::changed(
        &txn,
        version.term_id,
        &scope,
        &format!("A new timetable was published ({}).", version.version),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(json!({
        "published_count": published,
        "previously_active_count": previously,
        "message": message,
    })))
}

#[utoipa::path(post, path = "/api/timetable/discard_draft/", tag = "timetable", security(("jwt" = [])),
    request_body = VersionIn, responses((status = 200, body = Object), (status = 400), (status = 401), (status = 403)))]
/// Deletes version V's draft entries (its published ones stay).
pub async fn discard_draft(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Json(input): Json<VersionIn>,
) -> ApiResult<Json<Value>> {
    let txn = kernel::db::begin_write(&db).await?;
    let (version, entries) = version_of(&txn, &me, input.name()).await?;
    let deleted = timetable_entry::Entity::delete_many()
        .filter(timetable_entry::Column::DraftVersion.eq(version.version.as_str()))
        .filter(timetable_entry::Column::IsDraft.eq(true))
        .exec(&txn)
        .await?
        .rows_affected;
    let remaining = entries.iter().filter(|e| !e.is_draft).count();
    if remaining == 0 {
        draft_scope::Entity::delete_many()
            .filter(draft_scope::Column::DraftVersion.eq(version.version.as_str()))
            .exec(&txn)
            .await?;
        draft_version::Entity::delete_by_id(version.id)
            .exec(&txn)
            .await?;
    }
    Log::write(
        &txn,
        Entry::new(&actor, Action("discard_draft"), "draft_version", version.id)
            .label(version.version.clone())
            .changes(json!({"deleted_count": deleted})),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(json!({
        "deleted_count": deleted,
        "message": format!("Discarded {deleted} draft entries of {}.", version.version),
    })))
}

#[utoipa::path(post, path = "/api/timetable/revert_to_draft/", tag = "timetable", security(("jwt" = [])),
    request_body = VersionIn, responses((status = 200, body = Object), (status = 400), (status = 401), (status = 403)))]
/// Takes version V's published entries back to draft.
pub async fn revert_to_draft(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Json(input): Json<VersionIn>,
) -> ApiResult<Json<Value>> {
    let txn = kernel::db::begin_write(&db).await?;
    let (version, entries) = version_of(&txn, &me, input.name()).await?;
    let now = kernel::time::now();
    let reverted = timetable_entry::Entity::update_many()
        .col_expr(timetable_entry::Column::IsDraft, Expr::value(true))
        .col_expr(timetable_entry::Column::UpdatedAt, Expr::value(now))
        .filter(timetable_entry::Column::DraftVersion.eq(version.version.as_str()))
        .filter(timetable_entry::Column::IsDraft.eq(false))
        .exec(&txn)
        .await?
        .rows_affected;
    let mut row: draft_version::ActiveModel = version.clone().into();
    row.published_at = Set(None);
    row.update(&txn).await?;
    Log::write(
        &txn,
        Entry::new(
            &actor,
            Action("revert_to_draft"),
            "draft_version",
            version.id,
        )
        .label(version.version.clone())
        .changes(json!({"reverted_count": reverted})),
    )
    .await?;
    if reverted > 0 {
        let touched: Vec<Uuid> = entries
            .iter()
            .filter(|e| !e.is_draft)
            .map(|e| e.enrollment_id)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        schedule::changed(
            &txn,
            version.term_id,
            &touched,
            "A published timetable was taken back to draft.",
        )
        .await?;
    }
    txn.commit().await?;
    Ok(Json(json!({
        "reverted_count": reverted,
        "message": format!("{reverted} entries of {} are drafts again.", version.version),
    })))
}

/// `?term_id=` of the versions list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionsParams {
    #[param(value_type = Option<Uuid>)]
    pub term_id: Option<String>,
    /// Same as `term_id`.
    #[param(value_type = Option<Uuid>)]
    pub term: Option<String>,
}

/// Department names of the courses of `enrollments`.
async fn departments_of(
    db: &impl ConnectionTrait,
    enrollments: impl IntoIterator<Item = Uuid>,
) -> Result<Vec<String>, sea_orm::DbErr> {
    let courses: HashSet<Uuid> = enrollment::Entity::find()
        .filter(enrollment::Column::Id.is_in(enrollments))
        .all(db)
        .await?
        .into_iter()
        .map(|e| e.course_id)
        .collect();
    let departments: HashSet<Uuid> = course::Entity::find()
        .filter(course::Column::Id.is_in(courses))
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.department_id)
        .collect();
    let mut names: Vec<String> = department::Entity::find()
        .filter(department::Column::Id.is_in(departments))
        .all(db)
        .await?
        .into_iter()
        .map(|d| d.name)
        .collect();
    names.sort();
    Ok(names)
}

#[utoipa::path(get, path = "/api/timetable/draft_versions/", tag = "timetable", security(("jwt" = [])),
    params(VersionsParams), responses((status = 200, body = Vec<Object>), (status = 400), (status = 401), (status = 403)))]
/// The draft versions (of a term), newest first, with their counts.
pub async fn draft_versions(
    Db(db): Db,
    Manager(Current(me)): Manager,
    Query(params): Query<VersionsParams>,
) -> ApiResult<Json<Vec<Value>>> {
    let mut query = draft_version::Entity::find().order_by_desc(draft_version::Column::CreatedAt);
    if let Some(raw) = params
        .term_id
        .as_deref()
        .or(params.term.as_deref())
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let id =
            Uuid::parse_str(raw).map_err(|_| ApiError::field("term_id", "Enter a valid UUID."))?;
        query = query.filter(draft_version::Column::TermId.eq(id));
    }
    let allowed = write_scope(&db, &me).await?;
    let mut out = Vec::new();
    for v in query.all(&db).await? {
        let entries = timetable_entry::Entity::find()
            .filter(timetable_entry::Column::DraftVersion.eq(v.version.as_str()))
            .all(&db)
            .await?;
        let scope = scope_of(&db, &v.version, &entries).await?;
        if allowed.as_ref().is_some_and(|a| scope.is_disjoint(a)) {
            continue;
        }
        let drafts = entries.iter().filter(|e| e.is_draft).count();
        out.push(json!({
            "version": v.version,
            "created_at": v.created_at,
            "term": v.term_id,
            "total_entries": entries.len(),
            "draft_entries": drafts,
            "published_entries": entries.len() - drafts,
            "is_active": entries.len() > drafts,
            "departments": departments_of(&db, scope).await?,
        }));
    }
    Ok(Json(out))
}

/// `?draft_version=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryParams {
    /// The version's name.
    #[param(value_type = NonBlank, inline, required = true)]
    pub draft_version: Option<String>,
}

/// OpenAPI: text that is not blank (a version's name).
pub struct NonBlank;

impl utoipa::PartialSchema for NonBlank {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        kernel::form::schema::non_blank().into()
    }
}

impl utoipa::ToSchema for NonBlank {}

/// `[{id, name, count}]`, largest first.
fn tally(counts: HashMap<Uuid, usize>, names: &HashMap<Uuid, String>) -> Vec<Value> {
    let mut list: Vec<(Uuid, usize)> = counts.into_iter().collect();
    list.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| names.get(&a.0).cmp(&names.get(&b.0)))
    });
    list.into_iter()
        .map(|(id, count)| json!({"id": id, "name": names.get(&id).cloned().unwrap_or_default(), "count": count}))
        .collect()
}

#[utoipa::path(get, path = "/api/timetable/draft_summary/", tag = "timetable", security(("jwt" = [])),
    params(SummaryParams), responses((status = 200, body = Object), (status = 400), (status = 401), (status = 403)))]
/// A version's entries counted by department, class group, day, trainer
/// and room.
pub async fn draft_summary(
    Db(db): Db,
    Manager(Current(me)): Manager,
    Query(params): Query<SummaryParams>,
) -> ApiResult<Json<Value>> {
    let (version, entries) = version_of(&db, &me, params.draft_version.as_deref()).await?;
    let out = EntryOut::many(&db, entries.clone()).await?;
    let mut names: HashMap<Uuid, String> = HashMap::new();
    let (mut groups, mut trainers, mut rooms, mut departments) = (
        HashMap::new(),
        HashMap::new(),
        HashMap::new(),
        HashMap::new(),
    );
    let mut days: BTreeMap<i32, usize> = BTreeMap::new();
    let courses: HashMap<Uuid, Uuid> = course::Entity::find()
        .filter(course::Column::Id.is_in(out.iter().filter_map(|e| e.course)))
        .all(&db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.department_id))
        .collect();
    for d in department::Entity::find()
        .filter(department::Column::Id.is_in(courses.values().copied()))
        .all(&db)
        .await?
    {
        names.insert(d.id, d.name);
    }
    for (e, row) in out.iter().zip(&entries) {
        *days.entry(row.day).or_default() += 1;
        if let Some(g) = e.class_group {
            names.insert(g, e.class_group_name.clone());
            *groups.entry(g).or_default() += 1;
        }
        if let Some(t) = e.trainer {
            names.insert(t, e.trainer_name.clone());
            *trainers.entry(t).or_default() += 1;
        }
        names.insert(e.room, e.room_name.clone());
        *rooms.entry(e.room).or_default() += 1;
        if let Some(d) = e.course.and_then(|c| courses.get(&c)) {
            *departments.entry(*d).or_default() += 1;
        }
    }
    let by_day: serde_json::Map<String, Value> = days
        .into_iter()
        .map(|(d, n)| (weekday(d).to_owned(), json!(n)))
        .collect();
    let drafts = entries.iter().filter(|e| e.is_draft).count();
    let term_name = term::Entity::find_by_id(version.term_id)
        .one(&db)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    Ok(Json(json!({
        "draft_version": version.version,
        "term": version.term_id,
        "term_name": term_name,
        "created_at": version.created_at,
        "total_entries": entries.len(),
        "draft_entries": drafts,
        "published_entries": entries.len() - drafts,
        "by_department": tally(departments, &names),
        "by_class_group": tally(groups, &names),
        "by_day": by_day,
        "by_trainer": tally(trainers, &names),
        "by_room": tally(rooms, &names),
    })))
}
