//! Bulk import of courses from a spreadsheet (contract §1, "same mechanism
//! for courses", and §3): the template (`GET /api/courses/bulk-template/`)
//! and the upload (`POST /api/courses/bulk-upload/`, `?dry_run=true`
//! validates only).
//!
//! Every row is validated as a create (the same rules as `POST
//! /api/courses/`, [`courses::validate`]) plus the file's own: codes unique
//! within the file, department by code, a HOD only for their own
//! department, prerequisites by code (a course in the database or another
//! row of the file; no cycle through the file), topics as `title:minutes`
//! pairs. All or nothing: one bad row and nothing is written. Courses are
//! inserted prerequisites first, each with its audit row, in one
//! transaction.

use std::collections::{HashMap, HashSet};

use axum::response::Response;
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::extract::Query;
use kernel::upload::FormBody;
use kernel::{ApiError, ApiResult, Current, Db, Field, FieldErrors};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::access::{Me, Role};
use crate::audit::Log;
use crate::courses::{self, CourseIn};
use crate::entities::{course, department, topic, user};
use crate::sheets::{self, Report, TemplateQuery, UploadQuery};
use crate::state::AppState;
use crate::topics::{MINUTES_MAX as TOPIC_MINUTES_MAX, TITLE_MAX as TOPIC_TITLE_MAX};

/// The template's columns, in order.
const COLUMNS: &[&str] = &[
    "code",
    "name",
    "department_code",
    "description",
    "credit_hours",
    "theory_sessions_per_week",
    "practical_sessions_per_week",
    "session_duration_minutes",
    "prerequisites",
    "topics",
];

/// What each column takes (the template's instructions sheet).
const HELP: &[(&str, &str, &str)] = &[
    (
        "code",
        "yes",
        "Course code, at most 20 characters (upper-cased); unique, also within the file.",
    ),
    ("name", "yes", "Course name, at most 200 characters."),
    (
        "department_code",
        "yes",
        "The code of an existing department (a head of department: their own; blank means their own).",
    ),
    ("description", "no", "Free text."),
    (
        "credit_hours",
        "no",
        "A whole number, 0 or more (default 0).",
    ),
    (
        "theory_sessions_per_week",
        "no",
        "0 to 20 (default 1); with the practical sessions at least 1.",
    ),
    ("practical_sessions_per_week", "no", "0 to 20 (default 0)."),
    (
        "session_duration_minutes",
        "no",
        "30 to 240, a multiple of 15 (default 60).",
    ),
    (
        "prerequisites",
        "no",
        "Course codes separated by ; (courses that exist, or other rows of this file).",
    ),
    (
        "topics",
        "no",
        "Topics in order as title:minutes separated by ; (e.g. Variables:90;Loops:120).",
    ),
];

/// Rows are named by their course code.
const REPORT: Report = Report {
    key: "code",
    noun: "course",
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(template))
        .routes(routes!(upload))
}

/// Who may create courses (as `POST /api/courses/`): an administrator or
/// DP academics (`None`), the HOD of `Some(department)`; others 403.
async fn uploader(db: &impl ConnectionTrait, me: &user::Model) -> ApiResult<Option<Uuid>> {
    match me.role() {
        Role::Admin | Role::DpAcademics => Ok(None),
        Role::Hod => crate::access::headed_department(db, me)
            .await?
            .map(Some)
            .ok_or_else(crate::access::forbidden),
        _ => Err(crate::access::forbidden()),
    }
}

/// The course import template (admin, dp, HOD): the columns, and in XLSX
/// an instructions sheet.
#[utoipa::path(get, path = "/api/courses/bulk-template/", tag = "courses", security(("jwt" = [])),
    params(TemplateQuery),
    responses((status = 200, description = "The template file."), (status = 400), (status = 401), (status = 403)))]
async fn template(
    Db(db): Db,
    Current(me): Me,
    Query(query): Query<TemplateQuery>,
) -> ApiResult<Response> {
    uploader(&db, &me).await?;
    sheets::template(&query, "Courses", COLUMNS, HELP, "courses-template")
}

/// One validated row, ready to write.
struct Planned {
    number: usize,
    /// The upper-cased code.
    code: String,
    valid: courses::Valid,
    /// Prerequisites that are other rows of the file, by code.
    in_file: Vec<String>,
    /// `(title, minutes)` in order.
    topics: Vec<(String, i32)>,
}

/// Looks up departments and courses by code, once each.
#[derive(Default)]
struct Lookups {
    departments: HashMap<String, Option<department::Model>>,
    courses: HashMap<String, Option<Uuid>>,
}

