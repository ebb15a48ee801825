//! `/api/popia/`: what South Africa's Protection of Personal Information Act
//! asks of a system holding medical data. Privacy-policy versions, consents
//! per type (granted and withdrawn with when, from where and to which policy
//! version), an export of everything held about the caller, and deletion
//! requests that an administrator reviews and executes: execution erases the
//! person's journal, intake, notes, profile, consents, sessions and sign-in
//! secrets and anonymises the account in one transaction, keeping a proof
//! record that holds no personal data.
//!
//! Refusals the original answered as `{"error": …}` carry `error` beside the
//! DRF `detail`, so clients written against either read them.

use std::collections::hash_map::Entry;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Days, NaiveDate, Utc};
use kernel::extract::{ClientIp, IntId};
use kernel::listing::ListQuery;
use kernel::{ApiError, ApiResult, Checker, Field, FilterKind, Json, Page, PageSize};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    JoinType, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, RelationTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Actor};
use crate::entities::deletion_request::{self as deletion, APPROVED, PENDING};
use crate::entities::{
    admin_note, backup_code, consent, export_request, intake_form, journal_entry, password_history,
    password_reset_token, privacy_policy, profile, session, two_factor, user,
};
use crate::principal::{CurrentUser, Staff};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(privacy_policy))
        .routes(routes!(list_privacy_policies, create_privacy_policy))
        .routes(routes!(activate_privacy_policy))
        .routes(routes!(list_consents))
        .routes(routes!(grant_consent))
        .routes(routes!(withdraw_consent))
        .routes(routes!(data_export))
        .routes(routes!(list_deletion_requests))
        .routes(routes!(create_deletion_request))
        .routes(routes!(review_deletion_request))
        .routes(routes!(execute_deletion_request))
        .routes(routes!(cancel_deletion_request))
}

/// Proof records are kept this long after an erasure.
const PROOF_RETENTION_DAYS: u64 = 730;
/// An export counts as current for this long.
const EXPORT_VALID_HOURS: i64 = 48;

/// A refusal in the DRF shape, with the original's `error` member beside it.
fn refuse(status: StatusCode, message: &'static str, extra: Value) -> ApiError {
    let mut fields = match extra {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    fields.insert("error".into(), Value::from(message));
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::FORBIDDEN => "permission_denied",
        _ => "invalid",
    };
    ApiError::detailed(status, message, code, Value::Object(fields))
}

// ---------------------------------------------------------------------------
// Privacy policy

/// A version of the privacy policy.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrivacyPolicyOut {
    pub id: i64,
    pub version: String,
    pub title: String,
    pub content: String,
    pub effective_date: NaiveDate,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<privacy_policy::Model> for PrivacyPolicyOut {
    fn from(p: privacy_policy::Model) -> Self {
        Self {
            id: p.id,
            version: p.version,
            title: p.title,
            content: p.content,
            effective_date: p.effective_date,
            is_active: p.is_active,
            created_at: p.created_at,
        }
    }
}

async fn active_policy<C: ConnectionTrait>(db: &C) -> ApiResult<Option<privacy_policy::Model>> {
    Ok(privacy_policy::Entity::find()
        .filter(privacy_policy::Column::IsActive.eq(true))
        .order_by_desc(privacy_policy::Column::Id)
        .one(db)
        .await?)
}

/// The privacy policy in force (public).
#[utoipa::path(get, path = "/api/popia/privacy-policy/", tag = "popia",
    responses((status = 200, body = PrivacyPolicyOut), (status = 404, description = "No policy has been published")))]
pub async fn privacy_policy(State(state): State<AppState>) -> ApiResult<Json<PrivacyPolicyOut>> {
    let policy = active_policy(&state.db).await?.ok_or_else(|| {
        refuse(
            StatusCode::NOT_FOUND,
            "No active privacy policy found",
            json!({}),
        )
    })?;
    Ok(Json(policy.into()))
}

/// Every version of the privacy policy, newest first (administrators and
/// superusers).
#[utoipa::path(get, path = "/api/popia/privacy-policies/", tag = "popia", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<PrivacyPolicyOut>), (status = 401), (status = 403)))]
pub async fn list_privacy_policies(
    State(state): State<AppState>,
    _staff: Staff,
    list: ListQuery,
) -> ApiResult<Json<Page<PrivacyPolicyOut>>> {
    let query = privacy_policy::Entity::find().order_by_desc(privacy_policy::Column::Id);
    let page = list.page(&state.db, query, PageSize::DEFAULT).await?;
    Ok(Json(page.map(PrivacyPolicyOut::from)))
}

/// A new version of the privacy policy.
/// `YYYY-MM-DD`; today when left out or null.
fn effective_date() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::or_null(kernel::form::schema::date_from_1900())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PrivacyPolicyIn {
    /// Unique, such as `2.0`.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<20>, required = true)]
    pub version: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<200>, required = true)]
    pub title: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100000>, required = true)]
    pub content: Field<String>,
    /// `YYYY-MM-DD`; today when left out.
    #[serde(default)]
    #[schema(schema_with = effective_date)]
    pub effective_date: Field<String>,
    /// Publish it now, replacing the active version (default false).
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    pub is_active: Field<bool>,
}

