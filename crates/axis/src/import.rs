//! `campus import-django axis`: the AXIS EAP original's database into campus.
//!
//! Ids are kept: the original's 24-character cuid2 ids become campus ids as
//! they are (campus makes 25-character CUIDs and accepts both in paths and
//! `X-Client-ID`), so links, bookmarks and a second run line up. Soft-deleted
//! rows (`deleted_at`) stay soft-deleted, with their tombstone set so their
//! unique values stay free, as campus deletes. What the original allowed and
//! campus does not is reported row by row, and rows that hang off a reported
//! row are reported too, naming it.
//!
//! Mapping of the original's shapes:
//! - `users` → users (`last_login_at`, else AbstractUser's `last_login`; a
//!   NULL password, an OAuth-only account, becomes an unusable one; e-mails
//!   that differ only in letter case are reported: the older is kept);
//!   `accounts` → Microsoft links (provider and account id; the original's
//!   OAuth tokens are not kept: campus asks Entra ID anew at sign-in);
//! - `roles`, `permissions` and `role_permissions` are matched by name with
//!   the ones campus seeds (`admin`, `manager`, …, `manage_documents`), the
//!   others come over with their ids; `user_roles` follow;
//! - `profiles` with a user → profiles; every `persons` row takes its
//!   profile's name, e-mail, phone, birth date, gender, address and
//!   emergency contact (its own emergency contact first); a platform staff
//!   member's organisation (a client in the original) is that client's name;
//! - `industries`, `clients` (with `clients_tags` as tag links, whose ids
//!   campus makes), `client_tags`, `client_contacts`, `client_activities`,
//!   `user_clients`;
//! - `contracts`: the amount keeps its cents (`billing_rate` →
//!   `billing_amount`), `payment_frequency` is kept as written (empty when
//!   the original has none: it drives no billing date), `is_auto_renew` →
//!   `auto_renew`; the title and number the original never had are campus's
//!   defaults (`<client> contract`, `CTR-<first 8 of the id>`);
//! - service categories, providers (rating in hundredths), services,
//!   assignments, sessions and session feedback; KPI types, KPIs and KPI
//!   assignments;
//! - `documents`, their files copied from `--media-root` (the original's
//!   path's last part is the download's file name);
//! - `audit_logs` (`timestamp` → `created_at`, secrets in `data` redacted as
//!   campus redacts its own), `entity_changes` (the author's e-mail looked
//!   up) and `field_changes`.
//!
//! Not imported: the original's `sessions` (sign-in sessions: users sign in
//! again) and Django's own tables (`auth_*`, `django_*`: campus's roles and
//! permissions are the app's). Person columns campus has no field for
//! (`currency`, insurance, education and certification lists, years of
//! experience, the secondary person type of a dual role) are left behind.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use kernel::import::{Import, Options, Report, Row, failed, parse_money, parse_time};
use kernel::money::Money;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};

use crate::entities::{
    account, activity, audit_log, client, contact, contract, document, entity_change, field_change,
    industry, kpi, kpi_assignment, kpi_type, permission, person, profile, role, role_permission,
    service, service_assignment, service_category, service_provider, service_session,
    session_feedback, tag, tag_link, user, user_client, user_role,
};
use crate::rest::Choices;
use crate::services::{assignments, catalog, providers, sessions};
use crate::state::AppState;

/// Imports the original's database named by `options` in one transaction.
pub async fn run(state: &AppState, options: &Options) -> Result<Report, String> {
    let mut import = Import::begin(crate::NAME, &state.kernel, options).await?;
    let original = Original::read(&import).await?;
    let mut kept = Kept::default();
    users(&mut import, &original, &mut kept).await?;
    roles(&mut import, &original, &mut kept).await?;
    industries(&mut import, &original, &mut kept).await?;
    clients(&mut import, &original, &mut kept).await?;
    contracts(&mut import, &original, &mut kept).await?;
    persons(&mut import, &original, &mut kept).await?;
    services(&mut import, &original, &mut kept).await?;
    kpis(&mut import, &original, &kept).await?;
    documents(&mut import, &original, &kept).await?;
    trail(&mut import, &original, &kept).await?;
    record_import(&import).await?;
    import.finish().await
}

/// The original's rows, read before anything is written.
struct Original {
    users: Vec<Row>,
    accounts: Vec<Row>,
    roles: Vec<Row>,
    permissions: Vec<Row>,
    role_permissions: Vec<Row>,
    user_roles: Vec<Row>,
    profiles: Vec<Row>,
    industries: Vec<Row>,
    clients: Vec<Row>,
    tags: Vec<Row>,
    client_tags: Vec<Row>,
    user_clients: Vec<Row>,
    contacts: Vec<Row>,
    activities: Vec<Row>,
    contracts: Vec<Row>,
    persons: Vec<Row>,
    categories: Vec<Row>,
    providers: Vec<Row>,
    services: Vec<Row>,
    assignments: Vec<Row>,
    sessions: Vec<Row>,
    feedback: Vec<Row>,
    kpi_types: Vec<Row>,
    kpis: Vec<Row>,
    kpi_assignments: Vec<Row>,
    documents: Vec<Row>,
    audit_logs: Vec<Row>,
    entity_changes: Vec<Row>,
    field_changes: Vec<Row>,
}

