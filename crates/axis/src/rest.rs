//! What every axis resource shares: Title-Case choices, the error texts of
//! the contract, path ids, foreign ids in bodies, and soft delete.

use axum::http::StatusCode;
use kernel::{ApiError, ApiResult};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::Value;

/// The values an enum field takes, in their Title-Case form. Input is
/// matched case-insensitively, ignoring spaces, `_` and `-`, so the spec's
/// `PENDING_VERIFICATION` reads as `Pending Verification`.
#[derive(Debug, Clone, Copy)]
pub struct Choices(pub &'static [&'static str]);

impl Choices {
    fn fold(text: &str) -> String {
        text.chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .flat_map(char::to_lowercase)
            .collect()
    }

    /// The canonical form of `raw`, if it is one of these values.
    pub fn parse(self, raw: &str) -> Option<&'static str> {
        let folded = Self::fold(raw.trim());
        self.0.iter().copied().find(|v| Self::fold(v) == folded)
    }

    /// `raw` as one of these values, else DRF's field error.
    pub fn check(self, field: &str, raw: &str) -> ApiResult<&'static str> {
        self.parse(raw).ok_or_else(|| not_a_choice(field, raw))
    }
}

pub fn not_a_choice(field: &str, raw: &str) -> ApiError {
    ApiError::field(field, format!("\"{raw}\" is not a valid choice."))
}

/// A rule or transition refused: 400 `invalid_state` with the rule's text.
pub fn invalid_state(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        detail: message.into().into(),
        code: "invalid_state",
    }
}

/// `<Model> not found`.
pub fn not_found(model: &str) -> ApiError {
    ApiError::not_found_msg(format!("{model} not found"))
}

/// A foreign id in a body that names no row the caller may see.
pub fn invalid_pk_message(raw: &str) -> String {
    format!("Invalid pk \"{raw}\" - object does not exist.")
}

