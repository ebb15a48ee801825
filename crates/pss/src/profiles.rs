//! Profiles: one per account, created with it, every personal and medical
//! field sealed at rest. `/api/users/{id}/profile/` addresses a profile by its
//! user's id (administrators: candidates' profiles; anyone: their own).

use kernel::Db;
use kernel::audit::Action;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::LazyLock;

use axum::extract::State;
use chrono::{NaiveDate, Utc};
use kernel::crypto::KeyRing;
use kernel::extract::{ClientIp, IntId};
use kernel::{ApiError, ApiResult, Checker, Field, FieldErrors, Json};
use regex::Regex;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait,
    QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Actor};
use crate::entities::profile;
use crate::principal::CurrentUser;
use crate::seal::{PROFILE_SEALED, Row};
use crate::state::AppState;
use crate::users::audit_profile_read;
use kernel::Scoped;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(
        retrieve_profile,
        update_profile,
        partial_update_profile
    ))
}

/// A profile, decrypted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProfileOut {
    pub id: i64,
    /// The account's id.
    pub user: i64,
    pub date_of_birth: Option<NaiveDate>,
    pub phone_number: String,
    pub address: String,
    /// South African ID number.
    pub id_number: String,
    pub diagnosis: String,
    pub medications: String,
    pub allergies: String,
    pub doctor_name: String,
    pub doctor_phone: String,
    pub medical_notes: String,
    pub emergency_contact_name: String,
    pub emergency_contact_phone: String,
    pub emergency_contact_relationship: String,
    pub accommodations: String,
    pub assistive_technology: String,
    pub learning_style: String,
    pub support_needs: String,
    pub communication_preferences: String,
    pub has_completed_intake: bool,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
    /// The original's name of `phone_number` (same value).
    pub contact_number: String,
    /// The original's name of `emergency_contact_name` (same value).
    pub emergency_contact: String,
    /// The original's name of `emergency_contact_phone` (same value).
    pub emergency_phone: String,
}

/// The stored (sealed) value of a profile column.
fn stored(model: &profile::Model, column: &str) -> Option<String> {
    let column = profile::Column::from_str(column).ok()?;
    match model.get(column) {
        sea_orm::Value::String(Some(value)) => Some(value.as_str().to_owned()),
        _ => None,
    }
}

/// Every sealed field of `model` in plaintext (absent when blank).
pub(crate) fn plaintext(
    keys: &KeyRing,
    model: &profile::Model,
) -> ApiResult<HashMap<&'static str, String>> {
    let row = Row::new(keys, profile::TABLE, model.id);
    let mut values = HashMap::new();
    for column in PROFILE_SEALED {
        if let Some(value) = row.open(column, stored(model, column).as_deref())? {
            values.insert(*column, value);
        }
    }
    Ok(values)
}

impl ProfileOut {
    pub fn open(keys: &KeyRing, model: &profile::Model) -> ApiResult<Self> {
        let mut values = plaintext(keys, model)?;
        let mut take = |name: &str| values.remove(name).unwrap_or_default();
        let phone_number = take("phone_number");
        let emergency_contact_name = take("emergency_contact_name");
        let emergency_contact_phone = take("emergency_contact_phone");
        Ok(Self {
            contact_number: phone_number.clone(),
            emergency_contact: emergency_contact_name.clone(),
            emergency_phone: emergency_contact_phone.clone(),
            id: model.id,
            user: model.user_id,
            date_of_birth: NaiveDate::parse_from_str(&take("date_of_birth"), "%Y-%m-%d").ok(),
            phone_number,
            address: take("address"),
            id_number: take("id_number"),
            diagnosis: take("diagnosis"),
            medications: take("medications"),
            allergies: take("allergies"),
            doctor_name: take("doctor_name"),
            doctor_phone: take("doctor_phone"),
            medical_notes: take("medical_notes"),
            emergency_contact_name,
            emergency_contact_phone,
            emergency_contact_relationship: take("emergency_contact_relationship"),
            accommodations: take("accommodations"),
            assistive_technology: take("assistive_technology"),
            learning_style: take("learning_style"),
            support_needs: take("support_needs"),
            communication_preferences: take("communication_preferences"),
            has_completed_intake: model.has_completed_intake,
            created_at: model.created_at,
            updated_at: model.updated_at,
        })
    }
}

