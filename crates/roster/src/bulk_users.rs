//! Bulk registration of users from a spreadsheet (contract §1): the
//! template (`GET /api/users/bulk-template/`) and the upload
//! (`POST /api/users/bulk-upload/`, `?dry_run=true` validates only).
//!
//! Every row is validated as a create (the same rules as `POST /api/users/`)
//! plus the file's own: emails unique within the file, department by code,
//! class group by name, a HOD only for trainees and trainers of their own
//! department. All or nothing: one bad row and nothing is written. Each
//! created user gets an invitation email through the job queue.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::response::Response;
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::extract::Query;
use kernel::upload::FormBody;
use kernel::{ApiError, ApiResult, Current, Db, FieldErrors};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde_json::{Map, Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::access::{Me, Role};
use crate::audit::Log;
use crate::entities::{
    class_group, class_group_trainee, department, department_trainer, programme, user,
};
use crate::sheets::{self, Report, TemplateQuery, UploadQuery};
use crate::state::AppState;
use crate::users::{self, UserChanges, Writer};

/// The template's columns, in order.
const COLUMNS: &[&str] = &[
    "email",
    "first_name",
    "last_name",
    "role",
    "gender",
    "phone",
    "id_number",
    "admission_number",
    "staff_number",
    "department_code",
    "class_group",
];

/// What each column takes (the template's instructions sheet).
const HELP: &[(&str, &str, &str)] = &[
    (
        "email",
        "yes",
        "The user's email address; unique, also within the file.",
    ),
    ("first_name", "yes", "Given name."),
    ("last_name", "yes", "Family name."),
    (
        "role",
        "yes",
        "trainee, trainer, hod, dp_academics or admin (a HOD may add trainees and trainers only).",
    ),
    ("gender", "no", "male, female or other."),
    ("phone", "no", "7 to 20 digits, an optional leading +."),
    ("id_number", "no", "National id number; unique."),
    (
        "admission_number",
        "no",
        "Trainees: admission number; unique.",
    ),
    ("staff_number", "no", "Staff: staff number; unique."),
    (
        "department_code",
        "no",
        "The code of an existing department (trainers join it; a HOD heads it).",
    ),
    (
        "class_group",
        "no",
        "Trainees: the name of an existing class group to join.",
    ),
];

/// Rows are named by their email.
const REPORT: Report = Report {
    key: "email",
    noun: "user",
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(template))
        .routes(routes!(upload))
}

/// An administrator, or the HOD of `Some(department)`; others are refused.
async fn uploader(db: &impl ConnectionTrait, me: &user::Model) -> ApiResult<Option<Uuid>> {
    match me.role() {
        Role::Admin => Ok(None),
        Role::Hod => crate::access::headed_department(db, me)
            .await?
            .map(Some)
            .ok_or_else(crate::access::forbidden),
        _ => Err(crate::access::forbidden()),
    }
}

/// The bulk registration template (admin, HOD): the columns, and in XLSX
/// an instructions sheet.
#[utoipa::path(get, path = "/api/users/bulk-template/", tag = "users", security(("jwt" = [])),
    params(TemplateQuery),
    responses((status = 200, description = "The template file."), (status = 400), (status = 401), (status = 403)))]
async fn template(
    Db(db): Db,
    Current(me): Me,
    Query(query): Query<TemplateQuery>,
) -> ApiResult<Response> {
    uploader(&db, &me).await?;
    sheets::template(&query, "Users", COLUMNS, HELP, "users-template")
}

/// One validated row, ready to write.
struct Planned {
    number: usize,
    changes: UserChanges,
    department: Option<department::Model>,
    group: Option<class_group::Model>,
}

/// Looks up departments by code and class groups by name, once each.
#[derive(Default)]
struct Lookups {
    departments: HashMap<String, Option<department::Model>>,
    groups: HashMap<String, Option<(class_group::Model, Uuid)>>,
}

impl Lookups {
    async fn department(
        &mut self,
        db: &impl ConnectionTrait,
        code: &str,
    ) -> ApiResult<Option<department::Model>> {
        let key = code.to_lowercase();
        if !self.departments.contains_key(&key) {
            let found = department::Entity::find()
                .filter(department::Column::Code.eq(code))
                .one(db)
                .await?;
            self.departments.insert(key.clone(), found);
        }
        Ok(self.departments.get(&key).cloned().flatten())
    }

