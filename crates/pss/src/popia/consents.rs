//! Consents per type, granted to the policy in force and withdrawn, with when,
//! from where and to which policy version.

use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use kernel::Db;
use kernel::audit::Action;
use kernel::extract::{ClientIp, IntId};
use kernel::listing::ListQuery;
use kernel::{ApiResult, Checker, Field, FilterKind, Json, Page, PageSize};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::{self, Actor};
use crate::entities::{consent, privacy_policy, user};
use crate::principal::CurrentUser;

use super::policies::active_policy;
use super::refuse;

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
    Db(db): Db,
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
    let page = list.page(&db, query, PageSize::DEFAULT).await?;
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
    Db(db): Db,
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
    let policy = active_policy(&db).await?.ok_or_else(invalid)?;
    if by_id.is_some_and(|id| id != policy.id)
        || by_version.as_deref().is_some_and(|v| v != policy.version)
    {
        return Err(invalid());
    }
    let user_agent = crate::sessions::user_agent(&headers);
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
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
        Actor::user(me.id(), ip),
        if before.is_some() {
            Action::UPDATE
        } else {
            Action::CREATE
        },
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
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    IntId(id): IntId,
) -> ApiResult<Json<ConsentOut>> {
    let txn = kernel::db::begin_write(&db).await?;
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
    let now = kernel::time::now();
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
        Actor::user(me.id(), ip),
        Action::UPDATE,
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