/// The writable profile fields. Every one is optional: absent leaves it as
/// it is (PUT and PATCH alike), `null` or blank clears it. The original's
/// names `contact_number`, `emergency_contact` and `emergency_phone` are
/// accepted too.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProfileIn {
    /// `YYYY-MM-DD`, not in the future.
    #[serde(default)]
    #[schema(schema_with = date_of_birth)]
    pub date_of_birth: Field<String>,
    /// `+27XXXXXXXXX` or `0XXXXXXXXX` (spaces and dashes are ignored).
    #[serde(default, alias = "contact_number")]
    #[schema(schema_with = phone)]
    pub phone_number: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<500>)]
    pub address: Field<String>,
    /// 13 digits, `YYMMDD…`.
    #[serde(default)]
    #[schema(schema_with = id_number)]
    pub id_number: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
    pub diagnosis: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
    pub medications: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
    pub allergies: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<255>)]
    pub doctor_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = phone)]
    pub doctor_phone: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    pub medical_notes: Field<String>,
    #[serde(default, alias = "emergency_contact")]
    #[schema(schema_with = kernel::form::schema::optional_text::<255>)]
    pub emergency_contact_name: Field<String>,
    #[serde(default, alias = "emergency_phone")]
    #[schema(schema_with = phone)]
    pub emergency_contact_phone: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
    pub emergency_contact_relationship: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<2000>)]
    pub accommodations: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<2000>)]
    pub assistive_technology: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
    pub learning_style: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<2000>)]
    pub support_needs: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<2000>)]
    pub communication_preferences: Field<String>,
}

/// `YYYY-MM-DD` from 1900-01-01, not in the future; blank or null clears it.
fn date_of_birth() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::blank_or_null(kernel::form::schema::date_from_1900())
}

/// `+27XXXXXXXXX` or `0XXXXXXXXX` (9 or 10 digits after the prefix, which
/// may be left out); spaces and dashes are ignored, blank or null clears it.
fn phone() -> utoipa::openapi::schema::Schema {
    const SEPARATORS: &str = "[ -]*";
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            utoipa::openapi::schema::Type::String,
            utoipa::openapi::schema::Type::Null,
        ]))
        .pattern(Some(format!(
            "^( *|{s}(\\+{s}2{s}7{s}|0{s})?([0-9]{s}){{9,10}})$",
            s = SEPARATORS
        )))
        .into()
}

/// 13 digits starting `YYMMDD` with a real month and day; blank or null
/// clears it.
fn id_number() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            utoipa::openapi::schema::Type::String,
            utoipa::openapi::schema::Type::Null,
        ]))
        .pattern(Some(
            "^ *([0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{7})? *$",
        ))
        .into()
}

impl ProfileIn {
    fn into_fields(self) -> Vec<(&'static str, Field<String>)> {
        vec![
            ("date_of_birth", self.date_of_birth),
            ("phone_number", self.phone_number),
            ("address", self.address),
            ("id_number", self.id_number),
            ("diagnosis", self.diagnosis),
            ("medications", self.medications),
            ("allergies", self.allergies),
            ("doctor_name", self.doctor_name),
            ("doctor_phone", self.doctor_phone),
            ("medical_notes", self.medical_notes),
            ("emergency_contact_name", self.emergency_contact_name),
            ("emergency_contact_phone", self.emergency_contact_phone),
            (
                "emergency_contact_relationship",
                self.emergency_contact_relationship,
            ),
            ("accommodations", self.accommodations),
            ("assistive_technology", self.assistive_technology),
            ("learning_style", self.learning_style),
            ("support_needs", self.support_needs),
            ("communication_preferences", self.communication_preferences),
        ]
    }
}