/// `id, created_at, updated_at, deleted_at` and `more`.
fn base(more: &[&'static str]) -> Vec<&'static str> {
    ["id", "created_at", "updated_at", "deleted_at"]
        .into_iter()
        .chain(more.iter().copied())
        .collect()
}

impl Original {
    async fn read(import: &Import) -> Result<Self, String> {
        let s = &import.source;
        Ok(Self {
            users: s
                .rows(
                    "users",
                    &base(&[
                        "email",
                        "username",
                        "password",
                        "first_name",
                        "last_name",
                        "is_staff",
                        "is_active",
                        "is_superuser",
                        "date_joined",
                        "last_login",
                        "last_login_at",
                        "email_verified",
                        "preferred_language",
                        "timezone",
                        "status",
                        "metadata",
                    ]),
                )
                .await?,
            accounts: s
                .rows_if_any(
                    "accounts",
                    &base(&["user_id", "provider", "provider_account_id"]),
                )
                .await?,
            roles: s.rows("roles", &base(&["name", "description"])).await?,
            permissions: s
                .rows("permissions", &base(&["name", "description"]))
                .await?,
            role_permissions: s
                .rows("role_permissions", &base(&["role_id", "permission_id"]))
                .await?,
            user_roles: s.rows("user_roles", &base(&["user_id", "role_id"])).await?,
            profiles: s
                .rows(
                    "profiles",
                    &base(&[
                        "user_id",
                        "full_name",
                        "dob",
                        "gender",
                        "phone",
                        "email",
                        "address",
                        "emergency_contact_name",
                        "emergency_contact_phone",
                        "emergency_contact_email",
                        "image",
                    ]),
                )
                .await?,
            industries: s
                .rows(
                    "industries",
                    &base(&[
                        "name",
                        "code",
                        "description",
                        "external_id",
                        "metadata",
                        "parent_id",
                    ]),
                )
                .await?,
            clients: s
                .rows(
                    "clients",
                    &base(&[
                        "name",
                        "email",
                        "phone",
                        "website",
                        "address",
                        "billing_address",
                        "timezone",
                        "tax_id",
                        "contact_person",
                        "contact_email",
                        "contact_phone",
                        "status",
                        "preferred_contact_method",
                        "is_verified",
                        "notes",
                        "metadata",
                        "industry_id",
                        "last_contact_date",
                        "parent_client_id",
                    ]),
                )
                .await?,
            tags: s
                .rows(
                    "client_tags",
                    &base(&["name", "slug", "color", "description", "is_system"]),
                )
                .await?,
            client_tags: s
                .rows("clients_tags", &["id", "client_id", "clienttag_id"])
                .await?,
            user_clients: s
                .rows(
                    "user_clients",
                    &base(&[
                        "granted_at",
                        "notes",
                        "client_id",
                        "granted_by_id",
                        "user_id",
                    ]),
                )
                .await?,
            contacts: s
                .rows(
                    "client_contacts",
                    &base(&[
                        "first_name",
                        "last_name",
                        "email",
                        "phone",
                        "mobile",
                        "role",
                        "title",
                        "department",
                        "is_primary",
                        "preferred_contact_method",
                        "is_active",
                        "notes",
                        "metadata",
                        "client_id",
                    ]),
                )
                .await?,
            activities: s
                .rows(
                    "client_activities",
                    &base(&[
                        "activity_type",
                        "title",
                        "description",
                        "activity_date",
                        "metadata",
                        "client_id",
                        "contact_id",
                    ]),
                )
                .await?,
            contracts: s
                .rows(
                    "contracts",
                    &base(&[
                        "start_date",
                        "end_date",
                        "renewal_date",
                        "billing_rate",
                        "currency",
                        "payment_frequency",
                        "payment_terms",
                        "payment_status",
                        "last_billing_date",
                        "next_billing_date",
                        "is_renewable",
                        "is_auto_renew",
                        "document_url",
                        "signed_by",
                        "signed_at",
                        "status",
                        "termination_reason",
                        "notes",
                        "client_id",
                    ]),
                )
                .await?,
            persons: s
                .rows(
                    "persons",
                    &base(&[
                        "person_type",
                        "status",
                        "user_id",
                        "profile_id",
                        "client_id",
                        "employee_role",
                        "employee_department",
                        "employee_id_number",
                        "employment_start_date",
                        "employment_end_date",
                        "employment_status",
                        "primary_employee_id",
                        "relationship_to_employee",
                        "is_employee_dependent",
                        "guardian_id",
                        "staff_organization_id",
                        "staff_role",
                        "staff_department",
                        "can_manage_clients",
                        "can_manage_services",
                        "can_view_reports",
                        "provider_type",
                        "license_number",
                        "license_expiry",
                        "specializations",
                        "languages_spoken",
                        "hourly_rate",
                        "bio",
                        "is_accepting_new_clients",
                        "max_clients",
                        "is_dual_role",
                        "last_service_date",
                        "emergency_contact_name",
                        "emergency_contact_phone",
                        "emergency_contact_email",
                        "notes",
                        "metadata",
                    ]),
                )
                .await?,
            categories: s
                .rows(
                    "service_categories",
                    &base(&["name", "description", "metadata"]),
                )
                .await?,
            providers: s
                .rows(
                    "service_providers",
                    &base(&[
                        "name",
                        "type",
                        "contact_email",
                        "contact_phone",
                        "location",
                        "qualifications",
                        "specializations",
                        "availability",
                        "rating",
                        "is_verified",
                        "status",
                        "metadata",
                    ]),
                )
                .await?,
            services: s
                .rows(
                    "services",
                    &base(&[
                        "name",
                        "description",
                        "status",
                        "duration",
                        "capacity",
                        "prerequisites",
                        "is_public",
                        "price",
                        "metadata",
                        "category_id",
                        "service_provider_id",
                    ]),
                )
                .await?,
            assignments: s
                .rows(
                    "service_assignments",
                    &base(&[
                        "status",
                        "start_date",
                        "end_date",
                        "frequency",
                        "metadata",
                        "client_id",
                        "contract_id",
                        "service_id",
                    ]),
                )
                .await?,
            sessions: s
                .rows(
                    "service_sessions",
                    &base(&[
                        "scheduled_at",
                        "completed_at",
                        "status",
                        "notes",
                        "feedback",
                        "duration",
                        "location",
                        "cancellation_reason",
                        "reschedule_count",
                        "is_group_session",
                        "metadata",
                        "person_id",
                        "provider_id",
                        "service_id",
                    ]),
                )
                .await?,
            feedback: s
                .rows(
                    "session_feedback",
                    &base(&["rating", "comment", "metadata", "session_id"]),
                )
                .await?,
            kpi_types: s
                .rows(
                    "kpi_types",
                    &base(&["name", "description", "weight", "metadata"]),
                )
                .await?,
            kpis: s
                .rows(
                    "kpis",
                    &base(&[
                        "name",
                        "description",
                        "unit",
                        "unit_type",
                        "target_value",
                        "calculation_method",
                        "frequency",
                        "is_public",
                        "metadata",
                        "client_id",
                        "contract_id",
                        "type_id",
                    ]),
                )
                .await?,
            kpi_assignments: s
                .rows(
                    "kpi_assignments",
                    &base(&[
                        "target_value",
                        "frequency",
                        "status",
                        "start_date",
                        "end_date",
                        "notes",
                        "metadata",
                        "client_id",
                        "contract_id",
                        "kpi_id",
                    ]),
                )
                .await?,
            documents: s
                .rows(
                    "documents",
                    &base(&[
                        "title",
                        "description",
                        "type",
                        "file_size",
                        "file_type",
                        "version",
                        "is_latest",
                        "status",
                        "expiry_date",
                        "is_confidential",
                        "tags",
                        "metadata",
                        "client_id",
                        "contract_id",
                        "uploaded_by_id",
                        "file",
                        "url",
                        "previous_version_id",
                    ]),
                )
                .await?,
            audit_logs: s
                .rows(
                    "audit_logs",
                    &[
                        "id",
                        "action",
                        "entity_type",
                        "entity_id",
                        "data",
                        "ip_address",
                        "user_agent",
                        "timestamp",
                        "user_id",
                    ],
                )
                .await?,
            entity_changes: s
                .rows(
                    "entity_changes",
                    &base(&[
                        "entity_type",
                        "entity_id",
                        "change_type",
                        "changed_at",
                        "changed_by",
                        "change_reason",
                        "old_data",
                        "new_data",
                        "metadata",
                        "is_active",
                    ]),
                )
                .await?,
            field_changes: s
                .rows(
                    "field_changes",
                    &base(&[
                        "field_name",
                        "old_value",
                        "new_value",
                        "change_type",
                        "entity_change_id",
                    ]),
                )
                .await?,
        })
    }
}

/// The ids of the rows imported so far, to link (or report) what refers to them.
#[derive(Default)]
struct Kept {
    users: HashSet<String>,
    /// The original's role and permission ids → campus's (matched by name).
    roles: HashMap<String, String>,
    industries: HashSet<String>,
    clients: HashSet<String>,
    contacts: HashSet<String>,
    contracts: HashSet<String>,
    persons: HashSet<String>,
    categories: HashSet<String>,
    providers: HashSet<String>,
    services: HashSet<String>,
    sessions: HashSet<String>,
}

/// `id` when that row was imported, else why this row is not.
fn need(id: &str, kept: &HashSet<String>, what: &str) -> Result<String, String> {
    if kept.contains(id) {
        Ok(id.to_owned())
    } else {
        Err(format!("its {what} {id} was not imported"))
    }
}

/// The row `column` names, when it has one (see [`need`]).
fn need_opt(
    row: &Row,
    column: &str,
    kept: &HashSet<String>,
    what: &str,
) -> Result<Option<String>, String> {
    row.opt_text(column)
        .map(|id| need(&id, kept, what))
        .transpose()
}

/// The row `column` names when it was imported, else none: for the links the
/// original itself empties when their row goes (`on_delete=SET_NULL`).
fn link(row: &Row, column: &str, kept: &HashSet<String>) -> Option<String> {
    row.opt_text(column).filter(|id| kept.contains(id))
}

/// Campus's tombstone: empty while the row lives, its id once deleted.
fn tombstone(deleted_at: Option<DateTime<Utc>>, id: &str) -> String {
    if deleted_at.is_some() {
        id.to_owned()
    } else {
        String::new()
    }
}

/// A JSON column, `{}` when NULL (campus's metadata is never null).
fn object(row: &Row, column: &str) -> Result<Value, String> {
    Ok(match row.json(column)? {
        Value::Null => json!({}),
        value => value,
    })
}

/// A JSON column that may be NULL.
fn opt_json(row: &Row, column: &str) -> Result<Option<Value>, String> {
    Ok(Some(row.json(column)?).filter(|v| !v.is_null()))
}

/// A required choice, in campus's spelling.
fn choice(row: &Row, column: &str, choices: Choices) -> Result<String, String> {
    let raw = row.text(column)?;
    choices.parse(raw).map(str::to_owned).ok_or_else(|| {
        format!(
            "{column} {raw:?} is not one of campus's ({})",
            choices.0.join(", ")
        )
    })
}

/// An optional choice (blank is none).
fn opt_choice(row: &Row, column: &str, choices: Choices) -> Result<Option<String>, String> {
    match row.opt_text(column) {
        None => Ok(None),
        Some(_) => choice(row, column, choices).map(Some),
    }
}

/// An optional amount, in cents.
fn opt_money(row: &Row, column: &str) -> Result<Option<i64>, String> {
    row.get(column)
        .map(|v| {
            parse_money(v)
                .map(Money::cents)
                .ok_or_else(|| format!("{column} is not an amount"))
        })
        .transpose()
}

fn opt_i32(row: &Row, column: &str) -> Result<Option<i32>, String> {
    row.opt_int(column)?
        .map(|v| i32::try_from(v).map_err(|_| format!("{column} {v} is out of range")))
        .transpose()
}

/// An optional e-mail address, as campus normalises it.
fn opt_email(row: &Row, column: &str) -> Result<Option<String>, String> {
    row.opt_text(column)
        .map(|e| {
            kernel::form::normalize_email(e.trim())
                .ok_or_else(|| format!("{column} {e:?} is not a valid e-mail address"))
        })
        .transpose()
}

/// A text no longer than campus keeps.
fn limit(value: Option<String>, column: &str, chars: usize) -> Result<Option<String>, String> {
    match value {
        Some(v) if v.chars().count() > chars => Err(format!(
            "{column} is longer than campus's {chars} characters"
        )),
        other => Ok(other),
    }
}

/// Of the live rows whose `key` is the same ignoring letter case (campus's
/// unique values are, on MariaDB, and its sign-in is), the oldest: key
/// (lower-cased) → the id kept.
fn firsts(rows: &[Row], key: impl Fn(&Row) -> Option<String>) -> HashMap<String, String> {
    let mut best: HashMap<String, (Option<DateTime<Utc>>, String)> = HashMap::new();
    for row in rows {
        if row.get("deleted_at").is_some() {
            continue;
        }
        let Some(value) = key(row).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let rank = (
            row.get("created_at").and_then(parse_time),
            row.key().to_owned(),
        );
        let entry = best
            .entry(value.trim().to_lowercase())
            .or_insert(rank.clone());
        if rank < *entry {
            *entry = rank;
        }
    }
    best.into_iter().map(|(k, (_, id))| (k, id)).collect()
}

/// Whether the live row `id` may keep `value` (see [`firsts`]).
fn distinct(
    firsts: &HashMap<String, String>,
    value: &str,
    id: &str,
    what: &str,
    deleted: bool,
) -> Result<(), String> {
    match firsts.get(&value.trim().to_lowercase()) {
        Some(kept) if kept != id && !deleted => Err(format!(
            "{what} {value:?} is also that of {kept}, ignoring letter case (campus keeps it unique); {kept} is imported"
        )),
        _ => Ok(()),
    }
}

/// `rows` with each row after the row its `parent` column names.
fn parents_first(rows: &[Row], parent: &str) -> Vec<Row> {
    let ids: HashSet<&str> = rows.iter().map(Row::key).collect();
    let mut placed: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(rows.len());
    let mut left: Vec<&Row> = rows.iter().collect();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|row| {
            let ready = match row.get(parent) {
                Some(p) if ids.contains(p) && p != row.key() => placed.contains(p),
                _ => true,
            };
            if ready {
                placed.insert(row.key().to_owned());
                out.push((*row).clone());
            }
            !ready
        });
        if left.len() == before {
            // A cycle: these are reported for their parent.
            out.extend(left.drain(..).cloned());
        }
    }
    out
}