    /// The class group named `name` and its department.
    async fn group(
        &mut self,
        db: &impl ConnectionTrait,
        name: &str,
    ) -> ApiResult<Option<(class_group::Model, Uuid)>> {
        let key = name.to_lowercase();
        if !self.groups.contains_key(&key) {
            let mut found = None;
            if let Some(group) = class_group::Entity::find()
                .filter(class_group::Column::Name.eq(name))
                .one(db)
                .await?
                && let Some(p) = programme::Entity::find_by_id(group.programme_id)
                    .one(db)
                    .await?
            {
                found = Some((group, p.department_id));
            }
            self.groups.insert(key.clone(), found);
        }
        Ok(self.groups.get(&key).cloned().flatten())
    }
}

/// Validates one row; errors keyed by column.
async fn check_row(
    db: &impl ConnectionTrait,
    row: &sheets::Row,
    own_department: Option<Uuid>,
    seen: &mut HashSet<String>,
    lookups: &mut Lookups,
) -> ApiResult<Result<Planned, FieldErrors>> {
    let mut body = Map::new();
    for column in COLUMNS.iter().take(9) {
        if let Some(v) = row.get(column) {
            body.insert((*column).to_owned(), Value::String(v.to_owned()));
        }
    }
    let (mut errors, changes) = match users::read_changes(&body, Writer::Admin, true) {
        Ok(c) => (FieldErrors::new(), Some(c)),
        Err(e) => (e, None),
    };
    if let Some(c) = &changes {
        let unique = users::unique_problems(db, c).await?;
        for (field, messages) in unique.to_json().as_object().into_iter().flatten() {
            for m in messages.as_array().into_iter().flatten() {
                errors.add(field.clone(), m.as_str().unwrap_or_default());
            }
        }
        if let Some(email) = &c.email
            && !seen.insert(email.clone())
            && !errors.has("email")
        {
            errors.add("email", "This email appears more than once in the file.");
        }
    }
    let role = changes.as_ref().and_then(|c| c.role);
    if own_department.is_some() && role.is_some_and(|r| !matches!(r, Role::Trainee | Role::Trainer))
    {
        errors.add(
            "role",
            "A head of department may only add trainees and trainers.",
        );
    }
    let mut department = None;
    if let Some(code) = row.get("department_code") {
        match lookups.department(db, code).await? {
            Some(d) => department = Some(d),
            None => errors.add(
                "department_code",
                format!("No department has the code \"{code}\"."),
            ),
        }
    }
    let mut group = None;
    if let Some(name) = row.get("class_group") {
        if role.is_some_and(|r| r != Role::Trainee) {
            errors.add("class_group", "Only trainees join a class group.");
        }
        match lookups.group(db, name).await? {
            Some((g, dept)) => {
                if department.as_ref().is_some_and(|d| d.id != dept) {
                    errors.add(
                        "class_group",
                        format!(
                            "{name} is not in department {}.",
                            row.get("department_code").unwrap_or_default()
                        ),
                    );
                }
                if own_department.is_some_and(|own| own != dept) {
                    errors.add("class_group", "This class group is not in your department.");
                }
                group = Some(g);
            }
            None => errors.add(
                "class_group",
                format!("No class group is named \"{name}\"."),
            ),
        }
    }
    if let Some(own) = own_department {
        if let Some(d) = &department {
            if d.id != own {
                errors.add(
                    "department_code",
                    "You may only add users to your own department.",
                );
            }
        } else if role == Some(Role::Trainer) {
            department = department::Entity::find_by_id(own).one(db).await?;
        } else if role == Some(Role::Trainee) && group.is_none() {
            errors.add(
                "class_group",
                "Name a class group of your department for each trainee.",
            );
        }
    }
    if role == Some(Role::Hod)
        && let Some(d) = &department
        && d.hod_id.is_some()
    {
        errors.add(
            "department_code",
            format!("Department {} already has a head.", d.code),
        );
    }
    Ok(match changes {
        Some(changes) if errors.is_empty() => Ok(Planned {
            number: row.number,
            changes,
            department,
            group,
        }),
        _ => Err(errors),
    })
}

