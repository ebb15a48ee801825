//! Who is asking: accounts, the current-user extractor, and the life of a
//! token pair (issue, refresh rotation with atomic blacklisting, logout),
//! generic over each system's account type.
//!
//! A system's users table is its own (the specs' user models differ); it
//! tells the kernel how to read one through [`Account`], and its state tells
//! the kernel what tokens carry through [`Identity`]. Everything else — token
//! checks, the per-account token epoch that ends every token at logout or on
//! a password change, the blacklist of rotated refresh tokens — lives here
//! once.

use std::fmt::Display;
use std::future::Future;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, ModelTrait, QueryFilter,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::jwt::{Claims, TokenPair, TokenType};
use crate::system::HasKernel;

/// A primary key a token can name in its `user_id` claim.
pub trait AccountId:
    Clone + Display + PartialEq + Into<sea_orm::Value> + Send + Sync + 'static
{
    /// The id a token's `user_id` names, if it is one of this type.
    fn parse(text: &str) -> Option<Self>;
}

impl AccountId for i64 {
    fn parse(text: &str) -> Option<Self> {
        text.parse().ok().filter(|id| *id > 0)
    }
}

impl AccountId for Uuid {
    fn parse(text: &str) -> Option<Self> {
        Uuid::parse_str(text).ok()
    }
}

/// Text ids such as axis's 25-character CUIDs.
impl AccountId for String {
    fn parse(text: &str) -> Option<Self> {
        let fits = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        fits.then(|| text.to_owned())
    }
}

/// A row of a system's users table, as the kernel needs to see it.
pub trait Account:
    ModelTrait<Entity: EntityTrait<Model = Self>>
    + sea_orm::FromQueryResult
    + Clone
    + Send
    + Sync
    + 'static
{
    type Id: AccountId;
    /// The primary-key column.
    const ID: <Self::Entity as EntityTrait>::Column;
    /// The integer column counting the account's token generations.
    const TOKEN_EPOCH: <Self::Entity as EntityTrait>::Column;

    /// The (lower-case) email column accounts sign in with.
    const EMAIL: <Self::Entity as EntityTrait>::Column;
    /// The column holding the password hash (Django's format).
    const PASSWORD: <Self::Entity as EntityTrait>::Column;
    /// The column recording the last sign-in.
    const LAST_LOGIN: <Self::Entity as EntityTrait>::Column;

    fn account_id(&self) -> Self::Id;
    /// The stored password hash.
    fn password_hash(&self) -> &str;
    /// Inactive accounts cannot sign in, and their tokens stop working.
    fn is_active(&self) -> bool;
    /// Tokens carry the epoch they were issued in; a later epoch ends them.
    fn token_epoch(&self) -> i64;

    /// The rows a password sign-in looks the email up among. A system whose
    /// deleted accounts keep their email (soft delete, the email free for a
    /// new account) narrows this to its live rows, so the lookup cannot meet
    /// the deleted one first. Every row by default.
    fn signs_in_among() -> sea_orm::Condition {
        sea_orm::Condition::all()
    }
}

/// A system's state, as far as signing people in goes.
pub trait Identity: HasKernel + Clone + Send + Sync + 'static {
    type Account: Account;

    /// Claims tokens carry besides SimpleJWT's (`email`, `role`, ...).
    fn claims(&self, _account: &Self::Account) -> Map<String, Value> {
        Map::new()
    }

    /// What a refresh token carries of [`Identity::claims`] and the
    /// issuer's extra claims: all of them by default.
    fn refresh_claims(&self, access: &Map<String, Value>) -> Map<String, Value> {
        access.clone()
    }

    /// A further check of a verified token against its account, for systems
    /// that can end one sign-in without ending the others (PSS's sessions).
    fn check_token(
        &self,
        _account: &Self::Account,
        _claims: &Claims,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        async { Ok(()) }
    }
}

/// The account whose valid, current access token came with the request.
/// Derefs to the account row.
#[derive(Debug, Clone)]
pub struct Current<A>(pub A);

/// The signed-in account of a live stream: from the `Authorization`
/// header, else from `?token=<access token>` (browsers' `EventSource` cannot
/// send headers). The token is checked exactly as the header's would be.
#[derive(Debug, Clone)]
pub struct StreamCurrent<A>(pub A);