/// The original's names for three fields.
const ALIASES: &[(&str, &str)] = &[
    ("contact_number", "phone_number"),
    ("emergency_contact", "emergency_contact_name"),
    ("emergency_phone", "emergency_contact_phone"),
];

/// The profile fields found in a JSON object (an intake form's answers):
/// strings and nulls are taken, other keys are left alone, a known field
/// with another type is an error under `prefix.field`.
pub(crate) fn fields_from_object(
    object: &Map<String, Value>,
    prefix: &str,
    errors: &mut FieldErrors,
) -> Vec<(&'static str, Field<String>)> {
    let mut fields = Vec::new();
    for column in PROFILE_SEALED {
        let key = ALIASES
            .iter()
            .find(|(_, name)| name == column)
            .filter(|(alias, _)| !object.contains_key(*column) && object.contains_key(*alias))
            .map_or(*column, |(alias, _)| *alias);
        match object.get(key) {
            None => {}
            Some(Value::Null) => fields.push((*column, Field::Null)),
            Some(Value::String(s)) => fields.push((*column, Field::Value(s.clone()))),
            Some(_) => errors.add(format!("{prefix}{key}"), "Not a valid string."),
        }
    }
    fields
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Text(usize),
    Phone,
    IdNumber,
    Date,
}

fn kind(column: &str) -> Kind {
    match column {
        "date_of_birth" => Kind::Date,
        "phone_number" | "doctor_phone" | "emergency_contact_phone" => Kind::Phone,
        "id_number" => Kind::IdNumber,
        "address" => Kind::Text(500),
        "diagnosis" | "medications" | "allergies" => Kind::Text(5000),
        "medical_notes" => Kind::Text(10_000),
        "doctor_name" | "emergency_contact_name" => Kind::Text(255),
        "emergency_contact_relationship" | "learning_style" => Kind::Text(100),
        _ => Kind::Text(2000),
    }
}

static PHONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\+27|0)?[0-9]{9,10}$").expect("a valid pattern"));

pub const PHONE_FORMAT: &str =
    "Invalid phone number format. Use format: +27XXXXXXXXX or 0XXXXXXXXX";
pub const ID_NUMBER_FORMAT: &str = "Invalid South African ID number. Must be 13 digits.";