impl Lookups {
    async fn department(
        &mut self,
        db: &impl ConnectionTrait,
        code: &str,
    ) -> ApiResult<Option<department::Model>> {
        let key = code.to_uppercase();
        if !self.departments.contains_key(&key) {
            let found = department::Entity::find()
                .filter(department::Column::Code.eq(key.as_str()))
                .one(db)
                .await?;
            self.departments.insert(key.clone(), found);
        }
        Ok(self.departments.get(&key).cloned().flatten())
    }

    /// The id of the stored course `code` (upper case).
    async fn course(&mut self, db: &impl ConnectionTrait, code: &str) -> ApiResult<Option<Uuid>> {
        if !self.courses.contains_key(code) {
            let found = course::Entity::find()
                .filter(course::Column::Code.eq(code))
                .one(db)
                .await?
                .map(|c| c.id);
            self.courses.insert(code.to_owned(), found);
        }
        Ok(self.courses.get(code).copied().flatten())
    }
}

fn text(row: &sheets::Row, column: &str) -> Field<String> {
    row.get(column)
        .map_or(Field::Absent, |v| Field::Value(v.to_owned()))
}

/// A whole number cell; blank is absent (the create's default).
fn integer(row: &sheets::Row, column: &str, errors: &mut FieldErrors) -> Field<i64> {
    match row.get(column) {
        None => Field::Absent,
        Some(raw) => match raw.parse() {
            Ok(n) => Field::Value(n),
            Err(_) => {
                errors.add(column, "A valid integer is required.");
                Field::Absent
            }
        },
    }
}

/// `A; b ;A` → `["A", "B"]`.
fn codes(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for code in raw.split(';').map(str::trim).filter(|c| !c.is_empty()) {
        let code = code.to_uppercase();
        if !out.contains(&code) {
            out.push(code);
        }
    }
    out
}

/// `Variables:90; Loops:120` → `[("Variables", 90), ("Loops", 120)]`; a
/// pair that is not a title and a number of minutes is an error on
/// `topics`.
fn topics(raw: &str, errors: &mut FieldErrors) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    for part in raw.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((title, minutes)) = part.rsplit_once(':') else {
            errors.add(
                "topics",
                format!("\"{part}\" is not title:minutes (e.g. Loops:120)."),
            );
            continue;
        };
        let title = title.trim();
        if title.is_empty() || title.contains('\0') {
            errors.add("topics", format!("\"{part}\" has no title."));
        } else if title.chars().count() > TOPIC_TITLE_MAX {
            errors.add(
                "topics",
                format!("A topic title has more than {TOPIC_TITLE_MAX} characters."),
            );
        }
        match minutes.trim().parse::<i32>() {
            Ok(m) if (1..=TOPIC_MINUTES_MAX).contains(&i64::from(m)) => {
                out.push((title.to_owned(), m));
            }
            _ => errors.add(
                "topics",
                format!(
                    "\"{part}\": the minutes must be a whole number from 1 to {TOPIC_MINUTES_MAX}."
                ),
            ),
        }
    }
    out
}

/// Adds the errors of [`courses::validate`] to a row's, `department` as
/// `department_code` (unless that column already has its error).
fn merge(errors: &mut FieldErrors, from: &FieldErrors) {
    let json = from.to_json();
    for (field, messages) in json.as_object().into_iter().flatten() {
        let field = match field.as_str() {
            "department" if errors.has("department_code") => continue,
            "department" => "department_code",
            other => other,
        };
        for m in messages.as_array().into_iter().flatten() {
            errors.add(field, m.as_str().unwrap_or_default());
        }
    }
}

