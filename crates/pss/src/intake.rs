//! Intake: `POST /api/intake/submit/` stores the submitted form (sealed) as an
//! `IntakeForm`, copies the profile fields it answers onto the profile and
//! marks the intake complete; `GET /api/intake/{user_id}/` reads it back
//! (administrators: candidates; anyone: their own).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use kernel::Db;
use kernel::audit::Action;
use kernel::extract::{ClientIp, IntId};
use kernel::{ApiError, ApiResult, Checker, Field, FieldErrors, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Actor};
use crate::entities::{intake_form, profile};
use crate::principal::CurrentUser;
use crate::profiles::{ProfileOut, check_fields, fields_from_object};
use crate::seal::Row;
use crate::state::AppState;
use crate::users::audit_profile_read;
use kernel::Scoped;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit_intake))
        .routes(routes!(retrieve_intake))
}

/// The original's `POST /api/intake/` (answering 200, as it did).
pub fn aliases() -> axum::Router<AppState> {
    axum::Router::new().route("/api/intake/", axum::routing::post(submit_intake_original))
}

/// Largest intake form accepted, in characters of JSON.
const MAX_RESPONSES: usize = 100_000;

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct IntakeIn {
    /// The answers, as a JSON object. Answers named like profile fields
    /// (`diagnosis`, `phone_number`, ...) are validated and copied onto the
    /// profile; the whole form is kept.
    #[schema(schema_with = responses, required = true)]
    #[serde(default)]
    pub responses: Field<Value>,
    /// The original's name for `responses`.
    #[schema(ignore)]
    #[serde(default)]
    pub intake_data: Field<Value>,
}

/// A non-empty object; answers named like profile fields must be valid
/// profile values.
fn responses() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::AllOfBuilder::new()
        .item(utoipa::openapi::Ref::from_schema_name("ProfileIn"))
        .item(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::Object)
                .min_properties(Some(1)),
        )
        .into()
}

/// One submitted intake form, decrypted.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeFormOut {
    pub id: i64,
    pub user: i64,
    #[schema(value_type = Object)]
    pub responses: Value,
    pub status: String,
    pub submitted_at: chrono::DateTime<Utc>,
}

impl IntakeFormOut {
    pub(crate) fn open(state: &AppState, form: &intake_form::Model) -> ApiResult<Self> {
        let row = Row::new(&state.keys, intake_form::TABLE, form.id);
        let text = row.text("responses", form.responses.as_deref())?;
        Ok(Self {
            id: form.id,
            user: form.user_id,
            responses: serde_json::from_str(&text).unwrap_or(Value::Null),
            status: form.status.clone(),
            submitted_at: form.submitted_at,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeSubmittedOut {
    pub detail: String,
    pub intake: IntakeFormOut,
    pub profile: ProfileOut,
}

async fn submit(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    me: &CurrentUser,
    ip: Option<std::net::IpAddr>,
    input: IntakeIn,
) -> ApiResult<IntakeSubmittedOut> {
    let (key, value) = match (input.responses, input.intake_data) {
        (Field::Absent, other) => ("intake_data", other),
        (responses, _) => ("responses", responses),
    };
    let object = match value {
        Field::Value(Value::Object(object)) if !object.is_empty() => object,
        Field::Value(Value::Object(_)) | Field::Absent | Field::Null => {
            return Err(ApiError::bad_request("No intake data provided"));
        }
        Field::Value(other) => {
            return Err(ApiError::field(
                key,
                format!(
                    "Expected a dictionary of items but got type \"{}\".",
                    match other {
                        Value::Array(_) => "list",
                        Value::String(_) => "str",
                        Value::Number(_) => "int",
                        _ => "bool",
                    }
                ),
            ));
        }
    };
    let text = serde_json::to_string(&object).map_err(ApiError::internal)?;
    if text.chars().count() > MAX_RESPONSES {
        return Err(ApiError::field(
            key,
            format!("Ensure this field has no more than {MAX_RESPONSES} characters."),
        ));
    }
    let mut errors = FieldErrors::new();
    let prefix = format!("{key}.");
    let fields = fields_from_object(&object, &prefix, &mut errors);
    errors.into_result()?;
    let mut c = Checker::partial(true);
    let values = check_fields(&mut c, fields, &prefix);
    c.finish()?;

    let actor = Actor::user(me.id(), ip);
    let txn = kernel::db::begin_write(db).await?;
    let current = profile::Entity::find()
        .filter(profile::Column::UserId.eq(me.id()))
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::not_found_msg("No UserProfile matches the given query."))?;
    let form = intake_form::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        user_id: Set(me.id()),
        responses: Set(None),
        status: Set("submitted".to_owned()),
        submitted_at: Set(kernel::time::now()),
    }
    .insert(&txn)
    .await?;
    // The id binds the ciphertext, so it is sealed once the row has one.
    let sealed = Row::new(&state.keys, intake_form::TABLE, form.id).seal("responses", Some(&text));
    let mut model: intake_form::ActiveModel = form.into();
    model.responses = Set(sealed);
    let form = model.update(&txn).await?;
    let (updated, profile_changes) =
        crate::profiles::update_profile_row(state, &txn, &current, &values, Some(true)).await?;
    // One row for the submission: the form, and which profile fields it set.
    audit::record(
        &txn,
        actor,
        Action::CREATE,
        "IntakeForm",
        form.id,
        Some(json!({"responses": "changed", "profile": profile_changes})),
    )
    .await?;
    let out = IntakeSubmittedOut {
        detail: "Intake completed successfully".to_owned(),
        intake: IntakeFormOut::open(state, &form)?,
        profile: ProfileOut::open(&state.keys, &updated)?,
    };
    txn.commit().await?;
    Ok(out)
}

/// Submit the caller's intake form. Re-submitting is allowed: a new form is
/// stored and the answered profile fields are overwritten.
#[utoipa::path(post, path = "/api/intake/submit/", tag = "intake", security(("jwt" = [])), request_body = IntakeIn,
    responses((status = 201, body = IntakeSubmittedOut), (status = 400), (status = 401)))]