fn ids<M>(models: Vec<M>, id: impl Fn(M) -> String) -> HashSet<String> {
    models.into_iter().map(id).collect()
}

async fn users(import: &mut Import, o: &Original, kept: &mut Kept) -> Result<(), String> {
    let emails = firsts(&o.users, |r| r.get("email").map(str::to_owned));
    // Once in campus, an account's password (re-hashed on sign-in or
    // changed), token epoch and last sign-in are campus's.
    let keep = |held: &user::Model, fresh: &mut user::Model| {
        fresh.password.clone_from(&held.password);
        fresh.token_epoch = held.token_epoch;
        fresh.last_login_at = held.last_login_at.or(fresh.last_login_at);
    };
    let written = import
        .write_keeping::<user::ActiveModel>(
            "users",
            &o.users,
            |row| {
                let id = row.text("id")?.to_owned();
                let email = row.text("email")?;
                let normalized = kernel::form::normalize_email(email.trim())
                    .ok_or_else(|| format!("{email} is not a valid e-mail address"))?;
                let deleted_at = row.opt_time("deleted_at")?;
                distinct(&emails, email, &id, "e-mail", deleted_at.is_some())?;
                Ok(user::Model {
                    email: normalized,
                    username: limit(row.opt_text("username"), "username", 150)?,
                    // NULL for an account that only signs in with Microsoft.
                    password: row
                        .opt_text("password")
                        .unwrap_or_else(kernel::password::unusable),
                    first_name: row.get("first_name").unwrap_or_default().to_owned(),
                    last_name: row.get("last_name").unwrap_or_default().to_owned(),
                    status: choice(row, "status", crate::users::STATUSES)?,
                    is_active: row.flag("is_active")?,
                    is_staff: row.flag("is_staff")?,
                    is_superuser: row.flag("is_superuser")?,
                    email_verified: row.opt_time("email_verified")?,
                    last_login_at: match row.opt_time("last_login_at")? {
                        Some(at) => Some(at),
                        None => row.opt_time("last_login")?,
                    },
                    preferred_language: opt_choice(
                        row,
                        "preferred_language",
                        crate::users::LANGUAGES,
                    )?,
                    timezone: limit(row.opt_text("timezone"), "timezone", 64)?,
                    metadata: object(row, "metadata")?,
                    token_epoch: 0,
                    created_at: row.time("created_at")?,
                    updated_at: row.time("updated_at")?,
                    deleted_at,
                    tombstone: tombstone(deleted_at, &id),
                    id,
                })
            },
            keep,
        )
        .await?;
    kept.users = ids(written, |m| m.id);
    let users = &kept.users;
    import
        .write::<account::ActiveModel>("accounts", &o.accounts, |row| {
            if row.get("deleted_at").is_some() {
                return Err(
                    "deleted in the original: campus keeps no deleted sign-in links".into(),
                );
            }
            Ok(account::Model {
                id: row.text("id")?.to_owned(),
                user_id: need(row.text("user_id")?, users, "user")?,
                provider: row.text("provider")?.trim().to_ascii_lowercase(),
                provider_account_id: row.text("provider_account_id")?.to_owned(),
                tenant_id: None,
                created_at: row.time("created_at")?,
            })
        })
        .await?;
    Ok(())
}