/// Refuses groups the file would overfill.
async fn check_capacity(
    db: &impl ConnectionTrait,
    planned: &[Planned],
    bad: &mut Vec<(usize, FieldErrors)>,
) -> ApiResult<()> {
    let mut per_group: HashMap<Uuid, (class_group::Model, Vec<usize>)> = HashMap::new();
    for p in planned {
        if let Some(g) = &p.group {
            per_group
                .entry(g.id)
                .or_insert_with(|| (g.clone(), Vec::new()))
                .1
                .push(p.number);
        }
    }
    for (id, (group, rows)) in per_group {
        let Some(capacity) = group.capacity else {
            continue;
        };
        let current = class_group_trainee::Entity::find()
            .filter(class_group_trainee::Column::ClassGroupId.eq(id))
            .filter(class_group_trainee::Column::AcademicYearId.eq(group.academic_year_id))
            .all(db)
            .await?
            .len();
        let total = current + rows.len();
        if total > usize::try_from(capacity).unwrap_or(0) {
            for number in rows {
                bad.push((
                    number,
                    FieldErrors::single(
                        "class_group",
                        format!(
                            "{} holds at most {capacity} trainees; this file would make {total}.",
                            group.name
                        ),
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Writes the row's department and class group links.
async fn place(txn: &impl ConnectionTrait, p: &Planned, id: Uuid) -> ApiResult<()> {
    let now = kernel::time::now();
    if let Some(d) = &p.department {
        match p.changes.role {
            Some(Role::Trainer) => {
                department_trainer::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    department_id: Set(d.id),
                    trainer_id: Set(id),
                    created_at: Set(now),
                }
                .insert(txn)
                .await?;
            }
            Some(Role::Hod) => {
                let mut row: department::ActiveModel = d.clone().into();
                row.hod_id = Set(Some(id));
                row.update(txn).await?;
            }
            _ => {}
        }
    }
    if let Some(g) = &p.group {
        class_group_trainee::ActiveModel {
            id: Set(Uuid::new_v4()),
            class_group_id: Set(g.id),
            trainee_id: Set(id),
            academic_year_id: Set(g.academic_year_id),
            created_at: Set(now),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// Register users from an `.xlsx` or UTF-8 `.csv` file (admin, HOD): all
/// or nothing, with a report per row; `?dry_run=true` validates only.
#[utoipa::path(post, path = "/api/users/bulk-upload/", tag = "users", security(("jwt" = [])),
    params(UploadQuery),
    request_body(content_type = "multipart/form-data", content = crate::sheets::SheetUpload),
    responses((status = 201, description = "`{created, rows}`"), (status = 200, description = "Dry run: `{created: 0, dry_run: true, rows}`"),
        (status = 400), (status = 401), (status = 403)))]
async fn upload(
    State(state): State<AppState>,
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    Query(query): Query<UploadQuery>,
    body: FormBody,
) -> ApiResult<Response> {
    let own_department = uploader(&db, &me).await?;
    let dry_run = query.dry_run()?;
    let table = sheets::read_upload(body.files.get(sheets::FILE_FIELD))?;
    table.require(&["email", "first_name", "last_name", "role"])?;
    let mut seen = HashSet::new();
    let mut lookups = Lookups::default();
    let mut planned = Vec::new();
    let mut bad = Vec::new();
    for row in &table.rows {
        match check_row(&db, row, own_department, &mut seen, &mut lookups).await? {
            Ok(p) => planned.push(p),
            Err(errors) => bad.push((row.number, errors)),
        }
    }
    check_capacity(&db, &planned, &mut bad).await?;
    if !bad.is_empty() {
        return Err(REPORT.errors(&table, bad));
    }
    if dry_run {
        return Ok(REPORT.valid(
            planned
                .iter()
                .map(|p| (p.number, p.changes.email.clone().unwrap_or_default())),
        ));
    }
    let txn = kernel::db::begin_write(&db).await?;
    let mut rows = Vec::with_capacity(planned.len());
    for p in &planned {
        let mut changes = p.changes.clone();
        changes.password = None;
        let created = users::create_account(&state, &txn, &changes)
            .await
            .map_err(|e| {
                // A race with another writer: report it on its row.
                match e {
                    ApiError::Validation(errors) => REPORT.errors(&table, vec![(p.number, errors)]),
                    other => other,
                }
            })?;
        place(&txn, p, created.id).await?;
        rows.push((p.number, created.email, created.id));
    }
    let ids: Vec<Uuid> = rows.iter().map(|(_, _, id)| *id).collect();
    let entry = Entry::new(&actor, Action("bulk_create"), "user", "bulk");
    Log::write(&txn, entry.changes(json!({"created": ids}))).await?;
    txn.commit().await?;
    Ok(REPORT.created(rows))
}