/// Makes `id` the only active version.
async fn activate<C: ConnectionTrait>(db: &C, id: i64) -> ApiResult<()> {
    privacy_policy::Entity::update_many()
        .col_expr(privacy_policy::Column::IsActive, Expr::value(false))
        .filter(privacy_policy::Column::IsActive.eq(true))
        .filter(privacy_policy::Column::Id.ne(id))
        .exec(db)
        .await?;
    privacy_policy::Entity::update_many()
        .col_expr(privacy_policy::Column::IsActive, Expr::value(true))
        .filter(privacy_policy::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Write a new version of the privacy policy; with `is_active` it replaces
/// the one in force (administrators and superusers).
#[utoipa::path(post, path = "/api/popia/privacy-policies/", tag = "popia", security(("jwt" = [])), request_body = PrivacyPolicyIn,
    responses((status = 201, body = PrivacyPolicyOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_privacy_policy(
    State(state): State<AppState>,
    Staff(me): Staff,
    ClientIp(ip): ClientIp,
    Json(input): Json<PrivacyPolicyIn>,
) -> ApiResult<(StatusCode, Json<PrivacyPolicyOut>)> {
    let mut c = Checker::new();
    let version = c.text("version", input.version, 20);
    let title = c.text("title", input.title, 200);
    let content = c.text("content", input.content, 100_000);
    let effective_date = match input.effective_date {
        Field::Absent | Field::Null => Some(Utc::now().date_naive()),
        Field::Value(raw) => {
            // Years every database stores.
            let parsed = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
                .ok()
                .filter(|d| (1900..=9999).contains(&chrono::Datelike::year(d)));
            if parsed.is_none() {
                c.error(
                    "effective_date",
                    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
                );
            }
            parsed
        }
    };
    let is_active = c.boolean("is_active", input.is_active, false);
    if let Some(v) = &version
        && privacy_policy::Entity::find()
            .filter(privacy_policy::Column::Version.eq(v.as_str()))
            .one(&state.db)
            .await?
            .is_some()
    {
        c.error(
            "version",
            "privacy policy with this version already exists.",
        );
    }
    c.finish()?;
    let (Some(version), Some(title), Some(content), Some(effective_date), Some(is_active)) =
        (version, title, content, effective_date, is_active)
    else {
        return Err(ApiError::bad_request("Invalid privacy policy"));
    };
    let txn = kernel::db::begin_write(&state.db).await?;
    let created = privacy_policy::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        version: Set(version),
        title: Set(title),
        content: Set(content),
        effective_date: Set(effective_date),
        is_active: Set(false),
        created_by: Set(Some(me.id())),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        if kernel::error::is_unique_violation(&e, "version") {
            ApiError::field(
                "version",
                "privacy policy with this version already exists.",
            )
        } else {
            e.into()
        }
    })?;
    if is_active {
        activate(&txn, created.id).await?;
    }
    audit::record(
        &txn,
        Actor::new(me.id(), ip),
        "create",
        "PrivacyPolicyVersion",
        created.id,
        Some(json!({"version": [null, created.version], "is_active": [null, is_active]})),
    )
    .await?;
    txn.commit().await?;
    let out = PrivacyPolicyOut {
        is_active,
        ..created.into()
    };
    Ok((StatusCode::CREATED, Json(out)))
}

/// Put a version in force; the one before it stops being active
/// (administrators and superusers).
#[utoipa::path(post, path = "/api/popia/privacy-policies/{id}/activate/", tag = "popia", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = PrivacyPolicyOut), (status = 401), (status = 403), (status = 404)))]
pub async fn activate_privacy_policy(
    State(state): State<AppState>,
    Staff(me): Staff,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
) -> ApiResult<Json<PrivacyPolicyOut>> {
    let txn = kernel::db::begin_write(&state.db).await?;
    let policy = privacy_policy::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "Privacy policy not found", json!({})))?;
    activate(&txn, policy.id).await?;
    if !policy.is_active {
        audit::record(
            &txn,
            Actor::new(me.id(), ip),
            "update",
            "PrivacyPolicyVersion",
            policy.id,
            Some(json!({"is_active": [false, true]})),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(Json(PrivacyPolicyOut {
        is_active: true,
        ..policy.into()
    }))
}

// ---------------------------------------------------------------------------
// Consents

/// One of the caller's consents.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentOut {
    pub id: i64,
    /// data_processing, medical_data, communications or data_sharing.
    pub consent_type: String,
    pub consent_type_display: String,
    /// The policy version's id.
    pub privacy_policy_version: i64,
    /// The policy version's number, such as `1.0`.
    pub privacy_policy_version_number: String,
    pub granted: bool,
    pub granted_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
}

impl ConsentOut {
    fn new(c: consent::Model, version: String) -> Self {
        Self {
            id: c.id,
            consent_type_display: consent::type_display(&c.consent_type).to_owned(),
            consent_type: c.consent_type,
            privacy_policy_version: c.policy_id,
            privacy_policy_version_number: version,
            granted: c.granted,
            granted_at: c.granted_at,
            withdrawn_at: c.withdrawn_at,
        }
    }
}

async fn version_of<C: ConnectionTrait>(db: &C, policy_id: i64) -> ApiResult<String> {
    Ok(privacy_policy::Entity::find_by_id(policy_id)
        .one(db)
        .await?
        .map(|p| p.version)
        .unwrap_or_default())
}

/// The caller's consents. Filters: `consent_type`, `granted`.
#[utoipa::path(get, path = "/api/popia/consents/", tag = "popia", security(("jwt" = [])),
    params(("consent_type" = inline(Option<ConsentType>), Query), ("granted" = Option<bool>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<ConsentOut>), (status = 400), (status = 401)))]
pub async fn list_consents(
    State(state): State<AppState>,
    me: CurrentUser,
    list: ListQuery,
) -> ApiResult<Json<Page<ConsentOut>>> {
    let mut query = consent::Entity::find().filter(consent::Column::UserId.eq(me.id()));
    query = list.filter(
        query,
        "consent_type",
        consent::Column::ConsentType,
        FilterKind::Choice(consent::TYPES),
    )?;
    query = list.filter(query, "granted", consent::Column::Granted, FilterKind::Bool)?;
    let query = query
        .find_also_related(privacy_policy::Entity)
        .order_by_asc(consent::Column::ConsentType)
        .order_by_asc(consent::Column::Id);
    let page = list.page(&state.db, query, PageSize::DEFAULT).await?;
    Ok(Json(page.map(|(c, p)| {
        ConsentOut::new(c, p.map(|p| p.version).unwrap_or_default())
    })))
}