/// Roles and permissions (matched by name with campus's), their links and
/// users' roles.
async fn roles(import: &mut Import, o: &Original, kept: &mut Kept) -> Result<(), String> {
    let txn = &*import.txn;
    let held_roles: HashMap<String, String> = role::Entity::find()
        .all(txn)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|r| (r.name, r.id))
        .collect();
    let held_permissions: HashMap<String, String> = permission::Entity::find()
        .all(txn)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|p| (p.name, p.id))
        .collect();
    let held_links: HashMap<(String, String), String> = role_permission::Entity::find()
        .all(txn)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|l| ((l.role_id, l.permission_id), l.id))
        .collect();
    let campus_id = |row: &Row, held: &HashMap<String, String>| -> Result<String, String> {
        let name = row.text("name")?.trim();
        Ok(held
            .get(name)
            .cloned()
            .unwrap_or_else(|| row.key().to_owned()))
    };
    let mut role_ids = HashMap::new();
    let written = import
        .write::<role::ActiveModel>("roles", &o.roles, |row| {
            let id = campus_id(row, &held_roles)?;
            role_ids.insert(row.key().to_owned(), id.clone());
            Ok(role::Model {
                id,
                name: limit(Some(row.text("name")?.trim().to_owned()), "name", 100)?
                    .unwrap_or_default(),
                description: limit(row.opt_text("description"), "description", 255)?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at: row.opt_time("deleted_at")?,
            })
        })
        .await?;
    let roles = ids(written, |m| m.id);
    role_ids.retain(|_, id| roles.contains(id));
    let mut permission_ids = HashMap::new();
    let written = import
        .write::<permission::ActiveModel>("permissions", &o.permissions, |row| {
            let id = campus_id(row, &held_permissions)?;
            permission_ids.insert(row.key().to_owned(), id.clone());
            Ok(permission::Model {
                id,
                name: limit(Some(row.text("name")?.trim().to_owned()), "name", 100)?
                    .unwrap_or_default(),
                description: limit(row.opt_text("description"), "description", 255)?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at: row.opt_time("deleted_at")?,
            })
        })
        .await?;
    let permissions = ids(written, |m| m.id);
    permission_ids.retain(|_, id| permissions.contains(id));
    let mapped = |map: &HashMap<String, String>, row: &Row, column: &str, what: &str| {
        let id = row.text(column)?;
        map.get(id)
            .cloned()
            .ok_or_else(|| format!("its {what} {id} was not imported"))
    };
    let revoked = "revoked in the original (deleted_at): campus keeps no revoked grants";
    import
        .write::<role_permission::ActiveModel>("role permissions", &o.role_permissions, |row| {
            if row.get("deleted_at").is_some() {
                return Err(revoked.into());
            }
            let role_id = mapped(&role_ids, row, "role_id", "role")?;
            let permission_id = mapped(&permission_ids, row, "permission_id", "permission")?;
            let id = held_links
                .get(&(role_id.clone(), permission_id.clone()))
                .cloned()
                .unwrap_or_else(|| row.key().to_owned());
            Ok(role_permission::Model {
                id,
                role_id,
                permission_id,
            })
        })
        .await?;
    let users = &kept.users;
    import
        .write::<user_role::ActiveModel>("user roles", &o.user_roles, |row| {
            if row.get("deleted_at").is_some() {
                return Err(revoked.into());
            }
            Ok(user_role::Model {
                id: row.text("id")?.to_owned(),
                user_id: need(row.text("user_id")?, users, "user")?,
                role_id: mapped(&role_ids, row, "role_id", "role")?,
                created_at: row.time("created_at")?,
            })
        })
        .await?;
    kept.roles = role_ids;
    Ok(())
}

async fn industries(import: &mut Import, o: &Original, kept: &mut Kept) -> Result<(), String> {
    let names = firsts(&o.industries, |r| r.get("name").map(str::to_owned));
    let codes = firsts(&o.industries, |r| r.get("code").map(str::to_owned));
    let external = firsts(&o.industries, |r| r.get("external_id").map(str::to_owned));
    let rows = parents_first(&o.industries, "parent_id");
    let mut done = HashSet::new();
    import
        .write::<industry::ActiveModel>("industries", &rows, |row| {
            let id = row.text("id")?.to_owned();
            let deleted_at = row.opt_time("deleted_at")?;
            let deleted = deleted_at.is_some();
            let name = row.text("name")?.trim().to_owned();
            distinct(&names, &name, &id, "name", deleted)?;
            let code = row.opt_text("code");
            if let Some(code) = &code {
                distinct(&codes, code, &id, "code", deleted)?;
            }
            let external_id = limit(row.opt_text("external_id"), "external_id", 100)?;
            if let Some(ext) = &external_id {
                distinct(&external, ext, &id, "external id", deleted)?;
            }
            let parent_id = need_opt(row, "parent_id", &done, "parent industry")?;
            done.insert(id.clone());
            Ok(industry::Model {
                name_key: name.to_lowercase(),
                name: limit(Some(name), "name", 100)?.unwrap_or_default(),
                code: limit(code, "code", 50)?,
                description: row.opt_text("description"),
                parent_id,
                external_id,
                metadata: object(row, "metadata")?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at,
                tombstone: tombstone(deleted_at, &id),
                id,
            })
        })
        .await?;
    kept.industries = done;
    Ok(())
}

