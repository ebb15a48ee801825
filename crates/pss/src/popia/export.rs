//! The right of access: everything held about the caller, as a JSON file.

use kernel::Db;
use kernel::audit::Action;
use std::collections::hash_map::Entry;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use kernel::extract::ClientIp;
use kernel::{ApiError, ApiResult};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use serde_json::{Value, json};

use crate::audit::{self, Actor};
use crate::entities::deletion_request::{self as deletion};
use crate::entities::{
    admin_note, backup_code, consent, export_request, intake_form, journal_entry, password_history,
    privacy_policy, profile, session, two_factor, user,
};
use crate::principal::CurrentUser;
use crate::state::AppState;

/// An export counts as current for this long.
const EXPORT_VALID_HOURS: i64 = 48;

/// Everything held about one person, decrypted: the body of the export file.
async fn everything_about(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    person: &user::Model,
) -> ApiResult<Value> {
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
            "exported_at": kernel::time::now(),
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
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
) -> ApiResult<Response> {
    let mut data = everything_about(&state, &db, &me.0).await?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
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
        Actor::user(me.id(), ip),
        Action::READ,
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