kernel::choices!(
    /// What a consent covers.
    pub ConsentType = consent::TYPES
);

/// A consent to grant.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct GrantIn {
    /// data_processing, medical_data, communications or data_sharing.
    #[serde(default)]
    #[schema(value_type = ConsentType, required = true)]
    pub consent_type: Field<String>,
    /// The id of the policy version consented to; the active version when
    /// left out (as is `version`).
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub privacy_policy_version_id: Field<i64>,
    /// The policy version's number instead of its id.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub version: Field<String>,
}

/// Grant (or grant again) a consent to the policy in force. The address and
/// browser are recorded from the request itself. 201 for a first grant, 200
/// for a renewed one.
#[utoipa::path(post, path = "/api/popia/consents/grant/", tag = "popia", security(("jwt" = [])), request_body = GrantIn,
    responses((status = 201, body = ConsentOut), (status = 200, body = ConsentOut), (status = 400), (status = 401)))]
pub async fn grant_consent(
    State(state): State<AppState>,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(input): Json<GrantIn>,
) -> ApiResult<(StatusCode, Json<ConsentOut>)> {
    let mut c = Checker::new();
    let consent_type = c.choice("consent_type", input.consent_type, consent::TYPES);
    let by_id = match input.privacy_policy_version_id {
        Field::Absent | Field::Null => None,
        other => c.value("privacy_policy_version_id", other),
    };
    let by_version = match input.version {
        Field::Value(v) if by_id.is_none() => Some(v.trim().to_owned()),
        _ => None,
    };
    c.finish()?;
    let consent_type = consent_type.unwrap_or_default();
    let invalid = || {
        refuse(
            StatusCode::BAD_REQUEST,
            "Invalid privacy policy version",
            json!({}),
        )
    };
    // Only the version in force can be consented to.
    let policy = active_policy(&state.db).await?.ok_or_else(invalid)?;
    if by_id.is_some_and(|id| id != policy.id)
        || by_version.as_deref().is_some_and(|v| v != policy.version)
    {
        return Err(invalid());
    }
    let user_agent = crate::sessions::user_agent(&headers);
    let now = Utc::now();
    let txn = kernel::db::begin_write(&state.db).await?;
    // The account row serialises grants of one person.
    user::Entity::find_by_id(me.id())
        .lock_exclusive()
        .one(&txn)
        .await?;
    let existing = consent::Entity::find()
        .filter(consent::Column::UserId.eq(me.id()))
        .filter(consent::Column::ConsentType.eq(consent_type.as_str()))
        .one(&txn)
        .await?;
    let (status, saved, before) = match existing {
        Some(row) => {
            let before = row.granted;
            let mut model: consent::ActiveModel = row.into();
            model.granted = Set(true);
            model.granted_at = Set(Some(now));
            model.withdrawn_at = Set(None);
            model.policy_id = Set(policy.id);
            model.ip_address = Set(ip.map(|ip| ip.to_string()));
            model.user_agent = Set(user_agent);
            model.updated_at = Set(now);
            (StatusCode::OK, model.update(&txn).await?, Some(before))
        }
        None => {
            let created = consent::ActiveModel {
                id: sea_orm::ActiveValue::NotSet,
                user_id: Set(me.id()),
                consent_type: Set(consent_type.clone()),
                policy_id: Set(policy.id),
                granted: Set(true),
                granted_at: Set(Some(now)),
                withdrawn_at: Set(None),
                ip_address: Set(ip.map(|ip| ip.to_string())),
                user_agent: Set(user_agent),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?;
            (StatusCode::CREATED, created, None)
        }
    };
    audit::record(
        &txn,
        Actor::new(me.id(), ip),
        if before.is_some() { "update" } else { "create" },
        "UserConsent",
        saved.id,
        Some(json!({
            "consent_type": consent_type,
            "granted": [before, true],
            "privacy_policy_version": policy.version,
        })),
    )
    .await?;
    txn.commit().await?;
    Ok((status, Json(ConsentOut::new(saved, policy.version))))
}

/// Withdraw one of the caller's consents.
#[utoipa::path(post, path = "/api/popia/consents/{id}/withdraw/", tag = "popia", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = ConsentOut), (status = 400), (status = 401), (status = 404)))]
pub async fn withdraw_consent(
    State(state): State<AppState>,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    IntId(id): IntId,
) -> ApiResult<Json<ConsentOut>> {
    let txn = kernel::db::begin_write(&state.db).await?;
    let row = consent::Entity::find_by_id(id)
        .filter(consent::Column::UserId.eq(me.id()))
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "Consent record not found", json!({})))?;
    if !row.granted {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Consent already withdrawn",
            json!({}),
        ));
    }
    let now = Utc::now();
    let mut model: consent::ActiveModel = row.into();
    model.granted = Set(false);
    model.withdrawn_at = Set(Some(now));
    model.ip_address = Set(ip.map(|ip| ip.to_string()));
    model.user_agent = Set(crate::sessions::user_agent(&headers));
    model.updated_at = Set(now);
    let saved = model.update(&txn).await?;
    let version = version_of(&txn, saved.policy_id).await?;
    audit::record(
        &txn,
        Actor::new(me.id(), ip),
        "update",
        "UserConsent",
        saved.id,
        Some(json!({
            "consent_type": saved.consent_type,
            "granted": [true, false],
            "privacy_policy_version": version,
        })),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(ConsentOut::new(saved, version)))
}