/// Clients, tags and tag links, users' client access, contacts, activities.
async fn clients(import: &mut Import, o: &Original, kept: &mut Kept) -> Result<(), String> {
    let emails = firsts(&o.clients, |r| r.get("email").map(str::to_owned));
    let rows = parents_first(&o.clients, "parent_client_id");
    let industries = &kept.industries;
    let mut done = HashSet::new();
    import
        .write::<client::ActiveModel>("clients", &rows, |row| {
            let id = row.text("id")?.to_owned();
            let deleted_at = row.opt_time("deleted_at")?;
            let email = opt_email(row, "email")?;
            if let Some(email) = row.opt_text("email") {
                distinct(&emails, &email, &id, "e-mail", deleted_at.is_some())?;
            }
            let status = choice(row, "status", crate::clients::STATUSES)?;
            let (phone, contact_email, contact_phone) = (
                limit(row.opt_text("phone"), "phone", 30)?,
                opt_email(row, "contact_email")?,
                limit(row.opt_text("contact_phone"), "contact_phone", 30)?,
            );
            if status == "Active"
                && email.is_none()
                && phone.is_none()
                && contact_email.is_none()
                && contact_phone.is_none()
            {
                return Err(
                    "Active with no e-mail or phone (campus: active clients must have at least one contact method)"
                        .into(),
                );
            }
            let parent_client_id = need_opt(row, "parent_client_id", &done, "parent client")?;
            let industry_id = need_opt(row, "industry_id", industries, "industry")?;
            done.insert(id.clone());
            Ok(client::Model {
                name: row.text("name")?.trim().to_owned(),
                email,
                phone,
                website: limit(row.opt_text("website"), "website", 500)?,
                address: row.opt_text("address"),
                billing_address: row.opt_text("billing_address"),
                tax_id: row.opt_text("tax_id"),
                contact_person: row.opt_text("contact_person"),
                contact_email,
                contact_phone,
                preferred_contact_method: opt_choice(
                    row,
                    "preferred_contact_method",
                    crate::clients::CONTACT_METHODS,
                )?,
                industry_id,
                parent_client_id,
                status,
                is_verified: row.flag("is_verified")?,
                timezone: limit(row.opt_text("timezone"), "timezone", 64)?,
                last_contact_date: row.opt_time("last_contact_date")?,
                notes: row.opt_text("notes"),
                metadata: object(row, "metadata")?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at,
                tombstone: tombstone(deleted_at, &id),
                id,
            })
        })
        .await?;
    kept.clients = done;
    let clients = &kept.clients;

    let names = firsts(&o.tags, |r| r.get("name").map(str::to_owned));
    let written = import
        .write::<tag::ActiveModel>("tags", &o.tags, |row| {
            let id = row.text("id")?.to_owned();
            let deleted_at = row.opt_time("deleted_at")?;
            let name = row.text("name")?.trim().to_owned();
            distinct(&names, &name, &id, "name", deleted_at.is_some())?;
            let slug = row.get("slug").unwrap_or_default().to_owned();
            let made = crate::tags::slugify(&name);
            if made.is_empty() || slug != made {
                return Err(format!(
                    "slug {slug:?} is not its name's ({made:?}): campus derives a tag's slug from its name"
                ));
            }
            Ok(tag::Model {
                name,
                slug,
                color: row.text("color")?.to_owned(),
                description: row.opt_text("description"),
                is_system: row.flag("is_system")?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at,
                tombstone: tombstone(deleted_at, &id),
                id,
            })
        })
        .await?;
    let tags = ids(written, |m| m.id);
    // The original's links have integer ids: campus's are CUIDs, kept from
    // the first import by the pair they link.
    let held: HashMap<(String, String), String> = tag_link::Entity::find()
        .all(&*import.txn)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|l| ((l.client_id, l.tag_id), l.id))
        .collect();
    import
        .write::<tag_link::ActiveModel>("tag links", &o.client_tags, |row| {
            let client_id = need(row.text("client_id")?, clients, "client")?;
            let tag_id = need(row.text("clienttag_id")?, &tags, "tag")?;
            let id = held
                .get(&(client_id.clone(), tag_id.clone()))
                .cloned()
                .unwrap_or_else(kernel::cuid::new);
            Ok(tag_link::Model {
                id,
                client_id,
                tag_id,
            })
        })
        .await?;

    let users = &kept.users;
    import
        .write::<user_client::ActiveModel>("client access", &o.user_clients, |row| {
            let id = row.text("id")?.to_owned();
            let deleted_at = row.opt_time("deleted_at")?;
            Ok(user_client::Model {
                user_id: need(row.text("user_id")?, users, "user")?,
                client_id: need(row.text("client_id")?, clients, "client")?,
                granted_at: row.time("granted_at")?,
                granted_by: link(row, "granted_by_id", users),
                notes: row.opt_text("notes"),
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at,
                tombstone: tombstone(deleted_at, &id),
                id,
            })
        })
        .await?;

    let emails = firsts(&o.contacts, |r| {
        Some(format!(
            "{}|{}",
            r.get("client_id").unwrap_or_default(),
            r.get("email")?
        ))
    });
    let written = import
        .write::<contact::ActiveModel>("contacts", &o.contacts, |row| {
            let id = row.text("id")?.to_owned();
            let deleted_at = row.opt_time("deleted_at")?;
            let client_id = need(row.text("client_id")?, clients, "client")?;
            let email = opt_email(row, "email")?;
            if let Some(raw) = row.opt_text("email") {
                distinct(
                    &emails,
                    &format!("{client_id}|{raw}"),
                    &id,
                    "client and e-mail",
                    deleted_at.is_some(),
                )?;
            }
            Ok(contact::Model {
                client_id,
                first_name: row.get("first_name").unwrap_or_default().trim().to_owned(),
                last_name: row.get("last_name").unwrap_or_default().trim().to_owned(),
                email,
                phone: limit(row.opt_text("phone"), "phone", 30)?,
                mobile: limit(row.opt_text("mobile"), "mobile", 30)?,
                role: opt_choice(row, "role", crate::contacts::ROLES)?,
                title: row.opt_text("title"),
                department: row.opt_text("department"),
                is_primary: row.flag("is_primary")?,
                preferred_contact_method: choice(
                    row,
                    "preferred_contact_method",
                    crate::clients::CONTACT_METHODS,
                )?,
                is_active: row.flag("is_active")?,
                notes: row.opt_text("notes"),
                metadata: object(row, "metadata")?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at,
                tombstone: tombstone(deleted_at, &id),
                id,
            })
        })
        .await?;
    kept.contacts = ids(written, |m| m.id);
    let contacts = &kept.contacts;
    import
        .write::<activity::ActiveModel>("activities", &o.activities, |row| {
            Ok(activity::Model {
                id: row.text("id")?.to_owned(),
                client_id: need(row.text("client_id")?, clients, "client")?,
                contact_id: link(row, "contact_id", contacts),
                activity_type: choice(row, "activity_type", crate::activities::TYPES)?,
                title: row.text("title")?.to_owned(),
                description: row.opt_text("description"),
                activity_date: row.time("activity_date")?,
                metadata: object(row, "metadata")?,
                created_by: None,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at: row.opt_time("deleted_at")?,
            })
        })
        .await?;
    Ok(())
}

async fn contracts(import: &mut Import, o: &Original, kept: &mut Kept) -> Result<(), String> {
    let names: HashMap<&str, &str> = o
        .clients
        .iter()
        .filter_map(|r| Some((r.key(), r.get("name")?)))
        .collect();
    let clients = &kept.clients;
    let mut numbers: HashMap<String, String> = HashMap::new();
    let written = import
        .write::<contract::ActiveModel>("contracts", &o.contracts, |row| {
            let id = row.text("id")?.to_owned();
            let client_id = need(row.text("client_id")?, clients, "client")?;
            let (start, end) = (row.date("start_date")?, row.date("end_date")?);
            if end <= start {
                return Err(format!(
                    "end date {end} is not after its start date {start} (campus: end date must be after start date)"
                ));
            }
            let renewal_date = row.opt_date("renewal_date")?;
            if let Some(renewal) = renewal_date
                && (renewal < start || renewal > end)
            {
                return Err(format!(
                    "renewal date {renewal} is outside its period {start} to {end} (campus: renewal date must be within the contract period)"
                ));
            }
            let amount = row.money("billing_rate")?;
            if amount.cents() < 0 {
                return Err("billing rate is negative".into());
            }
            let deleted_at = row.opt_time("deleted_at")?;
            let number = crate::contracts::default_number(&id);
            if deleted_at.is_none()
                && let Some(other) = numbers.insert(number.clone(), id.clone())
            {
                return Err(format!(
                    "its contract number {number} (made of its id) is also contract {other}'s"
                ));
            }
            let frequency = row.opt_text("payment_frequency").map(|f| {
                crate::contracts::FREQUENCIES
                    .parse(&f)
                    .map_or(f, str::to_owned)
            });
            Ok(contract::Model {
                title: format!(
                    "{} contract",
                    names.get(client_id.as_str()).copied().unwrap_or_default()
                ),
                client_id,
                description: None,
                contract_number: number,
                start_date: start,
                end_date: end,
                renewal_date,
                billing_amount: amount.cents(),
                currency: limit(Some(row.text("currency")?.trim().to_owned()), "currency", 10)?
                    .unwrap_or_default(),
                billing_frequency: limit(frequency, "payment_frequency", 50)?.unwrap_or_default(),
                payment_status: choice(row, "payment_status", crate::contracts::PAYMENT_STATUSES)?,
                payment_terms: row.opt_text("payment_terms"),
                last_billing_date: row.opt_date("last_billing_date")?,
                next_billing_date: row.opt_date("next_billing_date")?,
                auto_renew: row.flag("is_auto_renew")?,
                is_renewable: row.flag("is_renewable")?,
                renewal_notice_days: 30,
                document_url: row.opt_text("document_url"),
                signed_by: row.opt_text("signed_by"),
                signed_at: row.opt_time("signed_at")?,
                status: choice(row, "status", crate::contracts::STATUSES)?,
                termination_reason: row.opt_text("termination_reason"),
                notes: row.opt_text("notes"),
                metadata: json!({}),
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at,
                tombstone: tombstone(deleted_at, &id),
                id,
            })
        })
        .await?;
    kept.contracts = ids(written, |m| m.id);
    Ok(())
}

/// A profile's gender, which campus checks.
fn gender(profile: &Row) -> Result<Option<String>, String> {
    opt_choice(profile, "gender", crate::persons::GENDERS)
        .map_err(|e| format!("its profile {}'s {e}", profile.key()))
}

