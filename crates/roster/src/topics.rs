//! Course content (contract §3): topics (`/api/courses/{id}/topics/`,
//! flat `/api/topics/?course=`) and their subtopics
//! (`/api/topics/{id}/subtopics/`), ordered by `order` (stored as
//! `position`), and `reorder/`. A topic's subtopics never take more
//! minutes than the topic has.

use axum::http::StatusCode;
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::listing::{FilterKind, ListOf, PageOf};
use kernel::{ApiError, ApiResult, Checker, Db, Field, Id, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    Order, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::Roster;
use crate::access::Me;
use crate::audit::Log;
use crate::entities::{course, subtopic, topic, user};
use crate::state::AppState;

/// The longest topic or subtopic title.
pub(crate) const TITLE_MAX: usize = 200;
/// The most minutes one topic takes.
pub(crate) const MINUTES_MAX: i64 = 100_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(course_topics, create_course_topic))
        .routes(routes!(reorder_topics))
        .routes(routes!(list_topics, create_topic))
        .routes(routes!(get_topic, put_topic, patch_topic, delete_topic))
        .routes(routes!(list_subtopics, create_subtopic))
        .routes(routes!(
            get_subtopic,
            put_subtopic,
            patch_subtopic,
            delete_subtopic
        ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubtopicOut {
    pub id: Uuid,
    pub topic: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub order: i32,
    pub duration_minutes: i32,
}

impl From<subtopic::Model> for SubtopicOut {
    fn from(s: subtopic::Model) -> Self {
        Self {
            id: s.id,
            topic: s.topic_id,
            title: s.title,
            description: s.description,
            order: s.position,
            duration_minutes: s.duration_minutes,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopicOut {
    pub id: Uuid,
    pub course: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub order: i32,
    pub duration_minutes: i32,
    pub subtopics: Vec<SubtopicOut>,
}

/// A topic or subtopic body (`course`/`topic` only where the path does
/// not say it).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TopicIn {
    /// Read only by the flat create ([`TopicCreateIn`]); the nested route
    /// and updates take the course from the path.
    #[serde(default)]
    #[schema(ignore)]
    pub course: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<{ TITLE_MAX }>, required = true)]
    pub title: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    pub description: Field<String>,
    /// Unique in the course; the next free number when left out.
    #[serde(default)]
    #[schema(schema_with = position_schema)]
    pub order: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = position_schema, required = true)]
    pub duration_minutes: Field<i64>,
}

/// 1…100 000 (an order, or minutes).
fn position_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::int(1, MINUTES_MAX)
}

/// The body of the flat `POST /api/topics/`: a [`TopicIn`] that names its
/// course (the handler reads it as a `TopicIn`).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code, reason = "documents the body")]
pub struct TopicCreateIn {
    #[schema(value_type = Uuid, required = true)]
    course: String,
    #[serde(flatten)]
    topic: TopicIn,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SubtopicIn {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub title: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1)]
    pub order: Field<i64>,
    #[serde(default)]
    #[schema(value_type = i64, required = true, minimum = 1)]
    pub duration_minutes: Field<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReorderIn {
    /// Every topic id of the course, in the new order.
    #[serde(default)]
    #[schema(value_type = Vec<Uuid>)]
    pub order: Field<Vec<String>>,
}

fn too_long(topic: &str, total: i64, limit: i32) -> String {
    format!("Subtopics of '{topic}' would take {total} of its {limit} minutes.")
}

async fn subtopics_of(db: &impl ConnectionTrait, topic: Uuid) -> ApiResult<Vec<subtopic::Model>> {
    Ok(subtopic::Entity::find()
        .filter(subtopic::Column::TopicId.eq(topic))
        .order_by_asc(subtopic::Column::Position)
        .all(db)
        .await?)
}

async fn out(db: &impl ConnectionTrait, t: topic::Model) -> ApiResult<TopicOut> {
    let subtopics = subtopics_of(db, t.id).await?;
    Ok(TopicOut {
        id: t.id,
        course: t.course_id,
        title: t.title,
        description: t.description,
        order: t.position,
        duration_minutes: t.duration_minutes,
        subtopics: subtopics.into_iter().map(SubtopicOut::from).collect(),
    })
}

fn topic_snapshot(t: &topic::Model) -> serde_json::Value {
    json!({"course": t.course_id, "title": t.title, "description": t.description,
           "order": t.position, "duration_minutes": t.duration_minutes})
}

