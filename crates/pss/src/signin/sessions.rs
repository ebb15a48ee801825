//! Sign-in sessions: one per refresh-token family, with the device it was
//! opened from. The session id rides in both tokens as the `sid` claim (kept
//! across refresh rotation); ending a session ends its refresh and access
//! tokens at once, because the principal extractor and the refresh endpoint
//! refuse tokens of an ended session.

use kernel::Db;
use kernel::audit::Action;
use std::net::IpAddr;

use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;
use chrono::{DateTime, TimeDelta, Utc};
use kernel::extract::ClientIp;
use kernel::jwt::{AccessClaims, Claims, TokenPair};
use kernel::{ApiError, ApiResult, Checker, Field, Json, Query};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Actor};
use crate::entities::session;
use crate::entities::user::{self, Role};
use crate::principal::{CurrentUser, Staff};
use crate::state::AppState;

/// The claim naming the session a token belongs to.
pub const SID: &str = "sid";

/// How stale `last_activity` may get before a request refreshes it.
const ACTIVITY_GRANULARITY: TimeDelta = TimeDelta::minutes(5);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sessions))
        .routes(routes!(end_all_sessions))
        .routes(routes!(end_other_sessions))
        .routes(routes!(end_session))
        .routes(routes!(admin_sessions))
        .routes(routes!(force_logout))
}

/// The session id a token carries, if any.
pub fn sid(claims: &Claims) -> Option<i64> {
    claims.extra.get(SID).and_then(Value::as_i64)
}

/// Device, browser and operating system, parsed simply from a User-Agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub device_type: &'static str,
    pub browser: &'static str,
    pub os: &'static str,
}

pub fn parse_user_agent(ua: &str) -> Device {
    let l = ua.to_ascii_lowercase();
    let has = |needle: &str| l.contains(needle);
    let device_type = if l.is_empty() {
        "unknown"
    } else if has("bot") || has("crawler") || has("spider") || has("curl/") || has("python-") {
        "bot"
    } else if has("ipad") || has("tablet") || (has("android") && !has("mobile")) {
        "tablet"
    } else if has("mobi") || has("iphone") || has("android") {
        "mobile"
    } else if has("windows") || has("macintosh") || has("linux") || has("x11") || has("cros") {
        "pc"
    } else {
        "unknown"
    };
    let browser = if has("edg/") || has("edge/") {
        "Edge"
    } else if has("opr/") || has("opera") {
        "Opera"
    } else if has("firefox/") || has("fxios/") {
        "Firefox"
    } else if has("chrome/") || has("crios/") || has("chromium/") {
        "Chrome"
    } else if has("safari/") {
        "Safari"
    } else if has("curl/") {
        "curl"
    } else {
        "Other"
    };
    let os = if has("windows") {
        "Windows"
    } else if has("iphone") || has("ipad") || has("ios") {
        "iOS"
    } else if has("android") {
        "Android"
    } else if has("mac os") || has("macintosh") {
        "Mac OS X"
    } else if has("cros") {
        "Chrome OS"
    } else if has("linux") || has("x11") {
        "Linux"
    } else {
        "Other"
    };
    Device {
        device_type,
        browser,
        os,
    }
}

/// The request's User-Agent (at most 512 characters).
pub fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .filter(|c| *c != '\0')
        .take(512)
        .collect()
}