/// A South African ID number: 13 digits starting `YYMMDD` with a real month
/// and day.
fn valid_id_number(value: &str) -> bool {
    if value.len() != 13 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let month: u32 = value[2..4].parse().unwrap_or(0);
    let day: u32 = value[4..6].parse().unwrap_or(0);
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// Validates profile fields; returns the values to store (`None` clears).
/// Errors are recorded under `prefix` + the field name.
pub(crate) fn check_fields(
    c: &mut Checker,
    fields: Vec<(&'static str, Field<String>)>,
    prefix: &str,
) -> Vec<(&'static str, Option<String>)> {
    let mut out = Vec::new();
    for (column, field) in fields {
        let name = format!("{prefix}{column}");
        let value = match field {
            Field::Absent => continue,
            Field::Null => None,
            Field::Value(v) => Some(v.trim().to_owned()).filter(|v| !v.is_empty()),
        };
        let Some(value) = value else {
            out.push((column, None));
            continue;
        };
        let checked = match kind(column) {
            Kind::Text(max) => {
                let count = value.chars().count();
                if count > max {
                    c.error(
                        &name,
                        format!("Ensure this field has no more than {max} characters."),
                    );
                    None
                } else {
                    Some(value)
                }
            }
            Kind::Phone => {
                let compact: String = value
                    .chars()
                    .filter(|ch| !matches!(ch, ' ' | '-'))
                    .collect();
                if PHONE.is_match(&compact) {
                    Some(compact)
                } else {
                    c.error(&name, PHONE_FORMAT);
                    None
                }
            }
            Kind::IdNumber => {
                if valid_id_number(&value) {
                    Some(value)
                } else {
                    c.error(&name, ID_NUMBER_FORMAT);
                    None
                }
            }
            Kind::Date => match NaiveDate::parse_from_str(&value, "%Y-%m-%d") {
                Err(_) => {
                    c.error(
                        &name,
                        "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
                    );
                    None
                }
                Ok(date) if date > kernel::time::now().date_naive() => {
                    c.error(&name, "Date of birth cannot be in the future.");
                    None
                }
                Ok(date) if date < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(date) => {
                    c.error(&name, "Date of birth cannot be before 1900-01-01.");
                    None
                }
                Ok(date) => Some(date.format("%Y-%m-%d").to_string()),
            },
        };
        if let Some(value) = checked {
            out.push((column, Some(value)));
        }
    }
    out
}

/// Seals `values` onto `model`.
pub(crate) fn apply(
    keys: &KeyRing,
    model: &mut profile::ActiveModel,
    profile_id: i64,
    values: &[(&'static str, Option<String>)],
) {
    let row = Row::new(keys, profile::TABLE, profile_id);
    for (column, value) in values {
        if let Ok(col) = profile::Column::from_str(column) {
            model.set(
                col,
                sea_orm::Value::String(row.seal(column, value.as_deref())),
            );
        }
    }
}

/// A plaintext snapshot for audit diffs (only which fields changed is kept).
pub(crate) fn snapshot(values: &HashMap<&'static str, String>) -> Value {
    Value::Object(
        values
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
            .collect(),
    )
}

/// The empty profile of a new account.
pub(crate) async fn create_empty<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
) -> ApiResult<profile::Model> {
    let now = kernel::time::now();
    let mut model = profile::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        user_id: Set(user_id),
        has_completed_intake: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    for column in PROFILE_SEALED {
        if let Ok(col) = profile::Column::from_str(column) {
            model.set(col, sea_orm::Value::String(None));
        }
    }
    Ok(model.insert(db).await?)
}

/// The profile of account `user_id` (created with every account).
pub(crate) async fn profile_of<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
) -> ApiResult<profile::Model> {
    profile::Entity::find()
        .filter(profile::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found_msg("No UserProfile matches the given query."))
}

/// A profile (administrators: candidates'; anyone: their own). Reading
/// someone else's is audited.
#[utoipa::path(get, path = "/api/users/{id}/profile/", tag = "users", security(("jwt" = [])), params(("id" = i64, Path, description = "The user's id")),
    responses((status = 200, body = ProfileOut), (status = 401), (status = 404)))]
pub async fn retrieve_profile(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
) -> ApiResult<Json<ProfileOut>> {
    let user = crate::entities::user::Entity::find_visible(&db, &me, id).await?;
    let profile = profile_of(&db, user.id).await?;
    let out = ProfileOut::open(&state.keys, &profile)?;
    audit_profile_read(&db, &me, ip, user.id, profile.id).await?;
    Ok(Json(out))
}

async fn write_profile(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    me: &CurrentUser,
    ip: Option<std::net::IpAddr>,
    id: i64,
    body: Result<Json<ProfileIn>, ApiError>,
) -> ApiResult<Json<ProfileOut>> {
    // DRF's order: the object (404), then the body (400).
    let user = crate::entities::user::Entity::find_visible(db, me, id).await?;
    let Json(input) = body?;
    let mut c = Checker::partial(true);
    let values = check_fields(&mut c, input.into_fields(), "");
    c.finish()?;
    let txn = kernel::db::begin_write(db).await?;
    let current = profile::Entity::find()
        .filter(profile::Column::UserId.eq(user.id))
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::not_found_msg("No UserProfile matches the given query."))?;
    let (updated, changes) = update_profile_row(state, &txn, &current, &values, None).await?;
    // This row also records who reached the profile: the answer showing it
    // is no second access to record.
    audit::record(
        &txn,
        Actor::user(me.id(), ip),
        Action::UPDATE,
        "UserProfile",
        updated.id,
        Some(changes),
    )
    .await?;
    let out = ProfileOut::open(&state.keys, &updated)?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Writes `values` (and the intake flag, when given) onto `current`; returns