/// Profiles of users, then persons with their profile's details.
async fn persons(import: &mut Import, o: &Original, kept: &mut Kept) -> Result<(), String> {
    let users = &kept.users;
    let of_users: Vec<Row> = o
        .profiles
        .iter()
        .filter(|p| p.get("user_id").is_some())
        .cloned()
        .collect();
    import
        .write::<profile::ActiveModel>("profiles", &of_users, |row| {
            gender(row)?;
            Ok(profile::Model {
                id: row.text("id")?.to_owned(),
                user_id: Some(need(row.text("user_id")?, users, "user")?),
                full_name: row.text("full_name")?.trim().to_owned(),
                email: row.opt_text("email"),
                phone: limit(row.opt_text("phone"), "phone", 17)?,
                image: limit(row.opt_text("image"), "image", 500)?,
                bio: None,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at: row.opt_time("deleted_at")?,
            })
        })
        .await?;

    let profiles: HashMap<&str, &Row> = o.profiles.iter().map(|p| (p.key(), p)).collect();
    let organisations: HashMap<&str, &str> = o
        .clients
        .iter()
        .filter_map(|r| Some((r.key(), r.get("name")?)))
        .collect();
    // One live person per e-mail (the profile's), the oldest kept.
    let emails = firsts(&o.persons, |r| {
        profiles
            .get(r.get("profile_id")?)
            .and_then(|p| p.get("email"))
            .map(str::to_owned)
    });
    let phone = regex::Regex::new(r"^\+?[0-9]{9,15}$").map_err(|e| e.to_string())?;
    let today = crate::persons::today();
    let rows = parents_first(&o.persons, "primary_employee_id");
    let clients = &kept.clients;
    let mut done = HashSet::new();
    import
        .write::<person::ActiveModel>("persons", &rows, |row| {
            let id = row.text("id")?.to_owned();
            let profile_id = row.text("profile_id")?;
            let p = profiles
                .get(profile_id)
                .ok_or_else(|| format!("its profile {profile_id} is not in the original"))?;
            let deleted_at = row.opt_time("deleted_at")?;
            let person_type = choice(row, "person_type", crate::persons::TYPES)?;
            let email = opt_email(p, "email")?;
            if let Some(raw) = p.opt_text("email") {
                distinct(&emails, &raw, &id, "e-mail", deleted_at.is_some())?;
            }
            let phone_number = p.opt_text("phone");
            if let Some(number) = &phone_number
                && !phone.is_match(number)
            {
                return Err(format!(
                    "its profile's phone {number:?} is not an international number (+ and 9 to 15 digits)"
                ));
            }
            let dob = p.opt_date("dob")?;
            let relationship =
                opt_choice(row, "relationship_to_employee", crate::persons::RELATIONSHIPS)?;
            let guardian_id = need_opt(row, "guardian_id", users, "guardian")?;
            if let Some(born) = dob
                && relationship.as_deref() == Some("Child")
                && guardian_id.is_none()
                && crate::persons::age_on(born, today) < 18
            {
                return Err(format!(
                    "a minor child (born {born}) with no guardian: campus requires one"
                ));
            }
            let employment_status = match row.opt_text("employment_status") {
                None => None,
                Some(raw) => Some(
                    crate::persons::EMPLOYMENT
                        .parse(&raw)
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            format!("employment_status {raw:?} is not one of campus's")
                        })?,
                ),
            };
            let (started, ended) = (
                row.opt_date("employment_start_date")?,
                row.opt_date("employment_end_date")?,
            );
            if let (Some(s), Some(e)) = (started, ended)
                && e < s
            {
                return Err(format!(
                    "employment end date {e} is before its start date {s}"
                ));
            }
            if matches!(employment_status.as_deref(), Some("Terminated" | "Resigned"))
                && ended.is_none()
            {
                return Err(
                    "employment is Terminated or Resigned with no end date (campus requires one)"
                        .into(),
                );
            }
            let staff_organization = match row.opt_text("staff_organization_id") {
                None => None,
                Some(org) => Some(
                    organisations
                        .get(org.as_str())
                        .map(|name| (*name).to_owned())
                        .ok_or_else(|| format!("its staff organisation {org} is not in the original"))?,
                ),
            };
            let primary_employee_id =
                need_opt(row, "primary_employee_id", &done, "primary employee")?;
            let provider = person_type == crate::persons::PROVIDER || row.flag("is_dual_role")?;
            let for_type = |kind: &str, value: bool| (person_type == kind).then_some(value);
            let model = person::Model {
                status: choice(row, "status", crate::persons::STATUSES)?,
                user_id: Some(need(row.text("user_id")?, users, "user")?),
                full_name: p.text("full_name")?.trim().to_owned(),
                email,
                phone: phone_number,
                date_of_birth: dob,
                gender: gender(p)?,
                address: p.opt_text("address"),
                city: None,
                country: None,
                emergency_contact_name: row
                    .opt_text("emergency_contact_name")
                    .or_else(|| p.opt_text("emergency_contact_name")),
                emergency_contact_phone: row
                    .opt_text("emergency_contact_phone")
                    .or_else(|| p.opt_text("emergency_contact_phone")),
                emergency_contact_email: row
                    .opt_text("emergency_contact_email")
                    .or_else(|| p.opt_text("emergency_contact_email")),
                notes: row.opt_text("notes"),
                metadata: object(row, "metadata")?,
                last_service_date: row.opt_date("last_service_date")?,
                client_id: need_opt(row, "client_id", clients, "client")?,
                employee_role: opt_choice(row, "employee_role", crate::persons::STAFF_ROLES)?,
                employee_department: row.opt_text("employee_department"),
                employee_id_number: row.opt_text("employee_id_number"),
                employment_start_date: started,
                employment_end_date: ended,
                employment_status,
                primary_employee_id,
                relationship_to_employee: relationship,
                is_employee_dependent: for_type(
                    crate::persons::DEPENDENT,
                    row.flag("is_employee_dependent")?,
                ),
                guardian_id,
                staff_organization,
                staff_role: opt_choice(row, "staff_role", crate::persons::STAFF_ROLES)?,
                staff_department: row.opt_text("staff_department"),
                can_manage_clients: for_type(crate::persons::STAFF, row.flag("can_manage_clients")?),
                can_manage_services: for_type(
                    crate::persons::STAFF,
                    row.flag("can_manage_services")?,
                ),
                can_view_reports: for_type(crate::persons::STAFF, row.flag("can_view_reports")?),
                provider_type: row.opt_text("provider_type"),
                license_number: row.opt_text("license_number"),
                license_expiry: row.opt_date("license_expiry")?,
                specializations: if provider {
                    opt_json(row, "specializations")?
                } else {
                    None
                },
                languages_spoken: if provider {
                    opt_json(row, "languages_spoken")?
                } else {
                    None
                },
                hourly_rate: opt_money(row, "hourly_rate")?,
                bio: row.opt_text("bio"),
                is_accepting_new_clients: if provider {
                    Some(row.flag("is_accepting_new_clients")?)
                } else {
                    None
                },
                max_clients: opt_i32(row, "max_clients")?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at,
                person_type,
                id: id.clone(),
            };
            done.insert(id);
            Ok(model)
        })
        .await?;
    kept.persons = done;
    Ok(())
}