/// Opens a session for `user_id` and returns its id. Suspicious when the user
/// has earlier sessions and none shares the address or the device.
pub async fn start<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    user_id: i64,
    ip: Option<IpAddr>,
    ua: &str,
) -> ApiResult<i64> {
    let device = parse_user_agent(ua);
    let ip_text = ip.map(|ip| ip.to_string());
    let earlier: Vec<session::Model> = session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .order_by_desc(session::Column::Id)
        .limit(50)
        .all(db)
        .await?;
    let is_suspicious = !earlier.is_empty()
        && !earlier.iter().any(|s| {
            (ip_text.is_some() && s.ip_address == ip_text)
                || (s.device_type == device.device_type
                    && s.browser == device.browser
                    && s.os == device.os)
        });
    let now = kernel::time::now();
    let lifetime = TimeDelta::from_std(state.jwt.refresh_lifetime).unwrap_or(TimeDelta::days(1));
    let row = session::ActiveModel {
        user_id: Set(user_id),
        device_type: Set(device.device_type.to_owned()),
        browser: Set(device.browser.to_owned()),
        os: Set(device.os.to_owned()),
        user_agent: Set(ua.to_owned()),
        ip_address: Set(ip_text),
        is_suspicious: Set(is_suspicious),
        created_at: Set(now),
        last_activity: Set(now),
        expires_at: Set(now + lifetime),
        terminated_at: Set(None),
        session_key: Set(Some(
            crate::migration::m0006_original_compat::new_session_key(),
        )),
        country: Set(None),
        city: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(row.id)
}

/// A token pair for `user` in session `sid`.
pub fn issue(state: &AppState, user: &user::Model, sid: i64) -> ApiResult<TokenPair> {
    let mut extra = Map::new();
    extra.insert(SID.into(), sid.into());
    kernel::identity::issue(state, user, extra)
}

/// The live session a token of `user_id` names (one indexed lookup), its
/// activity refreshed when stale; `None` when ended or not the user's.
pub async fn live<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    sid: i64,
) -> ApiResult<Option<session::Model>> {
    let found = session::Entity::find_by_id(sid)
        .one(db)
        .await?
        .filter(|s| s.user_id == user_id && s.terminated_at.is_none());
    if let Some(s) = &found {
        let now = kernel::time::now();
        if now - s.last_activity > ACTIVITY_GRANULARITY {
            session::Entity::update_many()
                .col_expr(session::Column::LastActivity, Expr::value(now))
                .filter(session::Column::Id.eq(s.id))
                .exec(db)
                .await?;
        }
    }
    Ok(found)
}

/// Ended and expired sessions are kept this long (people review their recent
/// sign-ins, and new sign-ins are compared with them), then forgotten.
pub const KEEP_ENDED: TimeDelta = TimeDelta::days(90);

/// Forgets sessions that ended or expired more than [`KEEP_ENDED`] before `now`.
pub async fn purge_ended<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<u64, sea_orm::DbErr> {
    let cutoff = now - KEEP_ENDED;
    let result = session::Entity::delete_many()
        .filter(
            sea_orm::Condition::any()
                .add(session::Column::TerminatedAt.lt(cutoff))
                .add(session::Column::ExpiresAt.lt(cutoff)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Ends every live session of a user; returns them.
pub async fn end_all<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    except: Option<i64>,
) -> ApiResult<Vec<session::Model>> {
    let mut query = session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::TerminatedAt.is_null());
    if let Some(keep) = except {
        query = query.filter(session::Column::Id.ne(keep));
    }
    let ended = query.all(db).await?;
    if !ended.is_empty() {
        session::Entity::update_many()
            .col_expr(
                session::Column::TerminatedAt,
                Expr::value(kernel::time::now()),
            )
            .filter(session::Column::Id.is_in(ended.iter().map(|s| s.id)))
            .exec(db)
            .await?;
    }
    Ok(ended)
}

fn time_since(then: DateTime<Utc>) -> String {
    let secs = Ord::max((kernel::time::now() - then).num_seconds(), 0);
    match secs {
        0..60 => "Just now".into(),
        60..3600 => format!("{} minutes ago", secs / 60),
        3600..86400 => format!("{} hours ago", secs / 3600),
        _ => format!("{} days ago", secs / 86400),
    }
}

/// A sign-in session.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserSessionOut {
    pub id: i64,
    /// The original's name of the session (64 hex digits): `DELETE
    /// /api/auth/sessions/{session_key}/` ends it.
    pub session_key: Option<String>,
    pub device_type: String,
    pub browser: String,
    pub os: String,
    pub user_agent: String,
    pub ip_address: Option<String>,
    /// Where the session was opened from, when known; null otherwise.
    pub country: Option<String>,
    /// Where the session was opened from, when known; null otherwise.
    pub city: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_activity: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub is_active: bool,
    pub is_expired: bool,
    pub is_suspicious: bool,
    pub is_current: bool,
    pub time_since_activity: String,
    /// Admin list only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_email: Option<String>,
    /// Admin list only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_role: Option<String>,
}