// ---------------------------------------------------------------------------
// Data export

/// Everything held about one person, decrypted: the body of the export file.
async fn everything_about(state: &AppState, person: &user::Model) -> ApiResult<Value> {
    let db = &state.db;
    let profile = profile::Entity::find()
        .filter(profile::Column::UserId.eq(person.id))
        .one(db)
        .await?;
    let profile_json = match &profile {
        Some(p) => {
            let mut out = serde_json::to_value(crate::profiles::ProfileOut::open(&state.keys, p)?)
                .map_err(ApiError::internal)?;
            if let Value::Object(map) = &mut out {
                map.remove("id");
                map.remove("user");
            }
            out
        }
        None => Value::Null,
    };
    let mut intake = Vec::new();
    for form in rows_of(db, intake_form::Column::UserId, person.id).await? {
        intake.push(crate::intake::IntakeFormOut::open(state, &form)?);
    }
    let mut journal = Vec::new();
    for entry in journal_entry::Entity::find()
        .filter(journal_entry::Column::UserId.eq(person.id))
        .order_by_asc(journal_entry::Column::Date)
        .order_by_asc(journal_entry::Column::Id)
        .all(db)
        .await?
    {
        journal.push(crate::journal::JournalEntryOut::open(state, &entry)?);
    }
    let mut notes = Vec::new();
    let mut authors = std::collections::HashMap::<i64, Option<String>>::new();
    for note in rows_of(db, admin_note::Column::CandidateId, person.id).await? {
        let author = match authors.entry(note.admin_id) {
            Entry::Occupied(known) => known.get().clone(),
            Entry::Vacant(slot) => slot
                .insert(
                    user::Entity::find_by_id(note.admin_id)
                        .one(db)
                        .await?
                        .map(|a| a.email),
                )
                .clone(),
        };
        let (title, content) = crate::admin_notes::open_text(state, &note)?;
        notes.push(json!({
            "category": note.category,
            "title": title,
            "content": content,
            "is_important": note.is_important,
            "created_by": author,
            "created_at": note.created_at,
            "updated_at": note.updated_at,
        }));
    }
    let consents: Vec<Value> = consent::Entity::find()
        .filter(consent::Column::UserId.eq(person.id))
        .find_also_related(privacy_policy::Entity)
        .order_by_asc(consent::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|(c, p)| {
            json!({
                "consent_type": c.consent_type,
                "granted": c.granted,
                "privacy_policy_version": p.map(|p| p.version),
                "granted_at": c.granted_at,
                "withdrawn_at": c.withdrawn_at,
                "ip_address": c.ip_address,
                "user_agent": c.user_agent,
            })
        })
        .collect();
    let deletion_requests: Vec<Value> = rows_of(db, deletion::Column::UserId, person.id)
        .await?
        .into_iter()
        .map(|d| {
            json!({
                "requested_at": d.requested_at,
                "status": d.status,
                "reason": d.reason,
                "reviewed_at": d.reviewed_at,
            })
        })
        .collect();
    let export_requests: Vec<Value> = rows_of(db, export_request::Column::UserId, person.id)
        .await?
        .into_iter()
        .map(|e| {
            json!({
                "requested_at": e.requested_at,
                "status": e.status,
                "completed_at": e.completed_at,
            })
        })
        .collect();
    let sessions: Vec<Value> = rows_of(db, session::Column::UserId, person.id)
        .await?
        .into_iter()
        .map(|s| {
            json!({
                "device_type": s.device_type,
                "browser": s.browser,
                "os": s.os,
                "user_agent": s.user_agent,
                "ip_address": s.ip_address,
                "created_at": s.created_at,
                "last_activity": s.last_activity,
                "ended_at": s.terminated_at,
            })
        })
        .collect();
    let two_factor = two_factor::Entity::find()
        .filter(two_factor::Column::UserId.eq(person.id))
        .one(db)
        .await?;
    let unused_codes = backup_code::Entity::find()
        .filter(backup_code::Column::UserId.eq(person.id))
        .filter(backup_code::Column::UsedAt.is_null())
        .count(db)
        .await?;
    let password_changes: Vec<DateTime<Utc>> =
        rows_of(db, password_history::Column::UserId, person.id)
            .await?
            .into_iter()
            .map(|h| h.created_at)
            .collect();
    Ok(json!({
        "export_metadata": {
            "exported_at": Utc::now(),
            "user_id": person.id,
            "format": "JSON",
            "popia_compliance": true,
        },
        "user_account": {
            "id": person.id,
            "email": person.email,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "role": person.role,
            "has_completed_intake": profile.as_ref().is_some_and(|p| p.has_completed_intake),
            "is_active": person.is_active,
            "date_joined": person.created_at,
            "last_login": person.last_login,
            "created_at": person.created_at,
            "updated_at": person.updated_at,
        },
        "profile": profile_json,
        "intake_forms": intake,
        "journal_entries": journal,
        "admin_notes": notes,
        "consents": consents,
        "deletion_requests": deletion_requests,
        "export_requests": export_requests,
        "sessions": sessions,
        "two_factor": {
            "enabled": two_factor.as_ref().is_some_and(|t| t.enabled),
            "enabled_at": two_factor.and_then(|t| t.enabled_at),
            "unused_backup_codes": unused_codes,
        },
        "password_changes": password_changes,
    }))
}

/// Everything held about the caller, decrypted, as a JSON attachment
/// `my_data_<id>_<YYYY-MM-DD>.json` (the right of access). Each export is
/// logged and audited.
#[utoipa::path(get, path = "/api/popia/data-export/", tag = "popia", security(("jwt" = [])),
    responses((status = 200, description = "The JSON file", content_type = "application/json", body = Object), (status = 401)))]