/// `?token=` of a live stream.
#[derive(Debug, serde::Deserialize)]
pub struct StreamToken {
    pub token: Option<String>,
}

impl<S: Identity> FromRequestParts<S> for StreamCurrent<S::Account> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            return Current::<S::Account>::from_request_parts(parts, state)
                .await
                .map(|current| StreamCurrent(current.0));
        }
        let crate::extract::Query(query) =
            crate::extract::Query::<StreamToken>::from_request_parts(parts, state).await?;
        let token = query
            .token
            .filter(|token| !token.is_empty())
            .ok_or(ApiError::NotAuthenticated)?;
        let claims = state
            .kernel()
            .jwt
            .verify(&token, TokenType::Access)
            .map_err(crate::jwt::access_token_error)?;
        let db = crate::db::Db::of(parts, state.kernel());
        Ok(StreamCurrent(account_for(state, &db, &claims).await?))
    }
}

impl<A> std::ops::Deref for Current<A> {
    type Target = A;
    fn deref(&self) -> &A {
        &self.0
    }
}

impl<S: Identity> FromRequestParts<S> for Current<S::Account> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(current) = parts.extensions.get::<Current<S::Account>>() {
            return Ok(current.clone());
        }
        let claims = crate::jwt::AccessClaims::from_request_parts(parts, state)
            .await?
            .0;
        let db = crate::db::Db::of(parts, state.kernel());
        let account = account_for(state, &db, &claims).await?;
        let current = Current(account);
        parts.extensions.insert(current.clone());
        Ok(current)
    }
}

fn no_user_id() -> ApiError {
    ApiError::auth_failed(
        "Token contained no recognizable user identification",
        "token_not_valid",
    )
}

/// The active account a verified access token belongs to, if the token is
/// still current (same epoch, and whatever [`Identity::check_token`] asks),
/// looked up in the request's database `db`.
pub async fn account_for<S: Identity>(
    state: &S,
    db: &DatabaseConnection,
    claims: &Claims,
) -> ApiResult<S::Account> {
    let id = <<S::Account as Account>::Id as AccountId>::parse(&claims.user_id)
        .ok_or_else(no_user_id)?;
    let account = find::<S::Account>(db, id)
        .await?
        .ok_or_else(|| ApiError::auth_failed("User not found", "user_not_found"))?;
    if !account.is_active() {
        return Err(ApiError::auth_failed("User is inactive", "user_inactive"));
    }
    if claims.epoch != account.token_epoch() {
        // Logged out, password changed or deactivated since it was issued.
        return Err(crate::jwt::access_token_error(
            crate::jwt::TokenError::Invalid,
        ));
    }
    state.check_token(&account, claims).await?;
    Ok(account)
}

/// The account with this id.
pub async fn find<A: Account>(
    db: &impl ConnectionTrait,
    id: A::Id,
) -> Result<Option<A>, sea_orm::DbErr> {
    A::Entity::find().filter(A::ID.eq(id)).one(db).await
}

/// Issues an access and a refresh token for `account`, carrying the system's
/// claims and `extra` ones.
pub fn issue<S: Identity>(
    state: &S,
    account: &S::Account,
    extra: Map<String, Value>,
) -> ApiResult<TokenPair> {
    let mut claims = state.claims(account);
    claims.extend(extra);
    let refresh = state.refresh_claims(&claims);
    state.kernel().jwt.issue_split(
        &account.account_id().to_string(),
        account.token_epoch(),
        &claims,
        &refresh,
    )
}

/// A password that matched an active account; the lockout attempt it was
/// checked under is still open. Settle it with [`PasswordMatched::sign_in`]
/// (the failures are forgotten, the sign-in recorded) or, when a second
/// factor must follow, [`PasswordMatched::release`].
pub struct PasswordMatched<'a, A> {
    pub account: A,
    attempt: crate::lockout::Attempt<'a>,
    rehash: Option<String>,
}