fn subtopic_snapshot(s: &subtopic::Model) -> serde_json::Value {
    json!({"topic": s.topic_id, "title": s.title, "description": s.description,
           "order": s.position, "duration_minutes": s.duration_minutes})
}

/// The topic `id` if its course is in `me`'s reach, else 404.
async fn find_topic(
    db: &impl ConnectionTrait,
    me: &user::Model,
    id: Uuid,
) -> ApiResult<(topic::Model, course::Model)> {
    let t = topic::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let c = crate::courses::find_visible(db, me, t.course_id).await?;
    Ok((t, c))
}

async fn find_subtopic(
    db: &impl ConnectionTrait,
    me: &user::Model,
    id: Uuid,
) -> ApiResult<(subtopic::Model, topic::Model, course::Model)> {
    let s = subtopic::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let (t, c) = find_topic(db, me, s.topic_id).await?;
    Ok((s, t, c))
}

/// The page of topics `query` selects, with their subtopics.
async fn topic_page(
    db: &sea_orm::DatabaseConnection,
    list: &ListOf<Roster>,
    query: sea_orm::Select<topic::Entity>,
) -> ApiResult<PageOf<Roster, TopicOut>> {
    let query = list.search(
        query,
        &[
            topic::Column::Title.into_simple_expr(),
            topic::Column::Description.into_simple_expr(),
        ],
    );
    let query = list.order(
        query,
        &[
            ("order", topic::Column::Position.into_simple_expr()),
            ("title", topic::Column::Title.into_simple_expr()),
            (
                "duration_minutes",
                topic::Column::DurationMinutes.into_simple_expr(),
            ),
        ],
        &[("order", Order::Asc)],
        topic::Column::Id,
    );
    let page = list.page(db, query, crate::rest::PAGE).await?;
    let mut rows = Vec::with_capacity(page.results.len());
    for t in &page.results {
        rows.push(out(db, t.clone()).await?);
    }
    Ok(crate::departments::with_results(page, rows))
}

/// The topics of a course in reach, by order.
#[utoipa::path(get, path = "/api/courses/{id}/topics/", tag = "courses", security(("jwt" = [])),
    params(("id" = Uuid, Path), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = kernel::listing::Page<TopicOut>), (status = 401), (status = 404)))]
pub async fn course_topics(
    Db(db): Db,
    me: Me,
    Id(course_id): Id,
    list: ListOf<Roster>,
) -> ApiResult<Json<PageOf<Roster, TopicOut>>> {
    crate::courses::find_visible(&db, &me, course_id).await?;
    let query = topic::Entity::find().filter(topic::Column::CourseId.eq(course_id));
    Ok(Json(topic_page(&db, &list, query).await?))
}

/// Topics of the courses in reach; filter `course`.
#[utoipa::path(get, path = "/api/topics/", tag = "courses", security(("jwt" = [])),
    params(("course" = Option<Uuid>, Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = kernel::listing::Page<TopicOut>), (status = 401)))]