pub async fn submit_intake(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<IntakeIn>,
) -> ApiResult<(StatusCode, Json<IntakeSubmittedOut>)> {
    let out = submit(&state, &db, &me, ip, input).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

async fn submit_intake_original(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<IntakeIn>,
) -> ApiResult<Json<IntakeSubmittedOut>> {
    Ok(Json(submit(&state, &db, &me, ip, input).await?))
}

/// A user's intake: the profile fields, the latest submitted form and how
/// many forms were submitted.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeDetailOut {
    #[serde(flatten)]
    pub profile: ProfileOut,
    pub intake: Option<IntakeFormOut>,
    pub submissions: u64,
}

async fn latest_form<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
) -> ApiResult<Option<intake_form::Model>> {
    Ok(intake_form::Entity::find()
        .filter(intake_form::Column::UserId.eq(user_id))
        .order_by_desc(intake_form::Column::SubmittedAt)
        .order_by_desc(intake_form::Column::Id)
        .one(db)
        .await?)
}

/// A user's intake (administrators: candidates'; anyone: their own). Reading
/// someone else's is audited.
#[utoipa::path(get, path = "/api/intake/{user_id}/", tag = "intake", security(("jwt" = [])), params(("user_id" = i64, Path)),
    responses((status = 200, body = IntakeDetailOut), (status = 401), (status = 404)))]
pub async fn retrieve_intake(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    IntId(user_id): IntId,
) -> ApiResult<Json<IntakeDetailOut>> {
    let user = crate::entities::user::Entity::find_visible(&db, &me, user_id).await?;
    let profile = crate::profiles::profile_of(&db, user.id).await?;
    let form = latest_form(&db, user.id).await?;
    let submissions = intake_form::Entity::find()
        .filter(intake_form::Column::UserId.eq(user.id))
        .count(&db)
        .await?;
    let out = IntakeDetailOut {
        profile: ProfileOut::open(&state.keys, &profile)?,
        intake: form
            .as_ref()
            .map(|f| IntakeFormOut::open(&state, f))
            .transpose()?,
        submissions,
    };
    audit_profile_read(&db, &me, ip, user.id, profile.id).await?;
    if let Some(form) = &form
        && user.id != me.id()
    {
        audit::record(
            &db,
            Actor::user(me.id(), ip),
            Action::READ,
            "IntakeForm",
            form.id,
            None,
        )
        .await?;
    }
    Ok(Json(out))
}