/// Checks `password` for the account with `email` (already normalised),
/// under the kernel's lockout for `email` from `ip`: the attempt is reserved
/// before anything is verified, so parallel guesses cannot outrun the count
/// (429 once it is reached). An unknown email, a wrong password and an
/// inactive account all answer `None`, in the same time, and count as one
/// failure.
pub async fn check_password<'a, S: Identity>(
    state: &'a S,
    db: &DatabaseConnection,
    email: &str,
    password: &str,
    ip: Option<std::net::IpAddr>,
) -> ApiResult<Option<PasswordMatched<'a, S::Account>>> {
    let kernel = state.kernel();
    let key = format!(
        "{}{email}|{}",
        crate::db::tenant().map_or_else(String::new, |t| format!("{t}/")),
        ip.map_or_else(String::new, |ip| ip.to_string())
    );
    let attempt = kernel.lockout.reserve(&key).await?;
    let found = <S::Account as ModelTrait>::Entity::find()
        .filter(<S::Account as Account>::EMAIL.eq(email))
        .filter(<S::Account as Account>::signs_in_among())
        .one(db)
        .await?;
    let Some(account) = found else {
        kernel.hasher.verify_nothing(password).await?;
        attempt.fail().await?;
        return Ok(None);
    };
    let verdict = kernel
        .hasher
        .verify(password, account.password_hash())
        .await?;
    if !verdict.matches || !account.is_active() {
        attempt.fail().await?;
        return Ok(None);
    }
    let rehash = match verdict.needs_rehash {
        true => Some(kernel.hasher.make(password).await?),
        false => None,
    };
    Ok(Some(PasswordMatched {
        account,
        attempt,
        rehash,
    }))
}

impl<A: Account> PasswordMatched<'_, A> {
    /// Completes the sign-in: forgets the failures, records the time (and a
    /// hash made with other parameters is upgraded); answers the account as
    /// stored now.
    pub async fn sign_in(self, db: &impl ConnectionTrait) -> ApiResult<A> {
        self.attempt.succeed().await?;
        let mut update = A::Entity::update_many()
            .col_expr(A::LAST_LOGIN, Expr::value(crate::time::now()))
            .filter(A::ID.eq(self.account.account_id()));
        if let Some(hash) = self.rehash {
            update = update.col_expr(A::PASSWORD, Expr::value(hash));
        }
        update.exec(db).await?;
        find::<A>(db, self.account.account_id())
            .await?
            .ok_or_else(|| ApiError::auth_failed("User not found", "user_not_found"))
    }

    /// A second factor must follow: the right password is not counted, and
    /// the failures are forgotten only once the second factor is right too.
    pub async fn release(self) -> ApiResult<A> {
        self.attempt.release().await?;
        Ok(self.account)
    }
}

/// SimpleJWT's refresh body, `{"refresh": "<token>"}`.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct RefreshIn {
    #[serde(default)]
    #[schema(schema_with = crate::form::schema::text::<4096>, required = true)]
    pub refresh: crate::Field<String>,
}

impl RefreshIn {
    /// The token, or the field error DRF gives for a missing or blank one.
    pub fn token(self) -> ApiResult<String> {
        let mut c = crate::Checker::new();
        let token = c.text("refresh", self.refresh, 4096);
        c.finish()?;
        Ok(token.unwrap_or_default())
    }
}

/// SimpleJWT's answer to a refresh token that cannot be used.
pub fn refresh_error(detail: &'static str) -> ApiError {
    ApiError::auth_failed(detail, "token_not_valid")
}

/// Verifies a refresh token and that its account may still use it.
pub async fn check_refresh<S: Identity>(
    state: &S,
    db: &DatabaseConnection,
    token: &str,
) -> ApiResult<(Claims, S::Account)> {
    let invalid = || refresh_error("Token is invalid or expired");
    let claims = state
        .kernel()
        .jwt
        .verify(token, TokenType::Refresh)
        .map_err(|_| invalid())?;
    let id =
        <<S::Account as Account>::Id as AccountId>::parse(&claims.user_id).ok_or_else(invalid)?;
    let account = find::<S::Account>(db, id)
        .await?
        .filter(|a| a.is_active() && a.token_epoch() == claims.epoch)
        .ok_or_else(invalid)?;
    state
        .check_token(&account, &claims)
        .await
        .map_err(|_| invalid())?;
    Ok((claims, account))
}