pub async fn list_topics(
    Db(db): Db,
    me: Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<PageOf<Roster, TopicOut>>> {
    let courses = sea_orm::QueryTrait::into_query(
        course::Entity::find()
            .select_only()
            .column(course::Column::Id)
            .filter(crate::courses::visible(&db, &me).await?),
    );
    let query = topic::Entity::find().filter(topic::Column::CourseId.in_subquery(courses));
    let query = list.filter(query, "course", topic::Column::CourseId, FilterKind::Uuid)?;
    Ok(Json(topic_page(&db, &list, query).await?))
}

struct ValidTopic {
    title: Option<String>,
    description: Option<Option<String>>,
    order: Option<i32>,
    duration: Option<i32>,
}

fn positive(c: &mut Checker, name: &str, field: Field<i64>, required: bool) -> Option<i32> {
    let value = if required {
        c.int(name, field, 1, MINUTES_MAX)
    } else {
        c.patch_int(name, field, 1, MINUTES_MAX)
    };
    value.and_then(|v| i32::try_from(v).ok())
}

fn check_topic(
    input_title: Field<String>,
    input_description: Field<String>,
    input_order: Field<i64>,
    input_duration: Field<i64>,
    update: Option<bool>,
) -> (Checker, ValidTopic) {
    let mut c = match update {
        Some(partial) => Checker::partial(partial),
        None => Checker::new(),
    };
    let title = c.text("title", input_title, TITLE_MAX);
    let description = c.optional_text("description", input_description, 10_000);
    let order = positive(&mut c, "order", input_order, false);
    let duration = positive(
        &mut c,
        "duration_minutes",
        input_duration,
        update != Some(true),
    );
    (
        c,
        ValidTopic {
            title,
            description,
            order,
            duration,
        },
    )
}

/// The error of `order` being taken in a course by another topic.
async fn topic_order_taken(
    db: &impl ConnectionTrait,
    course: Uuid,
    order: i32,
    except: Option<Uuid>,
) -> ApiResult<Option<String>> {
    let mut q = topic::Entity::find()
        .filter(topic::Column::CourseId.eq(course))
        .filter(topic::Column::Position.eq(order));
    if let Some(id) = except {
        q = q.filter(topic::Column::Id.ne(id));
    }
    Ok(q.one(db).await?.map(|t| {
        format!(
            "Order {order} is already used by '{}' in this course.",
            t.title
        )
    }))
}

async fn next_topic_order(db: &impl ConnectionTrait, course: Uuid) -> ApiResult<i32> {
    let max: Option<i32> = topic::Entity::find()
        .select_only()
        .column_as(topic::Column::Position.max(), "m")
        .filter(topic::Column::CourseId.eq(course))
        .into_tuple::<Option<i32>>()
        .one(db)
        .await?
        .flatten();
    Ok(max.unwrap_or(0) + 1)
}

async fn insert_topic(
    db: &sea_orm::DatabaseConnection,
    me: &user::Model,
    actor: &kernel::audit::Actor,
    course: course::Model,
    input: TopicIn,
) -> ApiResult<(StatusCode, Json<TopicOut>)> {
    crate::courses::may_write(db, me, course.department_id).await?;
    let (mut c, v) = check_topic(
        input.title,
        input.description,
        input.order,
        input.duration_minutes,
        None,
    );
    if let Some(order) = v.order
        && let Some(message) = topic_order_taken(db, course.id, order, None).await?
    {
        c.error("order", message);
    }
    c.finish()?;
    let txn = kernel::db::begin_write(db).await?;
    let order = match v.order {
        Some(o) => o,
        None => next_topic_order(&txn, course.id).await?,
    };
    let created = topic::ActiveModel {
        id: Set(Uuid::new_v4()),
        course_id: Set(course.id),
        title: Set(v.title.unwrap_or_default()),
        description: Set(v.description.flatten()),
        position: Set(order),
        duration_minutes: Set(v.duration.unwrap_or(1)),
        created_at: Set(kernel::time::now()),
    }
    .insert(&txn)
    .await
    .map_err(|e| order_unique(e, order))?;
    let entry = Entry::new(actor, Action::CREATE, "topic", created.id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::created(&topic_snapshot(&created))),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(out(db, created).await?)))
}

fn order_unique(e: sea_orm::DbErr, order: i32) -> ApiError {
    if kernel::error::is_unique_violation(&e, "position") {
        ApiError::field("order", format!("Order {order} is already used."))
    } else {
        e.into()
    }
}

