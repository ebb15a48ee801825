//! `/api/journal/`: a user's journal. Everyone writes their own; candidates
//! read only theirs, administrators also every candidate's, superusers all.
//! The text is sealed at rest; date, mood, energy and barrier count are plain
//! so they can be filtered and aggregated.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{Days, NaiveDate, Utc};
use kernel::Db;
use kernel::Scoped;
use kernel::audit::Action;
use kernel::extract::{ClientIp, IntId};
use kernel::form::schema::Date1900;
use kernel::listing::ListQuery;
use kernel::{ApiError, ApiResult, Checker, Field, FieldErrors, FilterKind, Json, Page, PageSize};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Actor};
use crate::entities::journal_entry::{self, MOODS};
use crate::principal::CurrentUser;
use crate::seal::{JOURNAL_SEALED, Row};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_journal_entries, create_journal_entry))
        .routes(routes!(journal_stats))
        .routes(routes!(
            retrieve_journal_entry,
            update_journal_entry,
            partial_update_journal_entry,
            destroy_journal_entry
        ))
}

/// One journal entry, decrypted.
#[derive(Debug, Serialize, ToSchema)]
pub struct JournalEntryOut {
    pub id: i64,
    /// The author's account id.
    pub user: i64,
    pub date: NaiveDate,
    pub title: String,
    pub content: String,
    /// excellent, good, okay, difficult or very_difficult.
    pub mood: String,
    /// 1–10.
    pub energy_level: i32,
    pub activities: String,
    pub challenges: String,
    pub achievements: String,
    pub barriers_faced: String,
    /// 0–100.
    pub barrier_count: i32,
    pub notes: String,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

/// The sealed text of an entry, in plaintext, in [`JOURNAL_SEALED`] order.
type Text = [String; 7];

fn sealed_columns(e: &journal_entry::Model) -> [Option<&str>; 7] {
    [
        e.title.as_deref(),
        e.content.as_deref(),
        e.activities.as_deref(),
        e.challenges.as_deref(),
        e.achievements.as_deref(),
        e.barriers_faced.as_deref(),
        e.notes.as_deref(),
    ]
}

fn open_text(state: &AppState, e: &journal_entry::Model) -> ApiResult<Text> {
    let row = Row::new(&state.keys, journal_entry::TABLE, e.id);
    let stored = sealed_columns(e);
    let mut text: Text = Default::default();
    for (i, column) in JOURNAL_SEALED.iter().enumerate() {
        text[i] = row.text(column, stored[i])?;
    }
    Ok(text)
}

fn seal_text(state: &AppState, model: &mut journal_entry::ActiveModel, id: i64, text: &Text) {
    let row = Row::new(&state.keys, journal_entry::TABLE, id);
    let seal = |i: usize| row.seal(JOURNAL_SEALED[i], Some(&text[i]));
    model.title = Set(seal(0));
    model.content = Set(seal(1));
    model.activities = Set(seal(2));
    model.challenges = Set(seal(3));
    model.achievements = Set(seal(4));
    model.barriers_faced = Set(seal(5));
    model.notes = Set(seal(6));
}

impl JournalEntryOut {
    pub(crate) fn open(state: &AppState, e: &journal_entry::Model) -> ApiResult<Self> {
        let [
            title,
            content,
            activities,
            challenges,
            achievements,
            barriers_faced,
            notes,
        ] = open_text(state, e)?;
        Ok(Self {
            id: e.id,
            user: e.user_id,
            date: e.date,
            title,
            content,
            mood: e.mood.clone(),
            energy_level: e.energy_level,
            activities,
            challenges,
            achievements,
            barriers_faced,
            barrier_count: e.barrier_count,
            notes,
            created_at: e.created_at,
            updated_at: e.updated_at,
        })
    }
}

/// An audit snapshot: which fields changed, never their values.
fn snapshot(e: &journal_entry::Model, text: &Text) -> Value {
    let mut map = serde_json::Map::new();
    for (i, column) in JOURNAL_SEALED.iter().enumerate() {
        if !text[i].is_empty() {
            map.insert((*column).to_owned(), json!(text[i]));
        }
    }
    map.insert("date".into(), json!(e.date));
    map.insert("mood".into(), json!(e.mood));
    map.insert("energy_level".into(), json!(e.energy_level));
    map.insert("barrier_count".into(), json!(e.barrier_count));
    Value::Object(map)
}

/// The entries `me` may read.
use crate::entities::user;

impl kernel::Scoped for journal_entry::Entity {
    type Caller = user::Model;