/// Whether `raw` has the form of an id: campus's 25-character CUIDs, or
/// the 24-character cuid2 ids of rows imported from the Django original
/// (`^[a-z][a-z0-9]{23,24}$`).
pub fn is_id(raw: &str) -> bool {
    kernel::cuid::is_valid(raw)
        || (raw.len() == kernel::cuid::LEN - 1
            && raw.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// A path id (see [`is_id`]), else the model's 404.
pub fn path_id(raw: &str, model: &str) -> ApiResult<String> {
    if is_id(raw) {
        Ok(raw.to_owned())
    } else {
        Err(not_found(model))
    }
}

/// Sets `deleted_at` (and the tombstone, freeing the row's unique values)
/// on the live row `id` of `E`; false when there was none.
pub async fn soft_delete<E: SoftDelete>(db: &impl ConnectionTrait, id: &str) -> ApiResult<bool> {
    let tombstone = E::UNIQUE.is_some();
    let now = kernel::time::now();
    let mut update = Query::update();
    update
        .table(E::default().table_ref())
        .value("deleted_at", now)
        .value("updated_at", now)
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("deleted_at").is_null());
    if tombstone {
        update.value("tombstone", id);
    }
    Ok(db.execute(&update).await?.rows_affected() == 1)
}

/// Soft-deletes the live row `id` of `E` on `txn` and records it in the
/// trail by `me`, with `before` (its snapshot) as what was deleted.
pub async fn delete_recorded<E: SoftDelete>(
    txn: &impl ConnectionTrait,
    me: &crate::access::Me,
    id: &str,
    before: Value,
) -> ApiResult<()> {
    use crate::audit::{Change, Event, Who};
    if !soft_delete::<E>(txn, id).await? {
        return Err(not_found(E::MODEL));
    }
    let event = Event::new("Delete", E::TRAIL, id)
        .status(204)
        .change(Change::deleted(&before));
    crate::audit::record(txn, Who::from(me), event).await
}

/// Clears `deleted_at` (and the tombstone) of the deleted row `id`; a live
/// row's unique values taken meanwhile make this a 400 on `field`.
pub async fn undelete<E: EntityTrait + Default>(
    db: &impl ConnectionTrait,
    id: &str,
    tombstone: Option<&str>,
) -> ApiResult<()> {
    let now = kernel::time::now();
    let mut update = Query::update();
    update
        .table(E::default().table_ref())
        .value("deleted_at", Option::<chrono::DateTime<chrono::Utc>>::None)
        .value("updated_at", now)
        .and_where(Expr::col("id").eq(id));
    if tombstone.is_some() {
        update.value("tombstone", "");
    }
    match db.execute(&update).await {
        Ok(_) => Ok(()),
        Err(error) if is_unique(&error) => Err(invalid_state(format!(
            "Cannot restore: another live record has the same {}",
            tombstone.unwrap_or("values")
        ))),
        Err(error) => Err(error.into()),
    }
}

/// A table whose rows are soft-deleted (`deleted_at`).
pub trait SoftDelete: EntityTrait + Default {
    /// `Client`, `Tag`: the name in `<Model> not found`.
    const MODEL: &'static str;
    /// The field a `tombstone` frees on delete, if the table keeps one.
    const UNIQUE: Option<&'static str>;
    /// Its entity type in the audit trail (`ClientContact`).
    const TRAIL: &'static str;
    fn deleted_at(row: &Self::Model) -> Option<chrono::DateTime<chrono::Utc>>;
}

/// Undeletes the deleted row `id` of `E` among the rows of `scope` (a
/// nested resource's parent): a missing or out-of-scope row is a 404, a live
/// one a 400. Answers the write transaction and the row before and after,
/// for the caller to audit, render and commit.
pub async fn restore<E>(
    db: &sea_orm::DatabaseConnection,
    id: &str,
    scope: sea_orm::Condition,
) -> ApiResult<(kernel::db::WriteTxn, E::Model, E::Model)>
where
    E: SoftDelete,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<String>,
{
    use sea_orm::QueryFilter;
    let id = path_id(id, E::MODEL)?;
    let find = |id: String| E::find_by_id(id).filter(scope.clone());
    let before = find(id.clone())
        .one(db)
        .await?
        .ok_or_else(|| not_found(E::MODEL))?;
    if E::deleted_at(&before).is_none() {
        return Err(invalid_state(format!("{} is not deleted", E::MODEL)));
    }
    let txn = kernel::db::begin_write(db).await?;
    undelete::<E>(&txn, &id, E::UNIQUE).await?;
    let after = find(id)
        .one(&txn)
        .await?
        .ok_or_else(|| not_found(E::MODEL))?;
    Ok((txn, before, after))
}

/// Declares tables [`SoftDelete`]: `entity => ("Model", "TrailType", unique field)`.
macro_rules! soft_delete {
    ($($entity:ident => ($model:literal, $trail:literal, $unique:expr)),* $(,)?) => {
        $(impl SoftDelete for crate::entities::$entity::Entity {
            const MODEL: &'static str = $model;
            const TRAIL: &'static str = $trail;
            const UNIQUE: Option<&'static str> = $unique;
            fn deleted_at(row: &crate::entities::$entity::Model) -> Option<chrono::DateTime<chrono::Utc>> {
                row.deleted_at
            }
        })*
    };
}

soft_delete! {
    user => ("User", "User", Some("email")),
    industry => ("Industry", "Industry", Some("name")),
    tag => ("Tag", "ClientTag", Some("name")),
    client => ("Client", "Client", Some("email")),
    contact => ("Contact", "ClientContact", Some("email")),
    activity => ("Activity", "ClientActivity", None),
    user_client => ("User client", "UserClient", Some("client")),
    contract => ("Contract", "Contract", Some("contract_number")),
    kpi_type => ("KPI type", "KPIType", Some("name")),
    kpi => ("KPI", "KPI", None),
    kpi_assignment => ("KPI assignment", "KPIAssignment", None),
    document => ("Document", "Document", None),
    person => ("Person", "Person", None),
    service_category => ("Service category", "ServiceCategory", Some("name")),
    service => ("Service", "Service", None),
    service_provider => ("Service provider", "ServiceProvider", None),
    service_assignment => ("Service assignment", "ServiceAssignment", None),
    service_session => ("Service session", "ServiceSession", None),
    session_feedback => ("Session feedback", "SessionFeedback", None),
}

/// Any unique-constraint violation.
pub fn is_unique(error: &sea_orm::DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// A JSON object body field (`metadata`): an object, else a field error.
pub fn object(field: &str, value: Value) -> ApiResult<Value> {
    match value {
        Value::Object(_) => Ok(value),
        Value::Null => Ok(Value::Object(serde_json::Map::new())),
        _ => Err(ApiError::field(field, "Value must be valid JSON object.")),
    }
}

/// An optional choice: null and blank clear it; anything else must be one
/// of `choices` (any case, or the spec's UPPER_SNAKE).
pub fn optional_choice(
    c: &mut kernel::Checker,
    name: &str,
    field: kernel::Field<String>,
    choices: Choices,
) -> Option<Option<String>> {
    match c.optional_text(name, field, 50)? {
        None => Some(None),
        Some(v) => match choices.parse(&v) {
            Some(v) => Some(Some(v.to_owned())),
            None => {
                c.error(name, format!("\"{v}\" is not a valid choice."));
                None
            }
        },
    }
}

/// A required choice among `choices` (any case, or the spec's UPPER_SNAKE).
pub fn required_choice(
    c: &mut kernel::Checker,
    name: &str,
    field: kernel::Field<String>,
    choices: Choices,
) -> Option<&'static str> {
    let raw = c.value(name, field)?;
    let parsed = choices.parse(&raw);
    if parsed.is_none() {
        c.error(name, format!("\"{raw}\" is not a valid choice."));
    }
    parsed
}

/// A `metadata` object: null is `{}`; absent is `{}` on a create and left
/// as it is on an update.
pub fn metadata(
    c: &mut kernel::Checker,
    field: kernel::Field<Value>,
    creating: bool,
) -> Option<Value> {
    match field {
        kernel::Field::Value(v) => match object("metadata", v) {
            Ok(v) => Some(v),
            Err(_) => {
                c.error("metadata", "Value must be valid JSON object.");
                None
            }
        },
        kernel::Field::Null => Some(Value::Object(serde_json::Map::new())),
        kernel::Field::Absent => creating.then(|| Value::Object(serde_json::Map::new())),
    }
}

/// What a malformed date field says.
pub const DATE_FORMAT: &str =
    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.";
/// What a date outside 1900 to 9999 says (MySQL cannot store earlier ones).
pub const DATE_RANGE: &str = "Ensure this date is between 1900-01-01 and 9999-12-31.";

/// A `YYYY-MM-DD` date in years 1900 to 9999, else the message.
pub fn parse_date(raw: &str) -> Result<chrono::NaiveDate, &'static str> {
    let date = kernel::form::parse_date(raw).ok_or(DATE_FORMAT)?;
    if (1900..=9999).contains(&chrono::Datelike::year(&date)) {
        Ok(date)
    } else {
        Err(DATE_RANGE)
    }
}

