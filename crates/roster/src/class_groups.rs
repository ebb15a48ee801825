//! Class groups (contract §2): `/api/class-groups/`, the trainees of one
//! programme's year of study in an academic year, and their membership
//! (`/{id}/trainees/`). A trainee is in at most one class group per
//! academic year; the unique (trainee, academic year) index closes races.

use axum::http::StatusCode;
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::listing::{FilterKind, ListOf, PageOf};
use kernel::{ApiError, ApiResult, Checker, Db, Field, Id, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoSimpleExpr, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::Roster;
use crate::access::{Manager, Me, Role};
use crate::audit::Log;
use crate::departments::{first_message, users_by_ids, wrong_role};
use crate::entities::{
    academic_year, class_group, class_group_trainee, enrollment, profile, programme, user,
};
use crate::state::AppState;

const NAME_TAKEN: &str = "Class group with this name already exists.";
const IN_USE: &str = "This class group has enrollments and cannot be deleted.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_class_groups, create_class_group))
        .routes(routes!(
            get_class_group,
            put_class_group,
            patch_class_group,
            delete_class_group
        ))
        .routes(routes!(list_trainees, add_trainees))
        .routes(routes!(remove_trainee))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClassGroupOut {
    pub id: Uuid,
    pub name: String,
    pub programme: Uuid,
    /// The programme's department.
    pub department: Uuid,
    pub academic_year: Uuid,
    pub year_of_study: i32,
    pub capacity: Option<i32>,
    pub trainees: Vec<Uuid>,
    pub trainee_count: usize,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ClassGroupIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>, required = true)]
    pub name: Field<String>,
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub programme: Field<String>,
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub academic_year: Field<String>,
    /// 1 to the programme's duration in years.
    #[serde(default)]
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 6)]
    pub year_of_study: Field<i64>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub capacity: Field<i64>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub trainees: Field<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TraineeIdsIn {
    #[serde(default)]
    #[schema(value_type = Vec<Uuid>)]
    pub trainee_ids: Field<Vec<String>>,
}

/// A trainee of a class group as its member list shows one.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub full_name: String,
    pub admission_number: Option<String>,
    pub is_active: bool,
}

/// The class groups `me` reads: all (admin, dp), their department's (hod),
/// the ones they teach (trainer), their own (trainee).
pub async fn visible(db: &impl ConnectionTrait, me: &user::Model) -> ApiResult<Condition> {
    let ids = match me.role() {
        Role::Admin | Role::DpAcademics => return Ok(Condition::all()),
        Role::Hod => {
            let department = crate::access::headed_department(db, me)
                .await?
                .unwrap_or_else(Uuid::nil);
            return Ok(Condition::all().add(
                class_group::Column::Id
                    .in_subquery(crate::departments::class_groups_of(department)),
            ));
        }
        Role::Trainer => crate::access::trainer_class_groups(db, me.id).await?,
        Role::Trainee => crate::access::trainee_class_groups(db, me.id).await?,
    };
    Ok(Condition::all().add(class_group::Column::Id.is_in(ids)))
}