    /// The entries of the accounts `me` may reach.
    fn scope(me: &user::Model) -> sea_orm::Condition {
        sea_orm::Condition::all().add(
            journal_entry::Column::UserId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(user::Column::Id)
                    .from(user::Entity)
                    .cond_where(user::Entity::scope(me))
                    .to_owned(),
            ),
        )
    }

    fn not_found() -> ApiError {
        not_found()
    }
}

fn not_found() -> ApiError {
    ApiError::not_found_msg("No JournalEntry matches the given query.")
}

fn parse_date(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").ok()
}

/// A filter date every database can compare with: years 1900 to 9999.
fn filter_date(raw: &str) -> Option<NaiveDate> {
    use chrono::Datelike;
    parse_date(raw).filter(|d| (1900..=9999).contains(&d.year()))
}

/// `?date=`, `?date_after=` / `?start_date=` and `?date_before=` / `?end_date=`
/// (inclusive), all `YYYY-MM-DD`.
fn date_filters(
    list: &ListQuery,
    mut query: Select<journal_entry::Entity>,
) -> ApiResult<Select<journal_entry::Entity>> {
    let mut errors = FieldErrors::new();
    let column = journal_entry::Column::Date;
    for (names, op) in [
        (&["date"][..], "eq"),
        (&["date_after", "start_date", "date__gte"][..], "gte"),
        (&["date_before", "end_date", "date__lte"][..], "lte"),
    ] {
        for name in names {
            let Some(raw) = list.get(name) else { continue };
            match filter_date(raw) {
                Some(date) => {
                    query = query.filter(match op {
                        "eq" => column.eq(date),
                        "gte" => column.gte(date),
                        _ => column.lte(date),
                    });
                }
                None => errors.add(*name, "Enter a valid date."),
            }
        }
    }
    errors.into_result()?;
    Ok(query)
}

/// List journal entries the caller may read, newest date first. Filters:
/// `mood`, `user`, `date`, `date_after`/`start_date`, `date_before`/`end_date`;
/// ordering: `date`, `created_at`, `energy_level`, `mood`, `barrier_count`.
#[utoipa::path(get, path = "/api/journal/", tag = "journal", security(("jwt" = [])),
    params(("mood" = inline(Option<Mood>), Query), ("user" = Option<i64>, Query), ("date" = inline(Option<Date1900>), Query),
           ("date_after" = inline(Option<Date1900>), Query), ("date_before" = inline(Option<Date1900>), Query),
           ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<JournalEntryOut>), (status = 400), (status = 401)))]
pub async fn list_journal_entries(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    list: ListQuery,
) -> ApiResult<Json<Page<JournalEntryOut>>> {
    let mut query = journal_entry::Entity::visible(&me);
    query = list.filter(
        query,
        "mood",
        journal_entry::Column::Mood,
        FilterKind::Choice(MOODS),
    )?;
    query = list.filter(
        query,
        "user",
        journal_entry::Column::UserId,
        FilterKind::Int,
    )?;
    query = date_filters(&list, query)?;
    let query = list.order(
        query,
        &[
            ("date", journal_entry::Column::Date.into_simple_expr()),
            (
                "created_at",
                journal_entry::Column::CreatedAt.into_simple_expr(),
            ),
            (
                "energy_level",
                journal_entry::Column::EnergyLevel.into_simple_expr(),
            ),
            ("mood", journal_entry::Column::Mood.into_simple_expr()),
            (
                "barrier_count",
                journal_entry::Column::BarrierCount.into_simple_expr(),
            ),
        ],
        &[("date", Order::Desc), ("created_at", Order::Desc)],
        journal_entry::Column::Id,
    );
    let page = list.page(&db, query, PageSize::DEFAULT).await?;
    let mut results = Vec::with_capacity(page.results.len());
    for entry in &page.results {
        results.push(JournalEntryOut::open(&state, entry)?);
    }
    Ok(Json(Page {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results,
    }))
}

kernel::choices!(
    /// How the day felt.
    pub Mood = MOODS
);

fn energy_level() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::int(1, 10)
}

fn barrier_count() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::int(0, 100)
}

