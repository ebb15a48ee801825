//! Privacy-policy versions: the one in force, the history, new versions and
//! activating one.

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use kernel::Db;
use kernel::audit::Action;
use kernel::extract::{ClientIp, IntId};
use kernel::listing::ListQuery;
use kernel::{ApiError, ApiResult, Checker, Field, Json, Page, PageSize};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::{self, Actor};
use crate::entities::privacy_policy;
use crate::principal::Staff;

use super::refuse;

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

pub(super) async fn active_policy<C: ConnectionTrait>(
    db: &C,
) -> ApiResult<Option<privacy_policy::Model>> {
    Ok(privacy_policy::Entity::find()
        .filter(privacy_policy::Column::IsActive.eq(true))
        .order_by_desc(privacy_policy::Column::Id)
        .one(db)
        .await?)
}

/// The privacy policy in force (public).
#[utoipa::path(get, path = "/api/popia/privacy-policy/", tag = "popia",
    responses((status = 200, body = PrivacyPolicyOut), (status = 404, description = "No policy has been published")))]
pub async fn privacy_policy(Db(db): Db) -> ApiResult<Json<PrivacyPolicyOut>> {
    let policy = active_policy(&db).await?.ok_or_else(|| {
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
    Db(db): Db,
    _staff: Staff,
    list: ListQuery,
) -> ApiResult<Json<Page<PrivacyPolicyOut>>> {
    let query = privacy_policy::Entity::find().order_by_desc(privacy_policy::Column::Id);
    let page = list.page(&db, query, PageSize::DEFAULT).await?;
    Ok(Json(page.map(PrivacyPolicyOut::from)))
}

/// `YYYY-MM-DD`; today when left out or null.
fn effective_date() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::or_null(kernel::form::schema::date_from_1900())
}

/// A new version of the privacy policy.
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
    Db(db): Db,
    Staff(me): Staff,
    ClientIp(ip): ClientIp,
    Json(input): Json<PrivacyPolicyIn>,
) -> ApiResult<(StatusCode, Json<PrivacyPolicyOut>)> {
    let mut c = Checker::new();
    let version = c.text("version", input.version, 20);
    let title = c.text("title", input.title, 200);
    let content = c.text("content", input.content, 100_000);
    let effective_date = match input.effective_date {
        Field::Absent | Field::Null => Some(kernel::time::now().date_naive()),
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
            .one(&db)
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
    let txn = kernel::db::begin_write(&db).await?;
    let created = privacy_policy::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        version: Set(version),
        title: Set(title),
        content: Set(content),
        effective_date: Set(effective_date),
        is_active: Set(false),
        created_by: Set(Some(me.id())),
        created_at: Set(kernel::time::now()),
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
        Actor::user(me.id(), ip),
        Action::CREATE,
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
    Db(db): Db,
    Staff(me): Staff,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
) -> ApiResult<Json<PrivacyPolicyOut>> {
    let txn = kernel::db::begin_write(&db).await?;
    let policy = privacy_policy::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "Privacy policy not found", json!({})))?;
    activate(&txn, policy.id).await?;
    if !policy.is_active {
        audit::record(
            &txn,
            Actor::user(me.id(), ip),
            Action::UPDATE,
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