/// Categories, providers, services, assignments, sessions and feedback.
async fn services(import: &mut Import, o: &Original, kept: &mut Kept) -> Result<(), String> {
    let names = firsts(&o.categories, |r| r.get("name").map(str::to_owned));
    let written = import
        .write::<service_category::ActiveModel>("service categories", &o.categories, |row| {
            let id = row.text("id")?.to_owned();
            let deleted_at = row.opt_time("deleted_at")?;
            let name = row.text("name")?.trim().to_owned();
            distinct(&names, &name, &id, "name", deleted_at.is_some())?;
            Ok(service_category::Model {
                name,
                description: row.opt_text("description"),
                metadata: object(row, "metadata")?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at,
                tombstone: tombstone(deleted_at, &id),
                id,
            })
        })
        .await?;
    kept.categories = ids(written, |m| m.id);
    let written = import
        .write::<service_provider::ActiveModel>("service providers", &o.providers, |row| {
            let rating = opt_money(row, "rating")?.unwrap_or(0);
            if !(0..=500).contains(&rating) {
                return Err(format!("rating {} is outside 0 to 5", Money(rating)));
            }
            Ok(service_provider::Model {
                id: row.text("id")?.to_owned(),
                name: row.text("name")?.trim().to_owned(),
                provider_type: choice(row, "type", providers::TYPES)?,
                contact_email: row.opt_text("contact_email"),
                contact_phone: row.opt_text("contact_phone"),
                location: row.opt_text("location"),
                qualifications: opt_json(row, "qualifications")?.unwrap_or_else(|| json!([])),
                specializations: opt_json(row, "specializations")?.unwrap_or_else(|| json!([])),
                availability: object(row, "availability")?,
                rating: i32::try_from(rating).unwrap_or_default(),
                is_verified: row.flag("is_verified")?,
                status: choice(row, "status", providers::STATUSES)?,
                metadata: object(row, "metadata")?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at: row.opt_time("deleted_at")?,
            })
        })
        .await?;
    kept.providers = ids(written, |m| m.id);
    let (categories, providers_kept) = (&kept.categories, &kept.providers);
    let written = import
        .write::<service::ActiveModel>("services", &o.services, |row| {
            let capacity = opt_i32(row, "capacity")?.unwrap_or(1);
            if capacity < 1 {
                return Err(format!("capacity {capacity} is below 1"));
            }
            let price = opt_money(row, "price")?;
            if price.is_some_and(|p| p < 0) {
                return Err("price is negative".into());
            }
            Ok(service::Model {
                id: row.text("id")?.to_owned(),
                name: row.text("name")?.trim().to_owned(),
                description: row.opt_text("description"),
                category_id: need(row.text("category_id")?, categories, "category")?,
                status: choice(row, "status", catalog::STATUSES)?,
                duration: opt_i32(row, "duration")?,
                capacity,
                prerequisites: row.opt_text("prerequisites"),
                is_public: row.flag("is_public")?,
                price,
                service_provider_id: link(row, "service_provider_id", providers_kept),
                metadata: object(row, "metadata")?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at: row.opt_time("deleted_at")?,
            })
        })
        .await?;
    kept.services = ids(written, |m| m.id);
    let (services_kept, clients, contracts) = (&kept.services, &kept.clients, &kept.contracts);
    import
        .write::<service_assignment::ActiveModel>("service assignments", &o.assignments, |row| {
            let start = row.date("start_date")?;
            let end = row.opt_date("end_date")?;
            if let Some(end) = end
                && end < start
            {
                return Err(format!("end date {end} is before its start date {start}"));
            }
            Ok(service_assignment::Model {
                id: row.text("id")?.to_owned(),
                service_id: need(row.text("service_id")?, services_kept, "service")?,
                contract_id: Some(need(row.text("contract_id")?, contracts, "contract")?),
                client_id: need(row.text("client_id")?, clients, "client")?,
                status: choice(row, "status", assignments::STATUSES)?,
                start_date: start,
                end_date: end,
                frequency: opt_choice(row, "frequency", assignments::FREQUENCIES)?,
                metadata: object(row, "metadata")?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at: row.opt_time("deleted_at")?,
            })
        })
        .await?;
    let persons = &kept.persons;
    let written = import
        .write::<service_session::ActiveModel>("service sessions", &o.sessions, |row| {
            Ok(service_session::Model {
                id: row.text("id")?.to_owned(),
                service_id: need(row.text("service_id")?, services_kept, "service")?,
                provider_id: need(row.text("provider_id")?, providers_kept, "provider")?,
                person_id: need(row.text("person_id")?, persons, "person")?,
                scheduled_at: row.time("scheduled_at")?,
                completed_at: row.opt_time("completed_at")?,
                status: choice(row, "status", sessions::STATUSES)?,
                notes: row.opt_text("notes"),
                feedback: row.opt_text("feedback"),
                duration: opt_i32(row, "duration")?,
                location: row.opt_text("location"),
                cancellation_reason: row.opt_text("cancellation_reason"),
                reschedule_count: opt_i32(row, "reschedule_count")?.unwrap_or(0),
                is_group_session: row.flag("is_group_session")?,
                metadata: object(row, "metadata")?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at: row.opt_time("deleted_at")?,
            })
        })
        .await?;
    let statuses: HashMap<String, String> = written
        .iter()
        .map(|s| (s.id.clone(), s.status.clone()))
        .collect();
    kept.sessions = ids(written, |m| m.id);
    let sessions_kept = &kept.sessions;
    import
        .write::<session_feedback::ActiveModel>("session feedback", &o.feedback, |row| {
            let session_id = need(row.text("session_id")?, sessions_kept, "session")?;
            let status = statuses.get(&session_id).map(String::as_str).unwrap_or_default();
            if status != "Completed" {
                return Err(format!(
                    "its session {session_id} is {status}, not Completed (campus takes feedback on completed sessions only)"
                ));
            }
            let rating = row.int("rating")?;
            if !(1..=5).contains(&rating) {
                return Err(format!("rating {rating} is outside 1 to 5"));
            }
            Ok(session_feedback::Model {
                id: row.text("id")?.to_owned(),
                session_id,
                rating: i32::try_from(rating).unwrap_or(1),
                comment: row.opt_text("comment"),
                submitted_by: None,
                metadata: object(row, "metadata")?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at: row.opt_time("deleted_at")?,
            })
        })
        .await?;
    Ok(())
}

/// KPI types, KPIs and their assignments.
async fn kpis(import: &mut Import, o: &Original, kept: &Kept) -> Result<(), String> {
    let names = firsts(&o.kpi_types, |r| r.get("name").map(str::to_owned));
    let written = import
        .write::<kpi_type::ActiveModel>("kpi types", &o.kpi_types, |row| {
            let id = row.text("id")?.to_owned();
            let deleted_at = row.opt_time("deleted_at")?;
            let name = row.text("name")?.trim().to_owned();
            distinct(&names, &name, &id, "name", deleted_at.is_some())?;
            Ok(kpi_type::Model {
                name,
                description: row.opt_text("description"),
                weight: opt_i32(row, "weight")?,
                metadata: object(row, "metadata")?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at,
                tombstone: tombstone(deleted_at, &id),
                id,
            })
        })
        .await?;
    let types = ids(written, |m| m.id);
    let (clients, contracts) = (&kept.clients, &kept.contracts);
    let written = import
        .write::<kpi::ActiveModel>("kpis", &o.kpis, |row| {
            Ok(kpi::Model {
                id: row.text("id")?.to_owned(),
                name: row.text("name")?.trim().to_owned(),
                description: row.opt_text("description"),
                type_id: need(row.text("type_id")?, &types, "KPI type")?,
                unit: row.get("unit").unwrap_or_default().to_owned(),
                unit_type: choice(row, "unit_type", crate::kpis::UNIT_TYPES)?,
                target_value: row.opt_text("target_value"),
                calculation_method: row.opt_text("calculation_method"),
                frequency: opt_choice(row, "frequency", crate::kpis::FREQUENCIES)?,
                is_public: row.flag("is_public")?,
                client_id: need_opt(row, "client_id", clients, "client")?,
                contract_id: need_opt(row, "contract_id", contracts, "contract")?,
                metadata: object(row, "metadata")?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at: row.opt_time("deleted_at")?,
            })
        })
        .await?;
    let kpis = ids(written, |m| m.id);
    import
        .write::<kpi_assignment::ActiveModel>("kpi assignments", &o.kpi_assignments, |row| {
            let start = row.date("start_date")?;
            let end = row.opt_date("end_date")?;
            if let Some(end) = end
                && end < start
            {
                return Err(format!(
                    "end date {end} is before its start date {start} (campus: end date must be on or after start date)"
                ));
            }
            Ok(kpi_assignment::Model {
                id: row.text("id")?.to_owned(),
                kpi_id: need(row.text("kpi_id")?, &kpis, "KPI")?,
                client_id: need(row.text("client_id")?, clients, "client")?,
                contract_id: need(row.text("contract_id")?, contracts, "contract")?,
                target_value: row.opt_text("target_value"),
                frequency: choice(row, "frequency", crate::kpis::FREQUENCIES)?,
                status: choice(row, "status", crate::kpi_assignments::STATUSES)?,
                start_date: start,
                end_date: end,
                notes: row.opt_text("notes"),
                metadata: object(row, "metadata")?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at: row.opt_time("deleted_at")?,
            })
        })
        .await?;
    Ok(())
}