/// The writable fields of an entry, in the spec's shape (`title` and
/// `content` required) or the original's (neither sent, but some of
/// `activities`, `challenges`, `achievements`, `notes`, `barriers_faced`,
/// `barrier_count`: then `activities` is required instead, and `title` and
/// `content` stay as they are, empty on a new entry).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct JournalEntryIn {
    /// Required unless the original's shape is sent (no `title`, no `content`).
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    pub title: Field<String>,
    /// Required unless the original's shape is sent (no `title`, no `content`).
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<10000>, required = true)]
    pub content: Field<String>,
    /// excellent, good, okay, difficult or very_difficult.
    #[serde(default)]
    #[schema(value_type = Mood, required = true)]
    pub mood: Field<String>,
    /// 1–10.
    #[serde(default)]
    #[schema(schema_with = energy_level, required = true)]
    pub energy_level: Field<i64>,
    /// `YYYY-MM-DD`, not in the future; today when left out.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::date_from_1900, required = false)]
    pub date: Field<String>,
    /// Required (not blank) in the original's shape.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
    pub activities: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
    pub challenges: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
    pub achievements: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
    pub barriers_faced: Field<String>,
    /// 0–100 (default 0).
    #[serde(default)]
    #[schema(schema_with = barrier_count, required = false)]
    pub barrier_count: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    pub notes: Field<String>,
}

/// What a valid input changes; `None` leaves a field as it is.
#[derive(Default)]
struct Changes {
    text: [Option<String>; 7],
    mood: Option<String>,
    energy_level: Option<i32>,
    date: Option<NaiveDate>,
    barrier_count: Option<i32>,
}

/// An optional free text: absent leaves it, null or blank clears it.
fn optional(c: &mut Checker, name: &str, field: Field<String>, max: usize) -> Option<String> {
    match field {
        Field::Absent => None,
        other => c
            .optional_text(name, other, max)
            .map(Option::unwrap_or_default),
    }
}

/// Whether `input` has the original's shape: neither `title` nor `content`
/// (which the original did not have) but some of the original's own fields.
/// Its entries need `activities` instead.
fn original_shape(input: &JournalEntryIn) -> bool {
    input.title.is_absent()
        && input.content.is_absent()
        && !(input.activities.is_absent()
            && input.challenges.is_absent()
            && input.achievements.is_absent()
            && input.barriers_faced.is_absent()
            && input.notes.is_absent()
            && input.barrier_count.is_absent())
}

fn check(input: JournalEntryIn, partial: bool) -> ApiResult<Changes> {
    let original = original_shape(&input);
    let mut c = Checker::partial(partial);
    let mut changes = Changes::default();
    if original {
        // Left as they are (empty on a new entry).
        if !partial {
            match &input.activities {
                Field::Absent => c.error("activities", kernel::form::REQUIRED),
                Field::Null => c.error("activities", kernel::form::NOT_NULL),
                Field::Value(v) if v.trim().is_empty() => {
                    c.error("activities", kernel::form::NOT_BLANK);
                }
                Field::Value(_) => {}
            }
        }
    } else {
        changes.text[0] = c.text("title", input.title, 255);
        changes.text[1] = c.text("content", input.content, 10_000);
    }
    changes.text[2] = optional(&mut c, "activities", input.activities, 5000);
    changes.text[3] = optional(&mut c, "challenges", input.challenges, 5000);
    changes.text[4] = optional(&mut c, "achievements", input.achievements, 5000);
    changes.text[5] = optional(&mut c, "barriers_faced", input.barriers_faced, 5000);
    changes.text[6] = optional(&mut c, "notes", input.notes, 10_000);
    if let Some(mood) = c.value("mood", input.mood) {
        if MOODS.contains(&mood.as_str()) {
            changes.mood = Some(mood);
        } else {
            c.error(
                "mood",
                format!(
                    "Invalid mood: \"{mood}\". Must be one of: {}",
                    MOODS.join(", ")
                ),
            );
        }
    }
    changes.energy_level = c
        .int("energy_level", input.energy_level, 1, 10)
        .and_then(|v| i32::try_from(v).ok());
    changes.barrier_count = c
        .patch_int("barrier_count", input.barrier_count, 0, 100)
        .and_then(|v| i32::try_from(v).ok());
    match input.date {
        Field::Absent => {}
        Field::Null => c.error("date", kernel::form::NOT_NULL),
        Field::Value(raw) => match parse_date(&raw) {
            None => c.error(
                "date",
                "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
            ),
            Some(date) if date > kernel::time::now().date_naive() => {
                c.error("date", "Date cannot be in the future.");
            }
            Some(date) if date < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(date) => {
                c.error("date", "Date cannot be before 1900-01-01.");
            }
            Some(date) => changes.date = Some(date),
        },
    }
    c.finish()?;
    Ok(changes)
}