impl UserSessionOut {
    fn new(s: session::Model, current: Option<i64>) -> Self {
        let is_expired = s.expires_at <= kernel::time::now();
        Self {
            id: s.id,
            is_current: current == Some(s.id),
            is_active: s.terminated_at.is_none() && !is_expired,
            is_expired,
            time_since_activity: time_since(s.last_activity),
            device_type: s.device_type,
            browser: s.browser,
            os: s.os,
            user_agent: s.user_agent,
            ip_address: s.ip_address,
            session_key: s.session_key,
            country: s.country.filter(|c| !c.is_empty()),
            city: s.city.filter(|c| !c.is_empty()),
            created_at: s.created_at,
            last_activity: s.last_activity,
            expires_at: s.expires_at,
            is_suspicious: s.is_suspicious,
            user_email: None,
            user_role: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsOut {
    pub sessions: Vec<UserSessionOut>,
    pub count: usize,
}

fn live_query(user_id: i64) -> sea_orm::Select<session::Entity> {
    session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::TerminatedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(kernel::time::now()))
}

/// The caller's live sessions, most recently active first; `is_current`
/// marks the one of the token in use.
#[utoipa::path(get, path = "/api/auth/sessions/", tag = "sessions", security(("jwt" = [])),
    responses((status = 200, body = SessionsOut), (status = 401)))]
