//! Row-level access, one spelling for every system: an entity says which of
//! its rows a caller may see ([`Scoped::scope`]); handlers list
//! [`Scoped::visible`] rows and load one with [`Scoped::find_visible`] (or
//! the [`Visible`] extractor), so a row the caller may not see is a 404,
//! exactly like a row that does not exist. No handler queries a scoped
//! entity without its scope.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sea_orm::{Condition, ConnectionTrait, EntityTrait, PrimaryKeyTrait, QueryFilter, Select};

use crate::error::{ApiError, ApiResult};
use crate::identity::{Current, Identity};

/// An entity whose rows are visible to some callers only.
pub trait Scoped: EntityTrait {
    /// Who asks: the system's account row.
    type Caller;

    /// The rows `caller` may see, as a condition (`Condition::all()` for
    /// every row; an always-false condition for none).
    fn scope(caller: &Self::Caller) -> Condition;

    /// The answer for a row that is not there or not visible.
    fn not_found() -> ApiError {
        ApiError::not_found()
    }

    /// The rows `caller` may see. A caller who may see every row gets the
    /// bare table (no `WHERE TRUE`), so its list's count is the table's
    /// kept count ([`crate::counts`]).
    fn visible(caller: &Self::Caller) -> Select<Self> {
        let scope = Self::scope(caller);
        if scope == sea_orm::Condition::all() {
            return Self::find();
        }
        Self::find().filter(scope)
    }

    /// The row `id` if `caller` may see it, else [`Scoped::not_found`].
    fn find_visible<C: ConnectionTrait>(
        db: &C,
        caller: &Self::Caller,
        id: <Self::PrimaryKey as PrimaryKeyTrait>::ValueType,
    ) -> impl std::future::Future<Output = ApiResult<Self::Model>> + Send
    where
        Self::Model: Sync,
    {
        let query = Self::find_by_id(id).filter(Self::scope(caller));
        async move { query.one(db).await?.ok_or_else(Self::not_found) }
    }
}

/// A condition no row meets: a caller who may see none of an entity's rows.
pub fn none() -> Condition {
    Condition::any()
}

/// A path id of some key type, as the last path parameter carries it.
pub trait PathId: Sized {
    fn parse(raw: &str) -> Option<Self>;
}

impl PathId for uuid::Uuid {
    fn parse(raw: &str) -> Option<Self> {
        uuid::Uuid::parse_str(raw).ok()
    }
}

impl PathId for i64 {
    fn parse(raw: &str) -> Option<Self> {
        crate::extract::parse_int_id(raw)
    }
}

impl PathId for i32 {
    fn parse(raw: &str) -> Option<Self> {
        crate::extract::parse_int_id(raw).and_then(|id| i32::try_from(id).ok())
    }
}

impl PathId for String {
    fn parse(raw: &str) -> Option<Self> {
        (!raw.is_empty() && raw.len() <= 64).then(|| raw.to_owned())
    }
}

/// The row named by the path's last parameter, loaded through the caller's
/// scope from the request's database: a malformed id, a missing row and a
/// row the caller may not see all answer [`Scoped::not_found`].
#[derive(Debug, Clone)]
pub struct Visible<E: EntityTrait>(pub E::Model);

impl<S, E> FromRequestParts<S> for Visible<E>
where
    S: Identity,
    E: Scoped<Caller = S::Account>,
    E::Model: Sync,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: PathId + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let me = Current::<S::Account>::from_request_parts(parts, state).await?;
        let raw = crate::extract::last_path_param(parts)
            .await
            .ok_or_else(E::not_found)?;
        let id = PathId::parse(&raw).ok_or_else(E::not_found)?;
        let db = crate::Db::of(parts, state.kernel());
        E::find_visible(&*db, &me, id).await.map(Visible)
    }
}