/// Write a journal entry of the caller's own; the date is today unless given.
#[utoipa::path(post, path = "/api/journal/", tag = "journal", security(("jwt" = [])), request_body = JournalEntryIn,
    responses((status = 201, body = JournalEntryOut), (status = 400), (status = 401)))]
pub async fn create_journal_entry(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<JournalEntryIn>,
) -> ApiResult<(StatusCode, Json<JournalEntryOut>)> {
    let changes = check(input, false)?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
    let created = journal_entry::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        user_id: Set(me.id()),
        date: Set(changes.date.unwrap_or_else(|| now.date_naive())),
        mood: Set(changes.mood.unwrap_or_default()),
        energy_level: Set(changes.energy_level.unwrap_or(1)),
        barrier_count: Set(changes.barrier_count.unwrap_or(0)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    // The id binds the ciphertext, so the text is sealed once the row has one.
    let text: Text = changes.text.map(Option::unwrap_or_default);
    let mut model: journal_entry::ActiveModel = created.clone().into();
    seal_text(&state, &mut model, created.id, &text);
    let created = model.update(&txn).await?;
    audit::record(
        &txn,
        Actor::user(me.id(), ip),
        Action::CREATE,
        "JournalEntry",
        created.id,
        Some(audit::created(&snapshot(&created, &text))),
    )
    .await?;
    let out = JournalEntryOut::open(&state, &created)?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Records that the caller read someone else's entry.
async fn audit_read<C: ConnectionTrait>(
    db: &C,
    me: &CurrentUser,
    ip: Option<std::net::IpAddr>,
    entry: &journal_entry::Model,
) -> ApiResult<()> {
    if entry.user_id == me.id() {
        return Ok(());
    }
    audit::record(
        db,
        Actor::user(me.id(), ip),
        Action::READ,
        "JournalEntry",
        entry.id,
        None,
    )
    .await
}

/// A journal entry (the author's; administrators: candidates'). Reading
/// someone else's is audited.
#[utoipa::path(get, path = "/api/journal/{id}/", tag = "journal", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = JournalEntryOut), (status = 401), (status = 404)))]
pub async fn retrieve_journal_entry(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
) -> ApiResult<Json<JournalEntryOut>> {
    let entry = journal_entry::Entity::find_visible(&db, &me, id).await?;
    let out = JournalEntryOut::open(&state, &entry)?;
    audit_read(&db, &me, ip, &entry).await?;
    Ok(Json(out))
}

async fn write_entry(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    me: &CurrentUser,
    ip: Option<std::net::IpAddr>,
    id: i64,
    body: Result<Json<JournalEntryIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<JournalEntryOut>> {
    // DRF's order: the object (404), then the body (400).
    journal_entry::Entity::find_visible(db, me, id).await?;
    let Json(input) = body?;
    let changes = check(input, partial)?;
    let txn = kernel::db::begin_write(db).await?;
    let current = journal_entry::Entity::visible(me)
        .filter(journal_entry::Column::Id.eq(id))
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    let before = open_text(state, &current)?;
    let mut text = before.clone();
    for (slot, change) in text.iter_mut().zip(changes.text) {
        if let Some(value) = change {
            *slot = value;
        }
    }
    let mut model: journal_entry::ActiveModel = current.clone().into();
    seal_text(state, &mut model, current.id, &text);
    if let Some(v) = changes.mood {
        model.mood = Set(v);
    }
    if let Some(v) = changes.energy_level {
        model.energy_level = Set(v);
    }
    if let Some(v) = changes.barrier_count {
        model.barrier_count = Set(v);
    }
    if let Some(v) = changes.date {
        model.date = Set(v);
    }
    model.updated_at = Set(kernel::time::now());
    let updated = model.update(&txn).await?;
    audit::record(
        &txn,
        Actor::user(me.id(), ip),
        Action::UPDATE,
        "JournalEntry",
        updated.id,
        Some(audit::changes(
            &snapshot(&current, &before),
            &snapshot(&updated, &text),
        )),
    )
    .await?;
    let out = JournalEntryOut::open(state, &updated)?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Replace a journal entry's fields (the author; administrators: candidates').
#[utoipa::path(put, path = "/api/journal/{id}/", tag = "journal", security(("jwt" = [])), params(("id" = i64, Path)), request_body = JournalEntryIn,
    responses((status = 200, body = JournalEntryOut), (status = 400), (status = 401), (status = 404)))]
pub async fn update_journal_entry(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
    body: Result<Json<JournalEntryIn>, ApiError>,
) -> ApiResult<Json<JournalEntryOut>> {
    write_entry(&state, &db, &me, ip, id, body, false).await
}

/// Change some of a journal entry's fields.
#[utoipa::path(patch, path = "/api/journal/{id}/", tag = "journal", security(("jwt" = [])), params(("id" = i64, Path)), request_body = JournalEntryIn,
    responses((status = 200, body = JournalEntryOut), (status = 400), (status = 401), (status = 404)))]