pub async fn data_export(
    State(state): State<AppState>,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
) -> ApiResult<Response> {
    let mut data = everything_about(&state, &me.0).await?;
    let now = Utc::now();
    let txn = kernel::db::begin_write(&state.db).await?;
    let logged = export_request::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        user_id: Set(me.id()),
        status: Set("completed".to_owned()),
        requested_at: Set(now),
        completed_at: Set(Some(now)),
        expires_at: Set(Some(now + chrono::Duration::hours(EXPORT_VALID_HOURS))),
        download_count: Set(1),
        error_message: Set(String::new()),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        Actor::new(me.id(), ip),
        "read",
        "DataExportRequest",
        logged.id,
        Some(json!({"data_export": "completed"})),
    )
    .await?;
    txn.commit().await?;
    if let Some(list) = data["export_requests"].as_array_mut() {
        list.push(json!({
            "requested_at": logged.requested_at,
            "status": logged.status,
            "completed_at": logged.completed_at,
        }));
    }
    let body = serde_json::to_vec_pretty(&data).map_err(ApiError::internal)?;
    let filename = format!("my_data_{}_{}.json", me.id(), now.format("%Y-%m-%d"));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

// ---------------------------------------------------------------------------
// Deletion requests

/// A request to erase someone's data.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletionRequestOut {
    pub id: i64,
    /// The account whose data is to be erased.
    pub user: i64,
    pub user_email: String,
    pub requested_at: DateTime<Utc>,
    /// pending, approved, rejected, completed or cancelled.
    pub status: String,
    pub status_display: String,
    pub reason: String,
    pub reviewed_by: Option<i64>,
    pub reviewed_by_email: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub admin_notes: String,
    pub completed_at: Option<DateTime<Utc>>,
    /// Until when the proof of erasure is kept.
    pub retention_until: Option<DateTime<Utc>>,
}

impl DeletionRequestOut {
    fn new(d: deletion::Model, owner: &str, reviewer: Option<String>) -> Self {
        Self {
            id: d.id,
            user: d.user_id,
            user_email: owner.to_owned(),
            requested_at: d.requested_at,
            status_display: deletion::status_display(&d.status).to_owned(),
            status: d.status,
            reason: d.reason,
            reviewed_by: d.reviewed_by,
            reviewed_by_email: reviewer,
            reviewed_at: d.reviewed_at,
            admin_notes: d.admin_notes,
            completed_at: d.completed_at,
            retention_until: d.retention_until,
        }
    }
}

/// Deletion requests, newest first: administrators see those of everyone
/// they reach, others their own. Filter: `status`.
#[utoipa::path(get, path = "/api/popia/deletion-requests/", tag = "popia", security(("jwt" = [])),
    params(("status" = inline(Option<DeletionStatus>), Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<DeletionRequestOut>), (status = 400), (status = 401)))]
pub async fn list_deletion_requests(
    State(state): State<AppState>,
    me: CurrentUser,
    list: ListQuery,
) -> ApiResult<Json<Page<DeletionRequestOut>>> {
    let mut query = deletion::Entity::find()
        .join(JoinType::InnerJoin, deletion::Relation::User.def())
        .filter(me.reachable_users());
    query = list.filter(
        query,
        "status",
        deletion::Column::Status,
        FilterKind::Choice(deletion::STATUSES),
    )?;
    let query = list.order(
        query,
        &[(
            "requested_at",
            deletion::Column::RequestedAt.into_simple_expr(),
        )],
        &[("requested_at", Order::Desc)],
        deletion::Column::Id,
    );
    let page = list.page(&state.db, query, PageSize::DEFAULT).await?;
    // The owners' and reviewers' addresses, in one query.
    let ids: std::collections::BTreeSet<i64> = page
        .results
        .iter()
        .flat_map(|d| [Some(d.user_id), d.reviewed_by])
        .flatten()
        .collect();
    let emails: std::collections::HashMap<i64, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.email))
        .collect();
    Ok(Json(page.map(|d| {
        let owner = emails.get(&d.user_id).cloned().unwrap_or_default();
        let reviewer = d.reviewed_by.and_then(|id| emails.get(&id).cloned());
        DeletionRequestOut::new(d, &owner, reviewer)
    })))
}

kernel::choices!(
    /// Where a deletion request stands.
    pub DeletionStatus = deletion::STATUSES
);

/// Why the caller wants their data erased.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DeletionRequestIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<2000>)]
    pub reason: Field<String>,
}

/// Ask for everything held about the caller to be erased. One open
/// (pending or approved) request at a time.
#[utoipa::path(post, path = "/api/popia/deletion-requests/create/", tag = "popia", security(("jwt" = [])), request_body = DeletionRequestIn,
    responses((status = 201, body = DeletionRequestOut), (status = 400), (status = 401)))]
pub async fn create_deletion_request(
    State(state): State<AppState>,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<DeletionRequestIn>,
) -> ApiResult<(StatusCode, Json<DeletionRequestOut>)> {
    let mut c = Checker::new();
    let reason = c.optional_text("reason", input.reason, 2000);
    c.finish()?;
    let txn = kernel::db::begin_write(&state.db).await?;
    // The account row serialises requests of one person.
    user::Entity::find_by_id(me.id())
        .lock_exclusive()
        .one(&txn)
        .await?;
    let open = deletion::Entity::find()
        .filter(deletion::Column::UserId.eq(me.id()))
        .filter(deletion::Column::Status.is_in([PENDING, APPROVED]))
        .one(&txn)
        .await?;
    if let Some(open) = open {
        let message = if open.status == PENDING {
            "You already have a pending deletion request"
        } else {
            "Your deletion request has been approved and is awaiting execution"
        };
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            message,
            json!({"request_id": open.id, "requested_at": open.requested_at}),
        ));
    }
    let created = deletion::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        user_id: Set(me.id()),
        status: Set(PENDING.to_owned()),
        reason: Set(reason.flatten().unwrap_or_default()),
        requested_at: Set(Utc::now()),
        reviewed_by: Set(None),
        reviewed_at: Set(None),
        admin_notes: Set(String::new()),
        completed_at: Set(None),
        deletion_proof: Set(None),
        retention_until: Set(None),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        Actor::new(me.id(), ip),
        "create",
        "DataDeletionRequest",
        created.id,
        Some(json!({"status": [null, PENDING], "reason": "changed"})),
    )
    .await?;
    txn.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(DeletionRequestOut::new(created, &me.0.email, None)),
    ))
}