/// the row and which fields changed, for the caller's one audit row.
pub(crate) async fn update_profile_row<C: ConnectionTrait>(
    state: &AppState,
    db: &C,
    current: &profile::Model,
    values: &[(&'static str, Option<String>)],
    completed_intake: Option<bool>,
) -> ApiResult<(profile::Model, Value)> {
    let before = plaintext(&state.keys, current)?;
    let mut after = before.clone();
    for (column, value) in values {
        match value {
            Some(v) => after.insert(column, v.clone()),
            None => after.remove(column),
        };
    }
    let mut model: profile::ActiveModel = current.clone().into();
    apply(&state.keys, &mut model, current.id, values);
    let mut before_snapshot = snapshot(&before);
    let mut after_snapshot = snapshot(&after);
    if let Some(done) = completed_intake {
        model.has_completed_intake = Set(done);
        before_snapshot["has_completed_intake"] = Value::Bool(current.has_completed_intake);
        after_snapshot["has_completed_intake"] = Value::Bool(done);
    }
    model.updated_at = Set(kernel::time::now());
    let updated = model.update(db).await?;
    Ok((updated, audit::changes(&before_snapshot, &after_snapshot)))
}

/// Replace profile fields (administrators: candidates'; anyone: their own).
/// Fields left out are kept; `null` or blank clears one.
#[utoipa::path(put, path = "/api/users/{id}/profile/", tag = "users", security(("jwt" = [])), params(("id" = i64, Path, description = "The user's id")), request_body = ProfileIn,
    responses((status = 200, body = ProfileOut), (status = 400), (status = 401), (status = 404)))]
pub async fn update_profile(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
    body: Result<Json<ProfileIn>, ApiError>,
) -> ApiResult<Json<ProfileOut>> {
    write_profile(&state, &db, &me, ip, id, body).await
}

/// Change some profile fields (administrators: candidates'; anyone: their own).
#[utoipa::path(patch, path = "/api/users/{id}/profile/", tag = "users", security(("jwt" = [])), params(("id" = i64, Path, description = "The user's id")), request_body = ProfileIn,
    responses((status = 200, body = ProfileOut), (status = 400), (status = 401), (status = 404)))]
pub async fn partial_update_profile(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
    body: Result<Json<ProfileIn>, ApiError>,
) -> ApiResult<Json<ProfileOut>> {
    write_profile(&state, &db, &me, ip, id, body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn south_african_ids_and_phones() {
        assert!(valid_id_number("9001015009087"));
        for bad in [
            "900101500908",
            "9013015009087",
            "9001325009087",
            "90010150090a7",
        ] {
            assert!(!valid_id_number(bad), "{bad}");
        }
        let mut c = Checker::partial(true);
        let out = check_fields(
            &mut c,
            vec![
                ("phone_number", Field::Value("+27 82-123 4567".into())),
                ("doctor_phone", Field::Value("12345".into())),
                ("address", Field::Null),
                ("diagnosis", Field::Value("  ".into())),
                ("date_of_birth", Field::Value("2999-01-01".into())),
            ],
            "",
        );
        assert_eq!(
            out,
            vec![
                ("phone_number", Some("+27821234567".to_owned())),
                ("address", None),
                ("diagnosis", None),
            ]
        );
        let Err(ApiError::Validation(errors)) = c.finish() else {
            panic!("expected errors")
        };
        assert_eq!(
            errors.to_json(),
            serde_json::json!({
                "doctor_phone": [PHONE_FORMAT],
                "date_of_birth": ["Date of birth cannot be in the future."],
            })
        );
    }
}