/// Documents and their files.
async fn documents(import: &mut Import, o: &Original, kept: &Kept) -> Result<(), String> {
    let rows = parents_first(&o.documents, "previous_version_id");
    // Files first (copying is asynchronous): a file that cannot be copied
    // is reported under `files` and its document kept without it.
    let mut stored: HashMap<String, Option<String>> = HashMap::new();
    for row in &rows {
        if let Some(file) = row.opt_text("file") {
            let name = import.files.copy(Some(&file), "documents").await;
            stored.insert(row.key().to_owned(), name);
        }
    }
    let (clients, contracts, users) = (&kept.clients, &kept.contracts, &kept.users);
    let mut done = HashSet::new();
    import
        .write::<document::ActiveModel>("documents", &rows, |row| {
            let id = row.text("id")?.to_owned();
            let original_file = row.opt_text("file");
            let url = limit(row.opt_text("url"), "url", 500)?;
            if original_file.is_none() && url.is_none() {
                return Err("it has neither a file nor a URL (campus requires one)".into());
            }
            let tags: Vec<String> = match row.json("tags")? {
                Value::Null => Vec::new(),
                value => serde_json::from_value(value)
                    .map_err(|_| "tags is not a list of texts".to_owned())?,
            };
            if let Some(long) = tags.iter().find(|t| t.chars().count() > 50) {
                return Err(format!(
                    "tag {long:?} is longer than campus's 50 characters"
                ));
            }
            let filename = original_file
                .as_deref()
                .and_then(|f| f.rsplit('/').next())
                .map(str::to_owned);
            let file_extension = filename
                .as_deref()
                .and_then(|f| f.rsplit_once('.'))
                .map(|(_, e)| e.to_ascii_lowercase());
            let previous_version_id =
                need_opt(row, "previous_version_id", &done, "previous version")?;
            let version = opt_i32(row, "version")?.unwrap_or(1);
            let model = document::Model {
                title: row.text("title")?.trim().to_owned(),
                description: row.opt_text("description"),
                doc_type: choice(row, "type", crate::documents::TYPES)?,
                file: stored.get(&id).cloned().flatten(),
                url,
                file_size: row.opt_int("file_size")?,
                file_type: row.opt_text("file_type"),
                filename,
                file_extension,
                version,
                is_latest: row.flag("is_latest")?,
                previous_version_id,
                status: choice(row, "status", crate::documents::STATUSES)?,
                expiry_date: row.opt_date("expiry_date")?,
                is_confidential: row.flag("is_confidential")?,
                tags: serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()),
                uploaded_by_id: link(row, "uploaded_by_id", users),
                client_id: need_opt(row, "client_id", clients, "client")?,
                contract_id: need_opt(row, "contract_id", contracts, "contract")?,
                metadata: object(row, "metadata")?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                deleted_at: row.opt_time("deleted_at")?,
                id: id.clone(),
            };
            done.insert(id);
            Ok(model)
        })
        .await?;
    Ok(())
}

/// The audit trail: audit rows, entity changes and their field changes.
async fn trail(import: &mut Import, o: &Original, kept: &Kept) -> Result<(), String> {
    let users = &kept.users;
    import
        .write::<audit_log::ActiveModel>("audit logs", &o.audit_logs, |row| {
            Ok(audit_log::Model {
                id: row.text("id")?.to_owned(),
                action: row.text("action")?.to_owned(),
                entity_type: row.get("entity_type").unwrap_or_default().to_owned(),
                entity_id: row.get("entity_id").unwrap_or_default().to_owned(),
                user_id: link(row, "user_id", users),
                data: crate::audit::redact(object(row, "data")?),
                // PostgreSQL prints inet with its mask (`10.0.0.5/32`).
                ip_address: row
                    .opt_text("ip_address")
                    .map(|ip| ip.split('/').next().unwrap_or_default().to_owned()),
                user_agent: row.opt_text("user_agent"),
                created_at: row.time("timestamp")?,
            })
        })
        .await?;
    let emails: HashMap<&str, &str> = o
        .users
        .iter()
        .filter_map(|u| Some((u.key(), u.get("email")?)))
        .collect();
    let written = import
        .write::<entity_change::ActiveModel>("entity changes", &o.entity_changes, |row| {
            let changed_by = row.opt_text("changed_by");
            Ok(entity_change::Model {
                id: row.text("id")?.to_owned(),
                entity_type: row.text("entity_type")?.to_owned(),
                entity_id: row.text("entity_id")?.to_owned(),
                change_type: row.text("change_type")?.to_owned(),
                changed_at: row.time("changed_at")?,
                changed_by_email: changed_by
                    .as_deref()
                    .and_then(|u| emails.get(u))
                    .map(|e| (*e).to_owned()),
                changed_by,
                change_reason: row.opt_text("change_reason"),
                old_data: opt_json(row, "old_data")?.map(crate::audit::redact),
                new_data: opt_json(row, "new_data")?.map(crate::audit::redact),
                metadata: object(row, "metadata")?,
                is_active: row.flag("is_active")?,
            })
        })
        .await?;
    let changes: HashMap<String, (String, String)> = written
        .into_iter()
        .map(|c| (c.id, (c.entity_type, c.entity_id)))
        .collect();
    import
        .write::<field_change::ActiveModel>("field changes", &o.field_changes, |row| {
            let change_id = row.text("entity_change_id")?;
            let (entity_type, entity_id) = changes
                .get(change_id)
                .cloned()
                .ok_or_else(|| format!("its entity change {change_id} was not imported"))?;
            let field_name = row.text("field_name")?.to_owned();
            // A secret field's values are redacted, as campus redacts its own.
            let mut probe = serde_json::Map::new();
            probe.insert(field_name.clone(), json!(0));
            let shown = crate::audit::redact(Value::Object(probe))[field_name.as_str()].clone();
            let hide = |v: Option<Value>| {
                if shown == json!(0) {
                    v
                } else {
                    v.map(|_| shown.clone())
                }
            };
            Ok(field_change::Model {
                id: row.text("id")?.to_owned(),
                entity_change_id: change_id.to_owned(),
                entity_type,
                entity_id,
                old_value: hide(opt_json(row, "old_value")?),
                new_value: hide(opt_json(row, "new_value")?),
                change_type: row.text("change_type")?.to_owned(),
                created_at: row.time("created_at")?,
                field_name,
            })
        })
        .await?;
    Ok(())
}

/// One audit row for the import itself, when it wrote anything.
async fn record_import(import: &Import) -> Result<(), String> {
    if !import.report.changed() {
        return Ok(());
    }
    let counts: serde_json::Map<String, Value> = import
        .report
        .tallies
        .iter()
        .map(|t| (t.name.clone(), (t.created + t.updated).into()))
        .collect();
    audit_log::ActiveModel {
        id: Set(kernel::cuid::new()),
        action: Set("Create".to_owned()),
        entity_type: Set("Import".to_owned()),
        entity_id: Set(String::new()),
        user_id: Set(None),
        data: Set(json!({ "source": "django", "imported": counts })),
        ip_address: Set(None),
        user_agent: Set(None),
        created_at: Set(kernel::time::now()),
    }
    .insert(&*import.txn)
    .await
    .map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn imported_ids_are_accepted_beside_campus_ones() {
        assert!(crate::rest::is_id("n4120ne0sfidu0r95j4b0i6q"));
        assert!(crate::rest::is_id(&kernel::cuid::new()));
        assert!(!crate::rest::is_id("n4120ne0sfidu0r95j4b0i6"));
        assert!(!crate::rest::is_id("4120ne0sfidu0r95j4b0i6qq"));
        assert!(!crate::rest::is_id("N4120ne0sfidu0r95j4b0i6q"));
    }
}