pub async fn list_sessions(
    Db(db): Db,
    me: CurrentUser,
    AccessClaims(claims): AccessClaims,
) -> ApiResult<Json<SessionsOut>> {
    let current = sid(&claims);
    let rows = live_query(me.id())
        .order_by_desc(session::Column::LastActivity)
        .order_by_desc(session::Column::Id)
        .all(&db)
        .await?;
    let sessions: Vec<_> = rows
        .into_iter()
        .map(|s| UserSessionOut::new(s, current))
        .collect();
    Ok(Json(SessionsOut {
        count: sessions.len(),
        sessions,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionEndedOut {
    pub message: String,
    pub device: String,
    pub browser: String,
}

/// The one audit row of a write that ended several sessions of `account` at
/// once: which, and how many (`more` adds to what it records).
async fn record_ended<C: ConnectionTrait>(
    db: &C,
    who: Actor,
    account: i64,
    ended: &[session::Model],
    more: Value,
) -> ApiResult<()> {
    let mut changes = json!({
        "sessions_terminated": ended.len(),
        "session_ids": ended.iter().map(|s| s.id).collect::<Vec<_>>(),
    });
    if let (Some(changes), Value::Object(more)) = (changes.as_object_mut(), more) {
        changes.extend(more);
    }
    audit::record(db, who, Action::UPDATE, "User", account, Some(changes)).await
}

/// A session as a path names it: its id (campus) or its `session_key`
/// (the original).
enum SessionRef {
    Id(i64),
    Key(String),
}

impl SessionRef {
    fn parse(raw: &str) -> Option<Self> {
        if let Some(id) = kernel::extract::parse_int_id(raw) {
            return Some(Self::Id(id));
        }
        (!raw.is_empty() && raw.len() <= 128 && raw.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| Self::Key(raw.to_owned()))
    }
}

/// End one of the caller's other sessions, named by its id or by its
/// `session_key` (the original's path): its refresh and access tokens stop
/// working at once. The current session ends with logout instead.
#[utoipa::path(delete, path = "/api/auth/sessions/{id}/", tag = "sessions", security(("jwt" = [])),
    params(("id" = String, Path, description = "The session's `id`, or its `session_key` (64 hex digits) as the original's clients send it.")),
    responses((status = 200, body = SessionEndedOut), (status = 400), (status = 401), (status = 404)))]
pub async fn end_session(
    Db(db): Db,
    me: CurrentUser,
    AccessClaims(claims): AccessClaims,
    ClientIp(ip): ClientIp,
    axum::extract::Path(raw): axum::extract::Path<String>,
) -> ApiResult<Json<SessionEndedOut>> {
    let not_found = || ApiError::not_found_msg("Session not found");
    let named = SessionRef::parse(&raw).ok_or_else(not_found)?;
    let current_refused =
        || ApiError::bad_request("Cannot delete current session. Use /auth/logout/ to logout.");
    let filter = match &named {
        SessionRef::Id(id) => {
            if sid(&claims) == Some(*id) {
                return Err(current_refused());
            }
            session::Column::Id.eq(*id)
        }
        SessionRef::Key(key) => session::Column::SessionKey.eq(key.as_str()),
    };
    let txn = kernel::db::begin_write(&db).await?;
    let found = live_query(me.id())
        .filter(filter)
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    if sid(&claims) == Some(found.id) {
        return Err(current_refused());
    }
    session::Entity::update_many()
        .col_expr(
            session::Column::TerminatedAt,
            Expr::value(kernel::time::now()),
        )
        .filter(session::Column::Id.eq(found.id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        Actor::user(me.id(), ip),
        Action::UPDATE,
        "UserSession",
        found.id,
        Some(json!({"terminated_at": "changed", "reason": "user"})),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(SessionEndedOut {
        message: "Session terminated successfully".into(),
        device: found.device_type,
        browser: found.browser,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AllEndedOut {
    pub message: String,
    pub count: usize,
    pub detail: String,
}

/// End every session of the caller, this one included (every token of the
/// account stops working).
#[utoipa::path(delete, path = "/api/auth/sessions/all/", tag = "sessions", security(("jwt" = [])),
    responses((status = 200, body = AllEndedOut), (status = 401)))]
pub async fn end_all_sessions(
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
) -> ApiResult<Json<AllEndedOut>> {
    let txn = kernel::db::begin_write(&db).await?;
    let ended = end_all(&txn, me.id(), None).await?;
    bump_epoch(&txn, me.id()).await?;
    record_ended(
        &txn,
        Actor::user(me.id(), ip),
        me.id(),
        &ended,
        json!({"token_epoch": "changed", "reason": "user"}),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(AllEndedOut {
        message: "All sessions terminated successfully".into(),
        count: ended.len(),
        detail: "You have been logged out from all devices.".into(),
    }))
}

/// Ends every outstanding token of a user (the token epoch).
/// Ends every token of `user_id` (the kernel's token epoch).
pub async fn bump_epoch<C: ConnectionTrait>(db: &C, user_id: i64) -> ApiResult<()> {
    kernel::identity::bump_epoch::<user::Model>(db, user_id).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndedDevice {
    pub device: String,
    pub browser: String,
    pub last_activity: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OthersEndedOut {
    pub message: String,
    pub count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminated_devices: Option<Vec<EndedDevice>>,
}

/// End every session of the caller except the current one.
#[utoipa::path(delete, path = "/api/auth/sessions/all-except-current/", tag = "sessions", security(("jwt" = [])),
    responses((status = 200, body = OthersEndedOut), (status = 401)))]
pub async fn end_other_sessions(
    Db(db): Db,
    me: CurrentUser,
    AccessClaims(claims): AccessClaims,
    ClientIp(ip): ClientIp,
) -> ApiResult<Json<OthersEndedOut>> {
    let txn = kernel::db::begin_write(&db).await?;
    let ended = end_all(&txn, me.id(), Some(sid(&claims).unwrap_or(0))).await?;
    record_ended(
        &txn,
        Actor::user(me.id(), ip),
        me.id(),
        &ended,
        json!({"reason": "user"}),
    )
    .await?;
    txn.commit().await?;
    if ended.is_empty() {
        return Ok(Json(OthersEndedOut {
            message: "No sessions to terminate".into(),
            count: 0,
            terminated_devices: None,
        }));
    }
    Ok(Json(OthersEndedOut {
        message: format!("Terminated {} other session(s)", ended.len()),
        count: ended.len(),
        terminated_devices: Some(
            ended
                .into_iter()
                .map(|s| EndedDevice {
                    device: s.device_type,
                    browser: s.browser,
                    last_activity: s.last_activity,
                })
                .collect(),
        ),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AdminSessionsQuery {
    pub user_email: Option<String>,
    pub active_only: Option<String>,
    pub suspicious_only: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminSessionsOut {
    pub sessions: Vec<UserSessionOut>,
    pub count: usize,
    pub filters: Value,
}

fn truthy(value: Option<&str>) -> bool {
    matches!(
        value.map(str::to_ascii_lowercase).as_deref(),
        Some("true" | "1" | "yes")
    )
}

/// Every account's sessions, most recently active first (at most 500), for
/// administrators and superusers.
#[utoipa::path(get, path = "/api/auth/admin/sessions/", tag = "sessions", security(("jwt" = [])),
    params(("user_email" = Option<String>, Query),
           ("active_only" = Option<String>, Query, description = "`true`, `1` or `yes` (any case) keeps live sessions only; any other value does not."),
           ("suspicious_only" = Option<String>, Query, description = "`true`, `1` or `yes` (any case) keeps suspicious sessions only; any other value does not.")),
    responses((status = 200, body = AdminSessionsOut), (status = 401), (status = 403)))]
pub async fn admin_sessions(
    Db(db): Db,
    _staff: Staff,
    Query(q): Query<AdminSessionsQuery>,
) -> ApiResult<Json<AdminSessionsOut>> {
    if q.user_email.as_deref().is_some_and(|e| e.contains('\0')) {
        return Err(ApiError::field("user_email", kernel::form::NO_NUL));
    }
    let active_only = truthy(q.active_only.as_deref());
    let suspicious_only = truthy(q.suspicious_only.as_deref());
    let mut query = session::Entity::find();
    if let Some(email) = q.user_email.as_deref().filter(|e| !e.trim().is_empty()) {
        let email = email.trim().to_lowercase();
        let ids: Vec<i64> = user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .all(&db)
            .await?
            .into_iter()
            .map(|u| u.id)
            .collect();
        query = query.filter(session::Column::UserId.is_in(ids));
    }
    if active_only {
        query = query
            .filter(session::Column::TerminatedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(kernel::time::now()));
    }
    if suspicious_only {
        query = query.filter(session::Column::IsSuspicious.eq(true));
    }
    let rows = query
        .order_by_desc(session::Column::LastActivity)
        .order_by_desc(session::Column::Id)
        .limit(500)
        .all(&db)
        .await?;
    let mut ids: Vec<i64> = rows.iter().map(|s| s.user_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let users: std::collections::HashMap<i64, user::Model> = if ids.is_empty() {
        Default::default()
    } else {
        user::Entity::find()
            .filter(user::Column::Id.is_in(ids))
            .all(&db)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect()
    };
    let sessions: Vec<_> = rows
        .into_iter()
        .map(|s| {
            let owner = users.get(&s.user_id);
            let mut out = UserSessionOut::new(s, None);
            out.user_email = owner.map(|u| u.email.clone());
            out.user_role = owner.map(|u| u.role.as_str().to_owned());
            out
        })
        .collect();
    Ok(Json(AdminSessionsOut {
        count: sessions.len(),
        sessions,
        filters: json!({
            "user_email": q.user_email,
            "active_only": active_only,
            "suspicious_only": suspicious_only,
        }),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ForceLogoutIn {
    #[serde(default)]
    #[schema(value_type = i64, required = true)]
    pub user_id: Field<i64>,
    /// Why, for the audit log.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<500>, required = true)]
    pub reason: Field<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForceLogoutOut {
    pub message: String,
    pub sessions_terminated: usize,
    pub target_user: String,
    pub reason: String,
}

/// End every session and token of an account. Only a superuser may force a
/// superuser out; an administrator reaches candidates and administrators.
#[utoipa::path(post, path = "/api/auth/admin/force-logout/", tag = "sessions", security(("jwt" = [])), request_body = ForceLogoutIn,
    responses((status = 200, body = ForceLogoutOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn force_logout(
    Db(db): Db,
    Staff(me): Staff,
    ClientIp(ip): ClientIp,
    Json(input): Json<ForceLogoutIn>,
) -> ApiResult<Json<ForceLogoutOut>> {
    let user_id = match input.user_id {
        Field::Value(id) => id,
        _ => return Err(ApiError::bad_request("user_id is required")),
    };
    let reason = match input.reason {
        Field::Value(r) if !r.trim().is_empty() => r.trim().to_owned(),
        _ => {
            return Err(ApiError::bad_request(
                "reason is required for audit compliance",
            ));
        }
    };
    let mut c = Checker::new();
    let reason = c.text("reason", Field::Value(reason), 500);
    c.finish()?;
    let reason = reason.unwrap_or_default();
    let target = user::Entity::find_by_id(user_id)
        .one(&db)
        .await?
        .ok_or_else(|| ApiError::not_found_msg("User not found"))?;
    if target.role == Role::Superuser && !me.is_superuser() {
        return Err(ApiError::forbidden("Cannot force logout a superuser"));
    }
    let txn = kernel::db::begin_write(&db).await?;
    let ended = end_all(&txn, target.id, None).await?;
    bump_epoch(&txn, target.id).await?;
    record_ended(
        &txn,
        Actor::user(me.id(), ip),
        target.id,
        &ended,
        json!({"force_logout": "changed", "token_epoch": "changed", "reason": reason}),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(ForceLogoutOut {
        message: format!("Force logged out {}", target.email),
        sessions_terminated: ended.len(),
        target_user: target.email,
        reason,
    }))
}