/// A required date field.
pub fn required_date(
    c: &mut kernel::Checker,
    name: &str,
    field: kernel::Field<String>,
) -> Option<chrono::NaiveDate> {
    let raw = c.value(name, field)?;
    match parse_date(&raw) {
        Ok(d) => Some(d),
        Err(message) => {
            c.error(name, message);
            None
        }
    }
}

/// An optional date field: null and blank clear it.
pub fn optional_date(
    c: &mut kernel::Checker,
    name: &str,
    field: kernel::Field<String>,
) -> Option<Option<chrono::NaiveDate>> {
    match c.optional_text(name, field, 64)? {
        None => Some(None),
        Some(raw) => match parse_date(&raw) {
            Ok(d) => Some(Some(d)),
            Err(message) => {
                c.error(name, message);
                None
            }
        },
    }
}

/// A required `YYYY-MM-DD` date (1900 to 9999).
pub fn date_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::date_from_1900()
}

/// A date, or blank or null to clear it.
pub fn optional_date_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::blank_or_null(kernel::form::schema::date_from_1900())
}

/// `?days=` as a positive number of days (default `default`), else the
/// contract's 400.
pub fn days(raw: Option<&str>, default: i64) -> ApiResult<i64> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(default);
    };
    match raw.parse::<i64>() {
        Ok(n) if (1..=36_500).contains(&n) => Ok(n),
        _ => {
            let message = format!("days must be a valid integer, got: {raw}");
            Err(ApiError::detailed(
                StatusCode::BAD_REQUEST,
                message.clone(),
                "invalid",
                serde_json::json!({"error": "Invalid days parameter", "message": message}),
            ))
        }
    }
}

/// Rows a custom query (a bare array) returns at most.
pub const ARRAY_LIMIT: u64 = 500;

/// The page sizes of every axis list.
pub const PAGE: kernel::PageSize = kernel::PageSize {
    default: 10,
    max: 100,
};

/// The query of an axis list.
pub type List = kernel::listing::ListOf<crate::Axis>;
/// A page of an axis list in its combined envelope.
pub type Page<T> = kernel::listing::AxisPage<T>;

/// A page of a list held in memory (small reference tables whose order or
/// filters are computed: the industry tree).
pub fn page_of<T>(list: &List, items: Vec<T>) -> ApiResult<Page<T>> {
    use kernel::listing::{Fetched, Paging};
    let request = kernel::listing::Axis::request(list, PAGE)?;
    let count = u64::try_from(items.len()).unwrap_or(u64::MAX);
    let size = Ord::max(request.size, 1);
    let (number, pages) = request.resolve(count).unwrap_or((1, 1));
    let skip = usize::try_from((number - 1) * size).unwrap_or(usize::MAX);
    let take = usize::try_from(size).unwrap_or(usize::MAX);
    let results = items.into_iter().skip(skip).take(take).collect();
    Ok(kernel::listing::Axis::render(
        list,
        Fetched {
            count,
            number,
            pages,
            size,
            results,
        },
    ))
}

/// Whether `value` contains `needle` case-insensitively.
pub fn contains(value: Option<&str>, needle: &str) -> bool {
    value.is_some_and(|v| v.to_lowercase().contains(&needle.to_lowercase()))
}

/// A boolean query parameter (`true/false/1/0`), else a 400 on `name`.
pub fn flag(list: &List, name: &str) -> ApiResult<Option<bool>> {
    match list
        .get(name)
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(_) => Err(ApiError::field(name, "Enter a valid boolean.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_accept_any_case_and_the_specs_upper_snake() {
        let statuses = Choices(&["Active", "Pending Verification", "Semi-Annual", "No Show"]);
        assert_eq!(statuses.parse("active"), Some("Active"));
        assert_eq!(
            statuses.parse("PENDING_VERIFICATION"),
            Some("Pending Verification")
        );
        assert_eq!(statuses.parse("SEMI_ANNUAL"), Some("Semi-Annual"));
        assert_eq!(statuses.parse("no show"), Some("No Show"));
        assert_eq!(statuses.parse("Bogus"), None);
    }
}