pub async fn partial_update_journal_entry(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
    body: Result<Json<JournalEntryIn>, ApiError>,
) -> ApiResult<Json<JournalEntryOut>> {
    write_entry(&state, &db, &me, ip, id, body, true).await
}

/// Delete a journal entry (the author; administrators: candidates').
#[utoipa::path(delete, path = "/api/journal/{id}/", tag = "journal", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 401), (status = 404)))]
pub async fn destroy_journal_entry(
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
) -> ApiResult<StatusCode> {
    let entry = journal_entry::Entity::find_visible(&db, &me, id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let deleted = journal_entry::Entity::delete_by_id(entry.id)
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(not_found());
    }
    audit::record(
        &txn,
        Actor::user(me.id(), ip),
        Action::DELETE,
        "JournalEntry",
        entry.id,
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MoodCount {
    pub mood: String,
    pub count: i64,
}

/// Journal statistics over the entries the caller may read.
#[derive(Debug, Serialize, ToSchema)]
pub struct JournalStatsOut {
    pub total_entries: u64,
    pub last_entry_date: Option<NaiveDate>,
    /// Barriers counted in entries dated within the last 7 days.
    pub recent_barriers: i64,
    /// Mean energy level (one decimal; 0 without entries).
    pub avg_energy_level: f64,
    pub mood_distribution: Vec<MoodCount>,
}

/// Aggregates over `query` (one entry scope): count, latest date, barriers
/// since `since`, mean energy and moods.
pub(crate) async fn aggregate<C: ConnectionTrait>(
    db: &C,
    query: Select<journal_entry::Entity>,
    since: NaiveDate,
) -> ApiResult<(u64, Option<NaiveDate>, i64, f64, Vec<MoodCount>)> {
    let backend = db.get_database_backend();
    let total = query.clone().count(db).await?;
    let last: Option<NaiveDate> = query
        .clone()
        .select_only()
        .column(journal_entry::Column::Date)
        .order_by_desc(journal_entry::Column::Date)
        .into_tuple()
        .one(db)
        .await?;
    let barriers: Option<i64> = query
        .clone()
        .filter(journal_entry::Column::Date.gte(since))
        .select_only()
        .column_as(
            Expr::cust(kernel::db::sum_int(
                backend,
                "pss_journal_entries.barrier_count",
            )),
            "barriers",
        )
        .into_tuple()
        .one(db)
        .await?;
    let average: Option<Option<f64>> = query
        .clone()
        .select_only()
        .column_as(
            Expr::cust(kernel::db::cast_float(
                backend,
                "AVG(pss_journal_entries.energy_level)",
            )),
            "average",
        )
        .into_tuple()
        .one(db)
        .await?;
    let moods: Vec<(String, i64)> = query
        .select_only()
        .column(journal_entry::Column::Mood)
        .column_as(Expr::cust("COUNT(*)"), "count")
        .group_by(journal_entry::Column::Mood)
        .order_by_asc(journal_entry::Column::Mood)
        .into_tuple()
        .all(db)
        .await?;
    let average = average.flatten().map_or(0.0, |a| (a * 10.0).round() / 10.0);
    Ok((
        total,
        last,
        barriers.unwrap_or(0),
        average,
        moods
            .into_iter()
            .map(|(mood, count)| MoodCount { mood, count })
            .collect(),
    ))
}

/// Statistics over the journal entries the caller may read.
#[utoipa::path(get, path = "/api/journal/stats/", tag = "journal", security(("jwt" = [])),
    responses((status = 200, body = JournalStatsOut), (status = 401)))]
pub async fn journal_stats(Db(db): Db, me: CurrentUser) -> ApiResult<Json<JournalStatsOut>> {
    let since = kernel::time::now().date_naive() - Days::new(7);
    let (total_entries, last_entry_date, recent_barriers, avg_energy_level, mood_distribution) =
        aggregate(&db, journal_entry::Entity::visible(&me), since).await?;
    Ok(Json(JournalStatsOut {
        total_entries,
        last_entry_date,
        recent_barriers,
        avg_energy_level,
        mood_distribution,
    }))
}