/// A class group `me` reads, else 404.
pub async fn find_visible(
    db: &impl ConnectionTrait,
    me: &user::Model,
    id: Uuid,
) -> ApiResult<class_group::Model> {
    class_group::Entity::find_by_id(id)
        .filter(visible(db, me).await?)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// The department of a class group (through its programme).
pub async fn department_of(
    db: &impl ConnectionTrait,
    group: &class_group::Model,
) -> ApiResult<Uuid> {
    Ok(programme::Entity::find_by_id(group.programme_id)
        .one(db)
        .await?
        .map(|p| p.department_id)
        .unwrap_or_else(Uuid::nil))
}

/// The trainee ids of a class group.
pub async fn trainee_ids(db: &impl ConnectionTrait, group: Uuid) -> ApiResult<Vec<Uuid>> {
    Ok(class_group_trainee::Entity::find()
        .select_only()
        .column(class_group_trainee::Column::TraineeId)
        .filter(class_group_trainee::Column::ClassGroupId.eq(group))
        .order_by_asc(class_group_trainee::Column::CreatedAt)
        .into_tuple()
        .all(db)
        .await?)
}

async fn out(db: &impl ConnectionTrait, g: class_group::Model) -> ApiResult<ClassGroupOut> {
    let trainees = trainee_ids(db, g.id).await?;
    Ok(ClassGroupOut {
        department: department_of(db, &g).await?,
        trainee_count: trainees.len(),
        trainees,
        id: g.id,
        name: g.name,
        programme: g.programme_id,
        academic_year: g.academic_year_id,
        year_of_study: g.year_of_study,
        capacity: g.capacity,
        created_at: g.created_at,
        updated_at: g.updated_at,
    })
}

fn snapshot(g: &class_group::Model, trainees: &[Uuid]) -> serde_json::Value {
    json!({"name": g.name, "programme": g.programme_id, "academic_year": g.academic_year_id,
           "year_of_study": g.year_of_study, "capacity": g.capacity, "trainees": trainees})
}

/// List class groups in reach. Filters `programme`, `academic_year`,
/// `year_of_study`, `department`; search name; ordering `name`,
/// `year_of_study`, `created_at`.
#[utoipa::path(get, path = "/api/class-groups/", tag = "school", security(("jwt" = [])),
    params(("programme" = Option<Uuid>, Query), ("academic_year" = Option<Uuid>, Query), ("year_of_study" = Option<i64>, Query),
           ("department" = Option<Uuid>, Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = kernel::listing::Page<ClassGroupOut>), (status = 401)))]