fn request_not_found() -> ApiError {
    refuse(
        StatusCode::NOT_FOUND,
        "Deletion request not found",
        json!({}),
    )
}

/// The request `id` and its owner, locked for the rest of `txn`, if the
/// reviewer may act on it: not their own, and an account they reach.
async fn reviewable<C: ConnectionTrait>(
    txn: &C,
    me: &CurrentUser,
    id: i64,
) -> ApiResult<(deletion::Model, user::Model)> {
    let request = deletion::Entity::find_by_id(id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(request_not_found)?;
    let owner = user::Entity::find_by_id(request.user_id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(request_not_found)?;
    if !me.can_reach(&owner) {
        return Err(request_not_found());
    }
    if owner.id == me.id() {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "You cannot review your own deletion request",
            json!({}),
        ));
    }
    Ok((request, owner))
}

/// Administrators and superusers; others get the original's 403.
fn reviewer(me: CurrentUser) -> ApiResult<CurrentUser> {
    if me.is_staff() {
        Ok(me)
    } else {
        Err(refuse(
            StatusCode::FORBIDDEN,
            "Only admins can review deletion requests",
            json!({}),
        ))
    }
}

/// A decision on a deletion request.
const REVIEW_ACTIONS: &[&str] = &["approve", "reject"];

kernel::choices!(
    /// A reviewer's decision.
    pub ReviewAction = REVIEW_ACTIONS
);

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReviewIn {
    /// approve or reject.
    #[serde(default)]
    #[schema(value_type = ReviewAction, required = true)]
    pub action: Field<String>,
    /// Required when rejecting: the reason given to the person.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<2000>)]
    pub notes: Field<String>,
}