/// Validates one row; errors keyed by column. `file_codes` are the codes
/// of every row of the file.
async fn check_row(
    db: &impl ConnectionTrait,
    row: &sheets::Row,
    own_department: Option<Uuid>,
    file_codes: &HashSet<String>,
    seen: &mut HashSet<String>,
    lookups: &mut Lookups,
) -> ApiResult<Result<Planned, FieldErrors>> {
    let mut errors = FieldErrors::new();
    let own_code = row.get("code").map(str::to_uppercase);
    let mut input = CourseIn {
        code: text(row, "code"),
        name: text(row, "name"),
        description: text(row, "description"),
        credit_hours: integer(row, "credit_hours", &mut errors),
        theory_sessions_per_week: integer(row, "theory_sessions_per_week", &mut errors),
        practical_sessions_per_week: integer(row, "practical_sessions_per_week", &mut errors),
        session_duration_minutes: integer(row, "session_duration_minutes", &mut errors),
        ..CourseIn::default()
    };
    let department = match row.get("department_code") {
        Some(code) => match lookups.department(db, code).await? {
            Some(d) if own_department.is_some_and(|own| own != d.id) => {
                errors.add(
                    "department_code",
                    "You may only add courses to your own department.",
                );
                None
            }
            Some(d) => Some(d.id),
            None => {
                errors.add(
                    "department_code",
                    format!("No department has the code \"{code}\"."),
                );
                None
            }
        },
        None => own_department,
    };
    input.department = department.map_or(Field::Absent, |id| Field::Value(id.to_string()));
    let mut in_file = Vec::new();
    let mut stored = Vec::new();
    for code in row.get("prerequisites").map(codes).unwrap_or_default() {
        if own_code.as_deref() == Some(code.as_str()) {
            errors.add("prerequisites", courses::SELF_PREREQUISITE);
        } else if file_codes.contains(&code) {
            in_file.push(code);
        } else if let Some(id) = lookups.course(db, &code).await? {
            stored.push(id.to_string());
        } else {
            errors.add(
                "prerequisites",
                format!("No course or row of this file has the code \"{code}\"."),
            );
        }
    }
    input.prerequisites = Field::Value(stored);
    let topics = row
        .get("topics")
        .map(|raw| topics(raw, &mut errors))
        .unwrap_or_default();
    let valid = match courses::validate(db, input, None, false).await {
        Ok(v) => Some(v),
        Err(ApiError::Validation(e)) => {
            merge(&mut errors, &e);
            None
        }
        Err(e) => return Err(e),
    };
    if let Some(code) = &own_code
        && !seen.insert(code.clone())
        && !errors.has("code")
    {
        errors.add("code", "This code appears more than once in the file.");
    }
    Ok(match valid {
        Some(valid) if errors.is_empty() => Ok(Planned {
            number: row.number,
            code: valid.code.clone().unwrap_or_default(),
            valid,
            in_file,
            topics,
        }),
        _ => Err(errors),
    })
}

/// The rows in an order that puts every in-file prerequisite before the
/// courses needing it, and the rows whose in-file prerequisites lead back
/// to them (`Circular prerequisite: A → B → A.` on `prerequisites`).
fn order(planned: &[Planned]) -> (Vec<usize>, Vec<(usize, FieldErrors)>) {
    let index: HashMap<&str, usize> = planned
        .iter()
        .enumerate()
        .map(|(i, p)| (p.code.as_str(), i))
        .collect();
    let needs: Vec<Vec<usize>> = planned
        .iter()
        .map(|p| {
            p.in_file
                .iter()
                .filter_map(|c| index.get(c.as_str()).copied())
                .collect()
        })
        .collect();
    let mut waiting: Vec<usize> = needs.iter().map(Vec::len).collect();
    let mut needed_by: Vec<Vec<usize>> = vec![Vec::new(); planned.len()];
    for (i, list) in needs.iter().enumerate() {
        for &n in list {
            needed_by[n].push(i);
        }
    }
    let mut ready: std::collections::VecDeque<usize> =
        (0..planned.len()).filter(|&i| waiting[i] == 0).collect();
    let mut sorted = Vec::with_capacity(planned.len());
    while let Some(i) = ready.pop_front() {
        sorted.push(i);
        for &next in &needed_by[i] {
            waiting[next] -= 1;
            if waiting[next] == 0 {
                ready.push_back(next);
            }
        }
    }
    let mut bad = Vec::new();
    if sorted.len() < planned.len() {
        for (i, p) in planned.iter().enumerate() {
            if waiting[i] == 0 {
                continue;
            }
            // Left over: on a cycle, or after one; report the cycles.
            if let Some(path) = needs[i].iter().find_map(|&n| path_to(&needs, n, i)) {
                let mut names = vec![p.code.clone()];
                names.extend(path.iter().map(|&step| planned[step].code.clone()));
                bad.push((
                    p.number,
                    FieldErrors::single(
                        "prerequisites",
                        format!("Circular prerequisite: {}.", names.join(" \u{2192} ")),
                    ),
                ));
            }
        }
    }
    (sorted, bad)
}

/// A path `from` → … → `to` along `needs` (both ends included).
fn path_to(needs: &[Vec<usize>], from: usize, to: usize) -> Option<Vec<usize>> {
    let mut stack = vec![vec![from]];
    let mut seen = HashSet::new();
    while let Some(path) = stack.pop() {
        let last = *path.last()?;
        if last == to {
            return Some(path);
        }
        if !seen.insert(last) {
            continue;
        }
        for &next in needs.get(last).into_iter().flatten() {
            let mut longer = path.clone();
            longer.push(next);
            stack.push(longer);
        }
    }
    None
}