/// Rotation: checks a refresh token and blacklists it, so of two uses of
/// the same token exactly one succeeds. The caller issues the new pair.
pub async fn rotate<S: Identity>(
    state: &S,
    db: &DatabaseConnection,
    token: &str,
) -> ApiResult<(Claims, S::Account)> {
    let (claims, account) = check_refresh(state, db, token).await?;
    if !crate::jwt::blacklist_refresh(db, &claims).await? {
        return Err(refresh_error("Token is blacklisted"));
    }
    Ok((claims, account))
}

/// The claims of a refresh token of `account` sent to be ended at logout;
/// `None` when it is not a live refresh token of this account.
pub fn own_refresh<S: Identity>(state: &S, account: &S::Account, token: &str) -> Option<Claims> {
    state
        .kernel()
        .jwt
        .verify(token.trim(), TokenType::Refresh)
        .ok()
        .filter(|c| c.user_id == account.account_id().to_string())
}

/// Logout, within the caller's transaction: blacklists `refresh` (if given)
/// and moves the account to a new token epoch, which ends every access and
/// refresh token issued before.
pub async fn end_tokens<A: Account>(
    db: &impl ConnectionTrait,
    account: &A,
    refresh: Option<&Claims>,
) -> ApiResult<()> {
    if let Some(claims) = refresh {
        crate::jwt::blacklist_refresh(db, claims).await?;
    }
    bump_epoch::<A>(db, account.account_id()).await
}

/// Ends every token of the account `id` (a password change, a role change,
/// a deactivation).
pub async fn bump_epoch<A: Account>(db: &impl ConnectionTrait, id: A::Id) -> ApiResult<()> {
    A::Entity::update_many()
        .col_expr(A::TOKEN_EPOCH, Expr::col(A::TOKEN_EPOCH).add(1))
        .filter(A::ID.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Declares a role gate: an extractor that yields the current account (or
/// the [`Current`] around it) when `check` passes and answers `check`'s
/// error (a 403) otherwise. Gates run before the body is read, so a caller
/// without the role is refused before any validation, as DRF does.
///
/// ```ignore
/// kernel::gate! {
///     /// An administrator; anyone else authenticated gets 403.
///     pub Admin(user::Model) for AppState = |me| {
///         if me.is_admin() { Ok(()) } else { Err(ApiError::forbidden(ADMIN_ONLY)) }
///     }
/// }
/// ```
#[macro_export]
macro_rules! gate {
    ($(#[$meta:meta])* $vis:vis $name:ident(Current<$account:ty>) for $state:ty = |$me:ident| $check:expr) => {
        $crate::gate!(@impl $(#[$meta])* $vis $name, $crate::Current<$account>, $account, $state, |$me| $check, |current| current);
    };
    ($(#[$meta:meta])* $vis:vis $name:ident($account:ty) for $state:ty = |$me:ident| $check:expr) => {
        $crate::gate!(@impl $(#[$meta])* $vis $name, $account, $account, $state, |$me| $check, |current| current.0);
    };
    (@impl $(#[$meta:meta])* $vis:vis $name:ident, $held:ty, $account:ty, $state:ty, |$me:ident| $check:expr, |$current:ident| $keep:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        $vis struct $name(pub $held);

        impl $crate::__axum::extract::FromRequestParts<$state> for $name {
            type Rejection = $crate::ApiError;

            async fn from_request_parts(
                parts: &mut $crate::__axum::http::request::Parts,
                state: &$state,
            ) -> Result<Self, Self::Rejection> {
                let $current = <$crate::Current<$account> as $crate::__axum::extract::FromRequestParts<$state>>::from_request_parts(parts, state).await?;
                {
                    let $me: &$account = &$current.0;
                    let verdict: Result<(), $crate::ApiError> = $check;
                    verdict?;
                }
                Ok(Self($keep))
            }
        }

        impl $crate::audit::Acting for $name {
            fn actor_id(&self) -> String {
                let account: &$account = &self.0;
                $crate::identity::Account::account_id(account).to_string()
            }
        }
    };
}