pub async fn list_class_groups(
    Db(db): Db,
    me: Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<PageOf<Roster, ClassGroupOut>>> {
    let mut query = class_group::Entity::find().filter(visible(&db, &me).await?);
    query = list.filter(
        query,
        "programme",
        class_group::Column::ProgrammeId,
        FilterKind::Uuid,
    )?;
    query = list.filter(
        query,
        "academic_year",
        class_group::Column::AcademicYearId,
        FilterKind::Uuid,
    )?;
    query = list.filter(
        query,
        "year_of_study",
        class_group::Column::YearOfStudy,
        FilterKind::Int,
    )?;
    if let Some(raw) = list.get("department") {
        let department = Uuid::parse_str(raw.trim())
            .map_err(|_| ApiError::field("department", "Enter a valid UUID."))?;
        query = query.filter(
            class_group::Column::Id.in_subquery(crate::departments::class_groups_of(department)),
        );
    }
    let query = list.search(query, &[class_group::Column::Name.into_simple_expr()]);
    let query = list.order(
        query,
        &[
            ("name", class_group::Column::Name.into_simple_expr()),
            (
                "year_of_study",
                class_group::Column::YearOfStudy.into_simple_expr(),
            ),
            (
                "created_at",
                class_group::Column::CreatedAt.into_simple_expr(),
            ),
        ],
        &[("name", Order::Asc)],
        class_group::Column::Id,
    );
    let page = list.page(&db, query, crate::rest::PAGE).await?;
    let mut rows = Vec::with_capacity(page.results.len());
    for g in &page.results {
        rows.push(out(&db, g.clone()).await?);
    }
    Ok(Json(crate::departments::with_results(page, rows)))
}

struct Valid {
    name: Option<String>,
    programme: Option<programme::Model>,
    year: Option<academic_year::Model>,
    year_of_study: Option<i32>,
    capacity: Option<Option<i32>>,
    trainees: Option<Vec<user::Model>>,
}

async fn reference<E>(
    db: &impl ConnectionTrait,
    c: &mut Checker,
    name: &str,
    field: Field<String>,
) -> ApiResult<Option<E::Model>>
where
    E: EntityTrait,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    let Some(raw) = c.value(name, field) else {
        return Ok(None);
    };
    match crate::rest::referenced::<E>(db, name, &raw).await {
        Ok(row) => Ok(Some(row)),
        Err(ApiError::Validation(e)) => {
            c.error(name, first_message(&e));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

async fn validate(
    db: &impl ConnectionTrait,
    input: ClassGroupIn,
    existing: Option<&class_group::Model>,
    partial: bool,
) -> ApiResult<Valid> {
    let mut c = if existing.is_some() {
        Checker::partial(partial)
    } else {
        Checker::new()
    };
    let name = c.text("name", input.name, 100);
    let programme =
        reference::<programme::Entity>(db, &mut c, "programme", input.programme).await?;
    let year = reference::<academic_year::Entity>(db, &mut c, "academic_year", input.academic_year)
        .await?;
    let year_of_study = c.int("year_of_study", input.year_of_study, 1, 6);
    let capacity = match c.nullable(input.capacity) {
        Some(Some(n)) if !(1..=1000).contains(&n) => {
            c.error("capacity", "Ensure this value is between 1 and 1000.");
            None
        }
        Some(n) => Some(n.and_then(|n| i32::try_from(n).ok())),
        None => None,
    };
    let trainees = match input.trainees {
        Field::Absent if existing.is_some() => None,
        Field::Absent | Field::Null => Some(Vec::new()),
        Field::Value(raw) => match users_by_ids(db, "trainees", &raw).await {
            Ok(users) => match wrong_role(&users, Role::Trainee, "a trainee") {
                Some(message) => {
                    c.error("trainees", message);
                    None
                }
                None => Some(users),
            },
            Err(ApiError::Validation(e)) => {
                c.error("trainees", first_message(&e));
                None
            }
            Err(e) => return Err(e),
        },
    };
    let except = existing.map(|g| g.id);
    if let Some(name) = &name {
        let mut q = class_group::Entity::find().filter(class_group::Column::Name.eq(name.as_str()));
        if let Some(id) = except {
            q = q.filter(class_group::Column::Id.ne(id));
        }
        if q.one(db).await?.is_some() {
            c.error("name", NAME_TAKEN);
        }
    }
    // The year of study is bound by the programme's duration.
    let duration = match (&programme, existing) {
        (Some(p), _) => Some(p.duration_years),
        (None, Some(g)) if year_of_study.is_some() => programme::Entity::find_by_id(g.programme_id)
            .one(db)
            .await?
            .map(|p| p.duration_years),
        _ => None,
    };
    let years = year_of_study.or(existing.map(|g| i64::from(g.year_of_study)));
    if let (Some(duration), Some(years)) = (duration, years)
        && years > i64::from(duration)
    {
        c.error(
            "year_of_study",
            format!("Ensure this value is less than or equal to {duration} (the programme's duration in years)."),
        );
    }
    c.finish()?;
    Ok(Valid {
        name,
        programme,
        year,
        year_of_study: year_of_study.and_then(|y| i32::try_from(y).ok()),
        capacity,
        trainees,
    })
}

/// The message for a trainee already in another class group of the year.
async fn already_in(
    db: &impl ConnectionTrait,
    trainee: &user::Model,
    year: &academic_year::Model,
    except: Uuid,
) -> ApiResult<Option<String>> {
    let other = class_group_trainee::Entity::find()
        .filter(class_group_trainee::Column::TraineeId.eq(trainee.id))
        .filter(class_group_trainee::Column::AcademicYearId.eq(year.id))
        .filter(class_group_trainee::Column::ClassGroupId.ne(except))
        .one(db)
        .await?;
    let Some(other) = other else {
        return Ok(None);
    };
    let group = class_group::Entity::find_by_id(other.class_group_id)
        .one(db)
        .await?
        .map_or_else(|| "another class group".to_owned(), |g| g.name);
    Ok(Some(format!(
        "{} is already in {group} for {}.",
        trainee.full_name(),
        year.name
    )))
}

/// Adds `trainees` (not yet members) to `group`: each must not be in
/// another class group of the year, and the group's capacity holds.
/// A unique-index race answers the same message.
async fn add_members(
    db: &impl ConnectionTrait,
    group: &class_group::Model,
    trainees: &[user::Model],
) -> ApiResult<()> {
    let year = academic_year::Entity::find_by_id(group.academic_year_id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let current = trainee_ids(db, group.id).await?;
    let new: Vec<&user::Model> = trainees
        .iter()
        .filter(|t| !current.contains(&t.id))
        .collect();
    let mut messages = Vec::new();
    for trainee in &new {
        if let Some(message) = already_in(db, trainee, &year, group.id).await? {
            messages.push(message);
        }
    }
    if !messages.is_empty() {
        let mut errors = kernel::FieldErrors::new();
        for m in messages {
            errors.add("trainees", m);
        }
        return Err(ApiError::Validation(errors));
    }
    if let Some(capacity) = group.capacity {
        let total = current.len() + new.len();
        if total > usize::try_from(capacity).unwrap_or(0) {
            return Err(ApiError::field(
                "trainees",
                format!(
                    "{} holds at most {capacity} trainees; this would make {total}.",
                    group.name
                ),
            ));
        }
    }
    let now = kernel::time::now();
    for trainee in new {
        let inserted = class_group_trainee::ActiveModel {
            id: Set(Uuid::new_v4()),
            class_group_id: Set(group.id),
            trainee_id: Set(trainee.id),
            academic_year_id: Set(year.id),
            created_at: Set(now),
        }
        .insert(db)
        .await;
        if let Err(e) = inserted {
            if kernel::error::is_unique_violation(&e, "trainee_id") {
                let message = already_in(db, trainee, &year, group.id)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| {
                        format!(
                            "{} is already in another class group for {}.",
                            trainee.full_name(),
                            year.name
                        )
                    });
                return Err(ApiError::field("trainees", message));
            }
            return Err(e.into());
        }
    }
    Ok(())
}

/// Create a class group (admin; a HOD for their department's programmes).
#[utoipa::path(post, path = "/api/class-groups/", tag = "school", security(("jwt" = [])), request_body = ClassGroupIn,
    responses((status = 201, body = ClassGroupOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_class_group(
    Db(db): Db,
    Caller(Manager(me), actor): Caller<Manager>,
    Json(input): Json<ClassGroupIn>,
) -> ApiResult<(StatusCode, Json<ClassGroupOut>)> {
    if me.role() == Role::DpAcademics {
        return Err(crate::access::forbidden());
    }
    let v = validate(&db, input, None, false).await?;
    let (Some(programme), Some(year)) = (v.programme, v.year) else {
        return Err(ApiError::non_field(
            "Programme and academic year are required.",
        ));
    };
    crate::programmes::may_write_department(&db, &me, programme.department_id).await?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
    let created = class_group::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(v.name.unwrap_or_default()),
        programme_id: Set(programme.id),
        academic_year_id: Set(year.id),
        year_of_study: Set(v.year_of_study.unwrap_or(1)),
        capacity: Set(v.capacity.flatten()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(name_unique)?;
    let trainees = v.trainees.unwrap_or_default();
    add_members(&txn, &created, &trainees).await?;
    let ids: Vec<Uuid> = trainees.iter().map(|t| t.id).collect();
    let entry = Entry::new(&actor, Action::CREATE, "class_group", created.id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::created(&snapshot(&created, &ids))),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(out(&db, created).await?)))
}

fn name_unique(e: sea_orm::DbErr) -> ApiError {
    if kernel::error::is_unique_violation(&e, "name") {
        ApiError::field("name", NAME_TAKEN)
    } else {
        e.into()
    }
}

/// A class group in reach.
#[utoipa::path(get, path = "/api/class-groups/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ClassGroupOut), (status = 401), (status = 404)))]
pub async fn get_class_group(Db(db): Db, me: Me, Id(id): Id) -> ApiResult<Json<ClassGroupOut>> {
    Ok(Json(out(&db, find_visible(&db, &me, id).await?).await?))
}

/// A class group `me` may change: 404 out of reach, 403 when only readable.
async fn writable(
    db: &impl ConnectionTrait,
    me: &user::Model,
    id: Uuid,
) -> ApiResult<class_group::Model> {
    let group = find_visible(db, me, id).await?;
    crate::programmes::may_write_department(db, me, department_of(db, &group).await?).await?;
    Ok(group)
}

async fn update(
    db: &sea_orm::DatabaseConnection,
    me: &user::Model,
    actor: &kernel::audit::Actor,
    id: Uuid,
    body: Result<Json<ClassGroupIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<ClassGroupOut>> {
    let existing = writable(db, me, id).await?;
    let Json(input) = body?;
    let v = validate(db, input, Some(&existing), partial).await?;
    if let Some(p) = &v.programme {
        crate::programmes::may_write_department(db, me, p.department_id).await?;
    }
    let before = trainee_ids(db, id).await?;
    let txn = kernel::db::begin_write(db).await?;
    let mut row: class_group::ActiveModel = existing.clone().into();
    if let Some(x) = v.name {
        row.name = Set(x);
    }
    if let Some(p) = &v.programme {
        row.programme_id = Set(p.id);
    }
    if let Some(y) = &v.year {
        row.academic_year_id = Set(y.id);
    }
    if let Some(x) = v.year_of_study {
        row.year_of_study = Set(x);
    }
    if let Some(x) = v.capacity {
        row.capacity = Set(x);
    }
    row.updated_at = Set(kernel::time::now());
    let updated = row.update(&txn).await.map_err(name_unique)?;
    let members = match v.trainees {
        Some(list) => list,
        None => {
            users_by_ids(
                &txn,
                "trainees",
                &before.iter().map(Uuid::to_string).collect::<Vec<_>>(),
            )
            .await?
        }
    };
    // Membership is rewritten: the year may have changed, and the list may.
    class_group_trainee::Entity::delete_many()
        .filter(class_group_trainee::Column::ClassGroupId.eq(id))
        .exec(&txn)
        .await?;
    add_members(&txn, &updated, &members).await?;
    let after = trainee_ids(&txn, id).await?;
    let entry = Entry::new(actor, Action::UPDATE, "class_group", id);
    let changes = kernel::audit::diff(&snapshot(&existing, &before), &snapshot(&updated, &after));
    Log::write(&txn, entry.changes(changes)).await?;
    txn.commit().await?;
    Ok(Json(out(db, updated).await?))
}

/// Replace a class group (admin; its department's HOD).
#[utoipa::path(put, path = "/api/class-groups/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = ClassGroupIn,
    responses((status = 200, body = ClassGroupOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn put_class_group(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<ClassGroupIn>, ApiError>,
) -> ApiResult<Json<ClassGroupOut>> {
    update(&db, &me, &actor, id, body, false).await
}

/// Change some of a class group (admin; its department's HOD).
#[utoipa::path(patch, path = "/api/class-groups/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = ClassGroupIn,
    responses((status = 200, body = ClassGroupOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn patch_class_group(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<ClassGroupIn>, ApiError>,
) -> ApiResult<Json<ClassGroupOut>> {
    update(&db, &me, &actor, id, body, true).await
}

/// Delete a class group (admin; its department's HOD); 409 with enrollments.
#[utoipa::path(delete, path = "/api/class-groups/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn delete_class_group(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let existing = writable(&db, &me, id).await?;
    let used = enrollment::Entity::find()
        .filter(enrollment::Column::ClassGroupId.eq(id))
        .count(&db)
        .await?;
    if used > 0 {
        return Err(ApiError::Conflict(IN_USE.into()));
    }
    let members = trainee_ids(&db, id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    class_group::Entity::delete_by_id(id)
        .exec(&txn)
        .await
        .map_err(|e| {
            if kernel::error::is_foreign_key_violation(&e) {
                ApiError::Conflict(IN_USE.into())
            } else {
                e.into()
            }
        })?;
    let entry = Entry::new(&actor, Action::DELETE, "class_group", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::deleted(&snapshot(&existing, &members))),
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The trainees of a class group in reach (staff, and its own trainees).
#[utoipa::path(get, path = "/api/class-groups/{id}/trainees/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<MemberOut>), (status = 401), (status = 404)))]
pub async fn list_trainees(Db(db): Db, me: Me, Id(id): Id) -> ApiResult<Json<Vec<MemberOut>>> {
    find_visible(&db, &me, id).await?;
    Ok(Json(members(&db, &trainee_ids(&db, id).await?).await?))
}

/// The given users as member rows, by name.
pub async fn members(db: &impl ConnectionTrait, ids: &[Uuid]) -> ApiResult<Vec<MemberOut>> {
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(ids.to_vec()))
        .order_by_asc(user::Column::FirstName)
        .order_by_asc(user::Column::LastName)
        .order_by_asc(user::Column::Id)
        .all(db)
        .await?;
    let profiles = profile::Entity::find()
        .filter(profile::Column::UserId.is_in(ids.to_vec()))
        .all(db)
        .await?;
    Ok(users
        .into_iter()
        .map(|u| MemberOut {
            admission_number: profiles
                .iter()
                .find(|p| p.user_id == u.id)
                .and_then(|p| p.admission_number.clone()),
            full_name: u.full_name(),
            id: u.id,
            email: u.email,
            first_name: u.first_name,
            last_name: u.last_name,
            is_active: u.is_active,
        })
        .collect())
}

/// Add trainees to a class group (admin; its department's HOD): `{trainee_ids}`.
#[utoipa::path(post, path = "/api/class-groups/{id}/trainees/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)),
    request_body = TraineeIdsIn,
    responses((status = 200, body = ClassGroupOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn add_trainees(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<TraineeIdsIn>, ApiError>,
) -> ApiResult<Json<ClassGroupOut>> {
    let group = writable(&db, &me, id).await?;
    let Json(input) = body?;
    let mut c = Checker::new();
    let raw = c.value("trainee_ids", input.trainee_ids);
    c.finish()?;
    let users = users_by_ids(&db, "trainee_ids", &raw.unwrap_or_default()).await?;
    if let Some(message) = wrong_role(&users, Role::Trainee, "a trainee") {
        return Err(ApiError::field("trainee_ids", message));
    }
    let txn = kernel::db::begin_write(&db).await?;
    add_members(&txn, &group, &users)
        .await
        .map_err(|e| match e {
            ApiError::Validation(errors) => rename(errors, "trainee_ids"),
            other => other,
        })?;
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let entry = Entry::new(&actor, Action("add_trainees"), "class_group", id);
    Log::write(&txn, entry.changes(json!({"trainees": ids}))).await?;
    txn.commit().await?;
    Ok(Json(out(&db, group).await?))
}

/// The `trainees` errors of `errors` under `field`.
fn rename(errors: kernel::FieldErrors, field: &str) -> ApiError {
    let json = errors.to_json();
    let mut renamed = kernel::FieldErrors::new();
    if let Some(map) = json.as_object() {
        for (key, messages) in map {
            let key = if key == "trainees" {
                field
            } else {
                key.as_str()
            };
            for m in messages.as_array().into_iter().flatten() {
                renamed.add(key, m.as_str().unwrap_or_default());
            }
        }
    }
    ApiError::Validation(renamed)
}

/// Remove a trainee from a class group (admin; its department's HOD).
#[utoipa::path(delete, path = "/api/class-groups/{id}/trainees/{trainee_id}/", tag = "school", security(("jwt" = [])),
    params(("id" = Uuid, Path), ("trainee_id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn remove_trainee(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    axum::extract::Path((raw_id, raw_trainee)): axum::extract::Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = Uuid::parse_str(&raw_id).map_err(|_| ApiError::not_found())?;
    let trainee = Uuid::parse_str(&raw_trainee).map_err(|_| ApiError::not_found())?;
    writable(&db, &me, id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let deleted = class_group_trainee::Entity::delete_many()
        .filter(class_group_trainee::Column::ClassGroupId.eq(id))
        .filter(class_group_trainee::Column::TraineeId.eq(trainee))
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(ApiError::not_found());
    }
    let entry = Entry::new(&actor, Action("remove_trainee"), "class_group", id);
    Log::write(&txn, entry.changes(json!({"trainee": trainee}))).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