/// Approve or reject a pending request (administrators and superusers, never
/// on their own request). Approval erases nothing yet.
#[utoipa::path(post, path = "/api/popia/deletion-requests/{id}/review/", tag = "popia", security(("jwt" = [])), params(("id" = i64, Path)), request_body = ReviewIn,
    responses((status = 200, body = DeletionRequestOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn review_deletion_request(
    State(state): State<AppState>,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
    Json(input): Json<ReviewIn>,
) -> ApiResult<Json<DeletionRequestOut>> {
    let me = reviewer(me)?;
    let mut c = Checker::new();
    let action = c.choice("action", input.action, REVIEW_ACTIONS);
    let notes = c.optional_text("notes", input.notes, 2000).flatten();
    if action.as_deref() == Some("reject") && notes.is_none() {
        c.error(
            "notes",
            "Rejection reason is required when rejecting a deletion request.",
        );
    }
    c.finish()?;
    let status = match action.as_deref() {
        Some("approve") => APPROVED,
        _ => deletion::REJECTED,
    };
    let txn = kernel::db::begin_write(&state.db).await?;
    let (request, owner) = reviewable(&txn, &me, id).await?;
    if request.status != PENDING {
        return Err(already(&request.status));
    }
    let mut model: deletion::ActiveModel = request.into();
    model.status = Set(status.to_owned());
    model.reviewed_by = Set(Some(me.id()));
    model.reviewed_at = Set(Some(Utc::now()));
    model.admin_notes = Set(notes.unwrap_or_default());
    let saved = model.update(&txn).await?;
    audit::record(
        &txn,
        Actor::new(me.id(), ip),
        "update",
        "DataDeletionRequest",
        saved.id,
        Some(json!({"status": [PENDING, status], "admin_notes": "changed"})),
    )
    .await?;
    let (subject, body) = decision_email(&owner, &saved);
    let queued = crate::email::queue(&txn, &state, &owner.email, &subject, &body).await?;
    txn.commit().await?;
    crate::email::wake(&state, queued);
    Ok(Json(DeletionRequestOut::new(
        saved,
        &owner.email,
        Some(me.0.email.clone()),
    )))
}

fn already(status: &str) -> ApiError {
    let message = match status {
        APPROVED => "Request is already approved",
        deletion::REJECTED => "Request is already rejected",
        deletion::COMPLETED => "Request is already completed",
        deletion::CANCELLED => "Request is already cancelled",
        _ => "Request is already pending",
    };
    refuse(StatusCode::BAD_REQUEST, message, json!({}))
}

fn decision_email(owner: &user::Model, request: &deletion::Model) -> (String, String) {
    let greeting = format!("Hello {},", owner.first_name.trim());
    if request.status == APPROVED {
        (
            "Your data deletion request was approved".to_owned(),
            format!(
                "{greeting}\n\nYour request to delete your personal data from PSS was approved. \
                 Your data will be erased shortly; you will receive a last message when it is done.\n"
            ),
        )
    } else {
        (
            "Your data deletion request was not approved".to_owned(),
            format!(
                "{greeting}\n\nYour request to delete your personal data from PSS was not approved.\n\n\
                 Reason: {}\n\nYou may contact the PSS administrators or submit a new request.\n",
                request.admin_notes
            ),
        )
    }
}

/// The answer to an executed erasure.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasedOut {
    pub message: String,
    /// The proof record, as JSON text: `{user_id, email, email_sha256,
    /// deleted_at, items_deleted, user_anonymized}`.
    pub deletion_summary: String,
}

/// Rows erased per kind.
#[derive(Debug, Default, Serialize)]
struct Erased {
    journal_entries: u64,
    admin_notes: u64,
    profile: u64,
    consents: u64,
    intake_forms: u64,
    sessions: u64,
    password_history: u64,
    password_reset_tokens: u64,
    two_factor: u64,
    backup_codes: u64,
}

/// Erases everything held about `owner` and anonymises the account, inside
/// the caller's transaction. The account row stays (as `deleted_<id>@deleted.local`,
/// inactive, no usable password) so the proof and the audit log keep pointing
/// at something.
async fn erase<C: ConnectionTrait>(txn: &C, owner: &user::Model) -> ApiResult<Erased> {
    let id = owner.id;
    let erased = Erased {
        journal_entries: delete_rows(txn, journal_entry::Column::UserId, id).await?,
        admin_notes: delete_rows(txn, admin_note::Column::CandidateId, id).await?,
        consents: delete_rows(txn, consent::Column::UserId, id).await?,
        intake_forms: delete_rows(txn, intake_form::Column::UserId, id).await?,
        sessions: delete_rows(txn, session::Column::UserId, id).await?,
        password_history: delete_rows(txn, password_history::Column::UserId, id).await?,
        password_reset_tokens: delete_rows(txn, password_reset_token::Column::UserId, id).await?,
        two_factor: delete_rows(txn, two_factor::Column::UserId, id).await?,
        backup_codes: delete_rows(txn, backup_code::Column::UserId, id).await?,
        profile: empty_profile(txn, id).await?,
    };
    let mut account: user::ActiveModel = owner.clone().into();
    account.email = Set(anonymised_email(id));
    account.first_name = Set("[DELETED]".to_owned());
    account.last_name = Set("[DELETED]".to_owned());
    account.is_active = Set(false);
    // No password verifies against this, and every token ends.
    account.password = Set(format!("!{}", crate::totp::random_token()));
    account.token_epoch = Set(owner.token_epoch + 1);
    account.last_login = Set(None);
    account.updated_at = Set(Utc::now());
    account.update(txn).await?;
    Ok(erased)
}

/// The rows whose `column` is `id`, oldest first.
async fn rows_of<C, Col>(
    db: &C,
    column: Col,
    id: i64,
) -> ApiResult<Vec<<Col::EntityName as EntityTrait>::Model>>
where
    C: ConnectionTrait,
    Col: ColumnTrait,
    Col::EntityName: EntityTrait,
{
    Ok(<Col::EntityName as EntityTrait>::find()
        .filter(column.eq(id))
        .order_by_id_asc()
        .all(db)
        .await?)
}

/// Deletes the rows whose `column` is `id`; returns how many.
async fn delete_rows<C, Col>(db: &C, column: Col, id: i64) -> ApiResult<u64>
where
    C: ConnectionTrait,
    Col: ColumnTrait,
    Col::EntityName: EntityTrait,
{
    delete_where::<C, Col::EntityName>(db, column.eq(id)).await
}

/// Deletes the rows whose `column` is among the ids `ids` selects.
async fn delete_in<C, Col>(
    db: &C,
    column: Col,
    ids: sea_orm::sea_query::SelectStatement,
) -> ApiResult<u64>
where
    C: ConnectionTrait,
    Col: ColumnTrait,
    Col::EntityName: EntityTrait,
{
    delete_where::<C, Col::EntityName>(db, column.in_subquery(ids)).await
}

/// Deletes the rows of `E` meeting `condition`; returns how many.
async fn delete_where<C, E>(
    db: &C,
    condition: impl sea_orm::sea_query::IntoCondition,
) -> ApiResult<u64>
where
    C: ConnectionTrait,
    E: EntityTrait,
{
    Ok(E::delete_many()
        .filter(condition)
        .exec(db)
        .await?
        .rows_affected)
}

/// Clears every sealed field of a user's profile (every account keeps a
/// profile row); returns 1 when there was one.
async fn empty_profile<C: ConnectionTrait>(db: &C, user_id: i64) -> ApiResult<u64> {
    use std::str::FromStr;
    let mut update = profile::Entity::update_many()
        .col_expr(profile::Column::HasCompletedIntake, Expr::value(false))
        .col_expr(profile::Column::UpdatedAt, Expr::value(Utc::now()));
    for name in crate::seal::PROFILE_SEALED {
        let column = profile::Column::from_str(name).map_err(ApiError::internal)?;
        update = update.col_expr(column, Expr::value(Option::<String>::None));
    }
    Ok(update
        .filter(profile::Column::UserId.eq(user_id))
        .exec(db)
        .await?
        .rows_affected)
}

fn anonymised_email(id: i64) -> String {
    format!("deleted_{id}@deleted.local")
}

/// Inside `txn`: emails `farewell` to the owner's address (the job row holds
/// it sealed until it is sent), erases everything held about them, and
/// completes `request` with its proof record. `by` is who executed it (none
/// for the retention policy). Returns the request, the proof text and
/// whether mail was queued.
pub(crate) async fn complete_erasure<C: ConnectionTrait>(
    txn: &C,
    state: &AppState,
    request: deletion::Model,
    owner: &user::Model,
    by: Option<Actor>,
    farewell: &str,
) -> ApiResult<(deletion::Model, String, bool)> {
    let queued = crate::email::queue(
        txn,
        state,
        &owner.email,
        "Your personal data has been deleted",
        farewell,
    )
    .await?;
    let erased = erase(txn, owner).await?;
    let now = Utc::now();
    let proof = json!({
        "user_id": owner.id,
        "email": anonymised_email(owner.id),
        "email_sha256": crate::password_reset::digest(&owner.email),
        "deleted_at": now,
        "deleted_by": by.map(|a| a.user_id),
        "request_id": request.id,
        "items_deleted": erased,
        "user_anonymized": true,
    })
    .to_string();
    let mut model: deletion::ActiveModel = request.into();
    model.status = Set(deletion::COMPLETED.to_owned());
    model.completed_at = Set(Some(now));
    model.deletion_proof = Set(Some(proof.clone()));
    model.retention_until = Set(Some(now + Days::new(PROOF_RETENTION_DAYS)));
    let saved = model.update(txn).await?;
    audit::record_by(
        txn,
        by,
        "delete",
        "User",
        owner.id,
        Some(json!({"erased": erased, "user_anonymized": true})),
    )
    .await?;
    Ok((saved, proof, queued))
}

/// Erases again whatever reached an erased account after its erasure (a
/// request already under way when it committed). Set-based, so cheap enough
/// for `serve` to run hourly; returns the rows it cleared.
pub async fn sweep_erased(db: &sea_orm::DatabaseConnection) -> ApiResult<u64> {
    use std::str::FromStr;
    let erased = || {
        sea_orm::sea_query::Query::select()
            .column(deletion::Column::UserId)
            .from(deletion::Entity)
            .and_where(deletion::Column::Status.eq(deletion::COMPLETED))
            .to_owned()
    };
    let txn = kernel::db::begin_write(db).await?;
    let mut swept = 0;
    swept += delete_in(&txn, journal_entry::Column::UserId, erased()).await?;
    swept += delete_in(&txn, admin_note::Column::CandidateId, erased()).await?;
    swept += delete_in(&txn, intake_form::Column::UserId, erased()).await?;
    swept += delete_in(&txn, consent::Column::UserId, erased()).await?;
    swept += delete_in(&txn, session::Column::UserId, erased()).await?;
    swept += delete_in(&txn, password_history::Column::UserId, erased()).await?;
    swept += delete_in(&txn, password_reset_token::Column::UserId, erased()).await?;
    swept += delete_in(&txn, two_factor::Column::UserId, erased()).await?;
    swept += delete_in(&txn, backup_code::Column::UserId, erased()).await?;
    let mut update = profile::Entity::update_many()
        .col_expr(profile::Column::HasCompletedIntake, Expr::value(false));
    let mut filled = sea_orm::Condition::any();
    for name in crate::seal::PROFILE_SEALED {
        let column = profile::Column::from_str(name).map_err(ApiError::internal)?;
        update = update.col_expr(column, Expr::value(Option::<String>::None));
        filled = filled.add(column.is_not_null());
    }
    swept += update
        .filter(profile::Column::UserId.in_subquery(erased()))
        .filter(filled)
        .exec(&txn)
        .await?
        .rows_affected;
    if swept > 0 {
        audit::record_by(
            &txn,
            None,
            "delete",
            "ErasedAccountLeftovers",
            0,
            Some(json!({"rows": swept})),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(swept)
}

/// Erase the data of an approved request's account, in one transaction,
/// keeping a proof record for two years (administrators and superusers,
/// never on their own request).
#[utoipa::path(post, path = "/api/popia/deletion-requests/{id}/execute/", tag = "popia", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = ErasedOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn execute_deletion_request(
    State(state): State<AppState>,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
) -> ApiResult<Json<ErasedOut>> {
    let me = reviewer(me)?;
    let txn = kernel::db::begin_write(&state.db).await?;
    let (request, owner) = reviewable(&txn, &me, id).await?;
    if request.status != APPROVED {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Only approved requests can be executed",
            json!({}),
        ));
    }
    let farewell = format!(
        "Hello {},\n\nAs you asked, your personal data has been erased from PSS and your \
         account closed. A record that the erasure took place (without your personal data) \
         is kept for two years, as the law requires.\n",
        owner.first_name.trim()
    );
    let (saved, proof, queued) = complete_erasure(
        &txn,
        &state,
        request,
        &owner,
        Some(Actor::new(me.id(), ip)),
        &farewell,
    )
    .await?;
    audit::record(
        &txn,
        Actor::new(me.id(), ip),
        "update",
        "DataDeletionRequest",
        saved.id,
        Some(json!({"status": [APPROVED, deletion::COMPLETED]})),
    )
    .await?;
    txn.commit().await?;
    crate::email::wake(&state, queued);
    Ok(Json(ErasedOut {
        message: "User data deleted successfully".to_owned(),
        deletion_summary: proof,
    }))
}

/// Withdraw one's own pending request.
#[utoipa::path(post, path = "/api/popia/deletion-requests/{id}/cancel/", tag = "popia", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = DeletionRequestOut), (status = 400), (status = 401), (status = 404)))]
pub async fn cancel_deletion_request(
    State(state): State<AppState>,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
) -> ApiResult<Json<DeletionRequestOut>> {
    let txn = kernel::db::begin_write(&state.db).await?;
    let request = deletion::Entity::find_by_id(id)
        .filter(deletion::Column::UserId.eq(me.id()))
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(request_not_found)?;
    if request.status != PENDING {
        return Err(already(&request.status));
    }
    let mut model: deletion::ActiveModel = request.into();
    model.status = Set(deletion::CANCELLED.to_owned());
    let saved = model.update(&txn).await?;
    audit::record(
        &txn,
        Actor::new(me.id(), ip),
        "update",
        "DataDeletionRequest",
        saved.id,
        Some(json!({"status": [PENDING, deletion::CANCELLED]})),
    )
    .await?;
    txn.commit().await?;
    // Only pending requests are cancelled, and those nobody reviewed yet.
    Ok(Json(DeletionRequestOut::new(saved, &me.0.email, None)))
}