/// Adds a new course's topics, numbered 1…n, each with its audit row.
async fn add_topics(
    txn: &impl ConnectionTrait,
    actor: &kernel::audit::Actor,
    course: Uuid,
    topics: &[(String, i32)],
) -> ApiResult<()> {
    let now = kernel::time::now();
    for (position, (title, minutes)) in (1..).zip(topics) {
        let created = topic::ActiveModel {
            id: Set(Uuid::new_v4()),
            course_id: Set(course),
            title: Set(title.clone()),
            description: Set(None),
            position: Set(position),
            duration_minutes: Set(*minutes),
            created_at: Set(now),
        }
        .insert(txn)
        .await?;
        let snapshot = json!({"course": course, "title": created.title, "description": null,
                              "order": position, "duration_minutes": minutes});
        let entry = Entry::new(actor, Action::CREATE, "topic", created.id);
        Log::write(txn, entry.changes(kernel::audit::created(&snapshot))).await?;
    }
    Ok(())
}

/// Import courses, with prerequisites and topics, from an `.xlsx` or UTF-8
/// `.csv` file (admin, dp; a HOD for their own department): all or
/// nothing, with a report per row; `?dry_run=true` validates only.
#[utoipa::path(post, path = "/api/courses/bulk-upload/", tag = "courses", security(("jwt" = [])),
    params(UploadQuery),
    request_body(content_type = "multipart/form-data", content = crate::sheets::SheetUpload),
    responses((status = 201, description = "`{created, rows: [{row, code, status: \"created\", id}]}`"),
        (status = 200, description = "Dry run: `{created: 0, dry_run: true, valid, rows: [{row, code, status: \"valid\"}]}`"),
        (status = 400, description = "A bad file (`{\"file\": [...]}`), or `{detail, rows: [{row, code, status: \"error\", errors}]}`"),
        (status = 401), (status = 403)))]
async fn upload(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    Query(query): Query<UploadQuery>,
    body: FormBody,
) -> ApiResult<Response> {
    let own_department = uploader(&db, &me).await?;
    let dry_run = query.dry_run()?;
    let table = sheets::read_upload(body.files.get(sheets::FILE_FIELD))?;
    table.require(&["code", "name", "department_code"])?;
    let file_codes: HashSet<String> = table
        .rows
        .iter()
        .filter_map(|r| r.get("code").map(str::to_uppercase))
        .collect();
    let mut seen = HashSet::new();
    let mut lookups = Lookups::default();
    let mut planned = Vec::new();
    let mut bad = Vec::new();
    for row in &table.rows {
        match check_row(
            &db,
            row,
            own_department,
            &file_codes,
            &mut seen,
            &mut lookups,
        )
        .await?
        {
            Ok(p) => planned.push(p),
            Err(errors) => bad.push((row.number, errors)),
        }
    }
    let (sorted, cycles) = order(&planned);
    bad.extend(cycles);
    if !bad.is_empty() {
        return Err(REPORT.errors(&table, bad));
    }
    if dry_run {
        return Ok(REPORT.valid(planned.iter().map(|p| (p.number, p.code.clone()))));
    }
    let mut planned: Vec<Option<Planned>> = planned.into_iter().map(Some).collect();
    let mut created: HashMap<String, course::Model> = HashMap::new();
    let mut rows = Vec::with_capacity(planned.len());
    let txn = kernel::db::begin_write(&db).await?;
    for i in sorted {
        let Some(p) = planned.get_mut(i).and_then(Option::take) else {
            continue;
        };
        let mut valid = p.valid;
        let mut prerequisites = valid.prerequisites.take().unwrap_or_default();
        prerequisites.extend(p.in_file.iter().filter_map(|c| created.get(c).cloned()));
        valid.prerequisites = Some(prerequisites);
        let course = courses::insert(&txn, &actor, valid)
            .await
            .map_err(|e| match e {
                // A race with another writer: report it on its row.
                ApiError::Validation(errors) => REPORT.errors(&table, vec![(p.number, errors)]),
                other => other,
            })?;
        add_topics(&txn, &actor, course.id, &p.topics).await?;
        rows.push((p.number, course.code.clone(), course.id));
        created.insert(p.code, course);
    }
    rows.sort_by_key(|(number, _, _)| *number);
    let ids: Vec<Uuid> = rows.iter().map(|(_, _, id)| *id).collect();
    let entry = Entry::new(&actor, Action("bulk_create"), "course", "bulk");
    Log::write(&txn, entry.changes(json!({"created": ids}))).await?;
    txn.commit().await?;
    Ok(REPORT.created(rows))
}