/// Add a topic to a course (admin, dp; the course's department's HOD).
#[utoipa::path(post, path = "/api/courses/{id}/topics/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)),
    request_body = TopicIn,
    responses((status = 201, body = TopicOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn create_course_topic(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(course_id): Id,
    body: Result<Json<TopicIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<TopicOut>)> {
    let course = crate::courses::find_visible(&db, &me, course_id).await?;
    crate::courses::may_write(&db, &me, course.department_id).await?;
    let Json(input) = body?;
    insert_topic(&db, &me, &actor, course, input).await
}

/// Add a topic to the course the body names (flat path).
#[utoipa::path(post, path = "/api/topics/", tag = "courses", security(("jwt" = [])), request_body = TopicCreateIn,
    responses((status = 201, body = TopicOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_topic(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    body: Result<Json<TopicIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<TopicOut>)> {
    if !matches!(
        me.role(),
        crate::access::Role::Admin | crate::access::Role::DpAcademics | crate::access::Role::Hod
    ) {
        return Err(crate::access::forbidden());
    }
    let Json(mut input) = body?;
    let mut c = Checker::new();
    let raw = c.value("course", std::mem::take(&mut input.course));
    c.finish()?;
    let course =
        crate::rest::referenced::<course::Entity>(&db, "course", &raw.unwrap_or_default()).await?;
    insert_topic(&db, &me, &actor, course, input).await
}

/// A topic of a course in reach, with its subtopics.
#[utoipa::path(get, path = "/api/topics/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = TopicOut), (status = 401), (status = 404)))]
pub async fn get_topic(Db(db): Db, me: Me, Id(id): Id) -> ApiResult<Json<TopicOut>> {
    let (t, _) = find_topic(&db, &me, id).await?;
    Ok(Json(out(&db, t).await?))
}

async fn update_topic(
    db: &sea_orm::DatabaseConnection,
    me: &user::Model,
    actor: &kernel::audit::Actor,
    id: Uuid,
    body: Result<Json<TopicIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<TopicOut>> {
    let (existing, course) = find_topic(db, me, id).await?;
    crate::courses::may_write(db, me, course.department_id).await?;
    let Json(input) = body?;
    let (mut c, v) = check_topic(
        input.title,
        input.description,
        input.order,
        input.duration_minutes,
        Some(partial),
    );
    if let Some(order) = v.order
        && let Some(message) = topic_order_taken(db, course.id, order, Some(id)).await?
    {
        c.error("order", message);
    }
    if let Some(duration) = v.duration {
        let total: i64 = subtopics_of(db, id)
            .await?
            .iter()
            .map(|s| i64::from(s.duration_minutes))
            .sum();
        if total > i64::from(duration) {
            let title = v.title.clone().unwrap_or_else(|| existing.title.clone());
            c.error("duration_minutes", too_long(&title, total, duration));
        }
    }
    c.finish()?;
    let txn = kernel::db::begin_write(db).await?;
    let mut row: topic::ActiveModel = existing.clone().into();
    if let Some(x) = v.title {
        row.title = Set(x);
    }
    if let Some(x) = v.description {
        row.description = Set(x);
    }
    if let Some(x) = v.order {
        row.position = Set(x);
    }
    if let Some(x) = v.duration {
        row.duration_minutes = Set(x);
    }
    let order = v.order.unwrap_or(existing.position);
    let updated = row.update(&txn).await.map_err(|e| order_unique(e, order))?;
    let entry = Entry::new(actor, Action::UPDATE, "topic", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::diff(
            &topic_snapshot(&existing),
            &topic_snapshot(&updated),
        )),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(out(db, updated).await?))
}

/// Replace a topic (admin, dp; the course's department's HOD).
#[utoipa::path(put, path = "/api/topics/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = TopicIn,
    responses((status = 200, body = TopicOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn put_topic(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<TopicIn>, ApiError>,
) -> ApiResult<Json<TopicOut>> {
    update_topic(&db, &me, &actor, id, body, false).await
}

/// Change some of a topic (admin, dp; the course's department's HOD).
#[utoipa::path(patch, path = "/api/topics/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = TopicIn,
    responses((status = 200, body = TopicOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn patch_topic(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<TopicIn>, ApiError>,
) -> ApiResult<Json<TopicOut>> {
    update_topic(&db, &me, &actor, id, body, true).await
}

/// Delete a topic and its subtopics (admin, dp; the course's department's HOD).
#[utoipa::path(delete, path = "/api/topics/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn delete_topic(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let (existing, course) = find_topic(&db, &me, id).await?;
    crate::courses::may_write(&db, &me, course.department_id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    subtopic::Entity::delete_many()
        .filter(subtopic::Column::TopicId.eq(id))
        .exec(&txn)
        .await?;
    topic::Entity::delete_by_id(id).exec(&txn).await?;
    let entry = Entry::new(&actor, Action::DELETE, "topic", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::deleted(&topic_snapshot(&existing))),
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Renumber a course's topics 1..n in the given order (admin, dp; the
/// course's department's HOD): every topic exactly once.
#[utoipa::path(post, path = "/api/courses/{id}/topics/reorder/", tag = "courses", security(("jwt" = [])),
    params(("id" = Uuid, Path)), request_body = ReorderIn,
    responses((status = 200, body = Vec<TopicOut>), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn reorder_topics(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(course_id): Id,
    body: Result<Json<ReorderIn>, ApiError>,
) -> ApiResult<Json<Vec<TopicOut>>> {
    let course = crate::courses::find_visible(&db, &me, course_id).await?;
    crate::courses::may_write(&db, &me, course.department_id).await?;
    let Json(input) = body?;
    let mut c = Checker::new();
    let raw = c.value("order", input.order).unwrap_or_default();
    c.finish()?;
    let topics = topic::Entity::find()
        .filter(topic::Column::CourseId.eq(course_id))
        .all(&db)
        .await?;
    let mut ids = Vec::with_capacity(raw.len());
    for value in &raw {
        let id = Uuid::parse_str(value.trim())
            .ok()
            .filter(|id| topics.iter().any(|t| t.id == *id))
            .ok_or_else(|| {
                ApiError::field(
                    "order",
                    format!("\"{value}\" is not a topic of this course."),
                )
            })?;
        if ids.contains(&id) {
            return Err(ApiError::field("order", "Each topic may appear only once."));
        }
        ids.push(id);
    }
    if ids.len() != topics.len() {
        return Err(ApiError::field(
            "order",
            format!("Give all {} topics of the course.", topics.len()),
        ));
    }
    let txn = kernel::db::begin_write(&db).await?;
    // Out of the way first, so the unique (course, order) index holds at
    // every step.
    let offset = 1_000_000;
    for (i, id) in ids.iter().enumerate() {
        let position = i32::try_from(i).unwrap_or(0) + 1;
        topic::Entity::update_many()
            .col_expr(
                topic::Column::Position,
                sea_orm::sea_query::Expr::value(offset + position),
            )
            .filter(topic::Column::Id.eq(*id))
            .exec(&txn)
            .await?;
    }
    topic::Entity::update_many()
        .col_expr(
            topic::Column::Position,
            sea_orm::sea_query::ExprTrait::sub(
                sea_orm::sea_query::Expr::col(topic::Column::Position),
                offset,
            ),
        )
        .filter(topic::Column::CourseId.eq(course_id))
        .exec(&txn)
        .await?;
    let entry = Entry::new(&actor, Action("reorder_topics"), "course", course_id);
    Log::write(&txn, entry.changes(json!({"order": ids}))).await?;
    txn.commit().await?;
    let mut rows = Vec::new();
    for t in topic::Entity::find()
        .filter(topic::Column::CourseId.eq(course_id))
        .order_by_asc(topic::Column::Position)
        .all(&db)
        .await?
    {
        rows.push(out(&db, t).await?);
    }
    Ok(Json(rows))
}

// ---------------------------------------------------------------------------
// Subtopics
// ---------------------------------------------------------------------------

/// The subtopics of a topic in reach, by order.
#[utoipa::path(get, path = "/api/topics/{id}/subtopics/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<SubtopicOut>), (status = 401), (status = 404)))]
pub async fn list_subtopics(
    Db(db): Db,
    me: Me,
    Id(topic_id): Id,
) -> ApiResult<Json<Vec<SubtopicOut>>> {
    find_topic(&db, &me, topic_id).await?;
    Ok(Json(
        subtopics_of(&db, topic_id)
            .await?
            .into_iter()
            .map(SubtopicOut::from)
            .collect(),
    ))
}

/// Checks a subtopic body for `topic`: order free, minutes within the
/// topic's once the other subtopics are counted.
async fn check_subtopic(
    db: &impl ConnectionTrait,
    topic: &topic::Model,
    input: SubtopicIn,
    existing: Option<&subtopic::Model>,
    partial: bool,
) -> ApiResult<ValidTopic> {
    let (mut c, v) = check_topic(
        input.title,
        input.description,
        input.order,
        input.duration_minutes,
        existing.map(|_| partial),
    );
    let others = subtopics_of(db, topic.id).await?;
    let others: Vec<&subtopic::Model> = others
        .iter()
        .filter(|s| existing.is_none_or(|e| e.id != s.id))
        .collect();
    if let Some(order) = v.order
        && let Some(taken) = others.iter().find(|s| s.position == order)
    {
        c.error(
            "order",
            format!(
                "Order {order} is already used by '{}' in this topic.",
                taken.title
            ),
        );
    }
    let minutes = v.duration.or(existing.map(|e| e.duration_minutes));
    if let Some(minutes) = minutes {
        let total: i64 = others
            .iter()
            .map(|s| i64::from(s.duration_minutes))
            .sum::<i64>()
            + i64::from(minutes);
        if total > i64::from(topic.duration_minutes) {
            c.error(
                "duration_minutes",
                too_long(&topic.title, total, topic.duration_minutes),
            );
        }
    }
    c.finish()?;
    Ok(v)
}

/// Add a subtopic (admin, dp; the course's department's HOD).
#[utoipa::path(post, path = "/api/topics/{id}/subtopics/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)),
    request_body = SubtopicIn,
    responses((status = 201, body = SubtopicOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn create_subtopic(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(topic_id): Id,
    body: Result<Json<SubtopicIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<SubtopicOut>)> {
    let (topic, course) = find_topic(&db, &me, topic_id).await?;
    crate::courses::may_write(&db, &me, course.department_id).await?;
    let Json(input) = body?;
    let v = check_subtopic(&db, &topic, input, None, false).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let order = match v.order {
        Some(o) => o,
        None => {
            subtopics_of(&txn, topic_id)
                .await?
                .iter()
                .map(|s| s.position)
                .max()
                .unwrap_or(0)
                + 1
        }
    };
    let created = subtopic::ActiveModel {
        id: Set(Uuid::new_v4()),
        topic_id: Set(topic_id),
        title: Set(v.title.unwrap_or_default()),
        description: Set(v.description.flatten()),
        position: Set(order),
        duration_minutes: Set(v.duration.unwrap_or(1)),
        created_at: Set(kernel::time::now()),
    }
    .insert(&txn)
    .await
    .map_err(|e| order_unique(e, order))?;
    let entry = Entry::new(&actor, Action::CREATE, "subtopic", created.id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::created(&subtopic_snapshot(&created))),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// A subtopic of a course in reach.
#[utoipa::path(get, path = "/api/subtopics/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = SubtopicOut), (status = 401), (status = 404)))]
pub async fn get_subtopic(Db(db): Db, me: Me, Id(id): Id) -> ApiResult<Json<SubtopicOut>> {
    let (s, _, _) = find_subtopic(&db, &me, id).await?;
    Ok(Json(s.into()))
}

async fn update_subtopic(
    db: &sea_orm::DatabaseConnection,
    me: &user::Model,
    actor: &kernel::audit::Actor,
    id: Uuid,
    body: Result<Json<SubtopicIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<SubtopicOut>> {
    let (existing, topic, course) = find_subtopic(db, me, id).await?;
    crate::courses::may_write(db, me, course.department_id).await?;
    let Json(input) = body?;
    let v = check_subtopic(db, &topic, input, Some(&existing), partial).await?;
    let txn = kernel::db::begin_write(db).await?;
    let mut row: subtopic::ActiveModel = existing.clone().into();
    if let Some(x) = v.title {
        row.title = Set(x);
    }
    if let Some(x) = v.description {
        row.description = Set(x);
    }
    if let Some(x) = v.order {
        row.position = Set(x);
    }
    if let Some(x) = v.duration {
        row.duration_minutes = Set(x);
    }
    let order = v.order.unwrap_or(existing.position);
    let updated = row.update(&txn).await.map_err(|e| order_unique(e, order))?;
    let entry = Entry::new(actor, Action::UPDATE, "subtopic", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::diff(
            &subtopic_snapshot(&existing),
            &subtopic_snapshot(&updated),
        )),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(updated.into()))
}

/// Replace a subtopic (admin, dp; the course's department's HOD).
#[utoipa::path(put, path = "/api/subtopics/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = SubtopicIn,
    responses((status = 200, body = SubtopicOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn put_subtopic(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<SubtopicIn>, ApiError>,
) -> ApiResult<Json<SubtopicOut>> {
    update_subtopic(&db, &me, &actor, id, body, false).await
}

/// Change some of a subtopic (admin, dp; the course's department's HOD).
#[utoipa::path(patch, path = "/api/subtopics/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = SubtopicIn,
    responses((status = 200, body = SubtopicOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn patch_subtopic(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<SubtopicIn>, ApiError>,
) -> ApiResult<Json<SubtopicOut>> {
    update_subtopic(&db, &me, &actor, id, body, true).await
}

/// Delete a subtopic (admin, dp; the course's department's HOD).
#[utoipa::path(delete, path = "/api/subtopics/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn delete_subtopic(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let (existing, _, course) = find_subtopic(&db, &me, id).await?;
    crate::courses::may_write(&db, &me, course.department_id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    subtopic::Entity::delete_by_id(id).exec(&txn).await?;
    let entry = Entry::new(&actor, Action::DELETE, "subtopic", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::deleted(&subtopic_snapshot(&existing))),
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
