//! Services (axis contract §8), under `services/`: categories, the
//! services themselves, providers, client assignments, sessions and their
//! feedback. Reference data (categories, services, providers) is read by
//! everyone signed in and written by platform users; assignments are read
//! on granted clients; sessions and feedback are platform-only (EAP
//! confidentiality).

pub(crate) mod assignments;
pub(crate) mod catalog;
mod categories;
mod feedback;
pub(crate) mod providers;
pub(crate) mod sessions;

use kernel::{ApiResult, Checker, Field};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(categories::router())
        .merge(catalog::router())
        .merge(providers::router())
        .merge(assignments::router())
        .merge(sessions::router())
        .merge(feedback::router())
}

/// A foreign id field: `Some(Some(id))` when it names a live row of `E`
/// (by `live`), else an `Invalid pk` error on `name`.
pub(crate) async fn foreign<E>(
    db: &impl ConnectionTrait,
    c: &mut Checker,
    name: &str,
    value: Option<Option<String>>,
    deleted_at: E::Column,
) -> ApiResult<Option<Option<E::Model>>>
where
    E: EntityTrait,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<String>,
{
    let Some(value) = value else {
        return Ok(None);
    };
    let Some(id) = value else {
        return Ok(Some(None));
    };
    let found = if crate::rest::is_id(&id) {
        E::find_by_id(id.clone())
            .filter(deleted_at.is_null())
            .one(db)
            .await?
    } else {
        None
    };
    match found {
        Some(row) => Ok(Some(Some(row))),
        None => {
            c.error(name, crate::rest::invalid_pk_message(&id));
            Ok(None)
        }
    }
}

/// A required id field's text.
pub(crate) fn required_id(
    c: &mut Checker,
    name: &str,
    field: Field<String>,
) -> Option<Option<String>> {
    c.text(name, field, 64).map(Some)
}

/// An optional id field's text (blank and null clear it).
pub(crate) fn optional_id(
    c: &mut Checker,
    name: &str,
    field: Field<String>,
) -> Option<Option<String>> {
    c.optional_text(name, field, 64)
}

/// The `metadata` of `value` as an object, with `key` set to `entry`
/// appended to its array.
pub(crate) fn push(
    metadata: &serde_json::Value,
    key: &str,
    entry: serde_json::Value,
) -> serde_json::Value {
    let mut metadata = metadata.clone();
    if !metadata.is_object() {
        metadata = serde_json::json!({});
    }
    match metadata
        .get_mut(key)
        .and_then(serde_json::Value::as_array_mut)
    {
        Some(list) => list.push(entry),
        None => metadata[key] = serde_json::json!([entry]),
    }
    metadata
}
