//! JSON Web Tokens as SimpleJWT issues them (HS256, `token_type`, `jti`,
//! `exp`, `iat`, `user_id`), plus what SimpleJWT lacks: a per-user token epoch
//! so that logout and password changes end every outstanding token.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, ConnectionTrait};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

/// The claims of either kind of token. System-specific claims (email, role, …)
/// ride along in `extra`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub token_type: TokenType,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub user_id: String,
    /// The user's token epoch when the token was issued; a token from an older
    /// epoch is revoked.
    #[serde(default)]
    pub epoch: i64,
    /// The tenant the token was issued in (systems with tenants); a token
    /// is valid only in requests of the same tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Claims {
    pub fn user_uuid(&self) -> Option<Uuid> {
        Uuid::parse_str(&self.user_id).ok()
    }

    /// The user id of a system with integer primary keys.
    pub fn user_int(&self) -> Option<i64> {
        self.user_id.parse().ok().filter(|id| *id > 0)
    }
}

/// Why a token was refused, in SimpleJWT's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    Invalid,
    WrongType,
    /// A good token of another tenant (or a tenant's token outside it, or
    /// the reverse): systems with tenants answer it apart.
    OtherTenant,
}

impl TokenError {
    pub fn message(self) -> &'static str {
        match self {
            Self::Expired => "Token is expired",
            Self::Invalid => "Token is invalid",
            Self::WrongType => "Token has wrong type",
            Self::OtherTenant => "Token belongs to another tenant",
        }
    }
}

/// Signs and checks tokens with the system's secret key.
#[derive(Clone)]
pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_lifetime: Duration,
    pub refresh_lifetime: Duration,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwt")
            .field("access_lifetime", &self.access_lifetime)
            .finish_non_exhaustive()
    }
}

/// A freshly issued access/refresh pair.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
}

impl Jwt {
    pub fn new(secret: &str, access_lifetime: Duration, refresh_lifetime: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp"]);
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            access_lifetime,
            refresh_lifetime,
        }
    }

    fn sign(
        &self,
        token_type: TokenType,
        user_id: &str,
        epoch: i64,
        extra: &Map<String, Value>,
    ) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let lifetime = match token_type {
            TokenType::Access => self.access_lifetime,
            TokenType::Refresh => self.refresh_lifetime,
        };
        let claims = Claims {
            token_type,
            exp: now + i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2),
            iat: now,
            jti: Uuid::new_v4().simple().to_string(),
            user_id: user_id.to_owned(),
            epoch,
            tenant: crate::db::tenant().map(|t| t.to_string()),
            extra: extra.clone(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(ApiError::internal)
    }

    /// Issues an access and a refresh token carrying `extra` claims.
    pub fn issue_pair(
        &self,
        user_id: Uuid,
        epoch: i64,
        extra: &Map<String, Value>,
    ) -> Result<TokenPair, ApiError> {
        self.issue_pair_for(&user_id.to_string(), epoch, extra)
    }

    /// Issues a pair for a user whose primary key is not a UUID (an integer
    /// id, as text in `user_id`; see [`Claims::user_int`]).
    pub fn issue_pair_for(
        &self,
        user_id: &str,
        epoch: i64,
        extra: &Map<String, Value>,
    ) -> Result<TokenPair, ApiError> {
        self.issue_split(user_id, epoch, extra, extra)
    }

    /// Issues a pair whose access and refresh tokens carry different extra
    /// claims (a refresh token need not carry what only access checks read).
    pub fn issue_split(
        &self,
        user_id: &str,
        epoch: i64,
        access: &Map<String, Value>,
        refresh: &Map<String, Value>,
    ) -> Result<TokenPair, ApiError> {
        Ok(TokenPair {
            access: self.sign(TokenType::Access, user_id, epoch, access)?,
            refresh: self.sign(TokenType::Refresh, user_id, epoch, refresh)?,
        })
    }

    /// Verifies signature, expiry and type.
    pub fn verify(&self, token: &str, expected: TokenType) -> Result<Claims, TokenError> {
        let data =
            decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    _ => TokenError::Invalid,
                }
            })?;
        if data.claims.token_type != expected {
            return Err(TokenError::WrongType);
        }
        if data.claims.tenant.as_deref() != crate::db::tenant().as_deref() {
            // Another tenant's token (or a tenant's token outside it).
            return Err(TokenError::OtherTenant);
        }
        Ok(data.claims)
    }
}

/// The 401 for a bad access token, as SimpleJWT words it. Another
/// tenant's token is refused alike, under its own code
/// ([`OTHER_TENANT_CODE`]) for systems whose envelope tells it apart.
pub fn access_token_error(error: TokenError) -> ApiError {
    let code = match error {
        TokenError::OtherTenant => OTHER_TENANT_CODE,
        _ => "token_not_valid",
    };
    ApiError::auth_failed("Given token not valid for any token type", code)
}

/// The error code of an access token refused because it belongs to
/// another tenant.
pub const OTHER_TENANT_CODE: &str = "token_other_tenant";

/// The raw `Authorization: Bearer` token, if one was sent.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// Verified access-token claims. Systems resolve these into their own user
/// (checking it still exists, is active and is at the same epoch).
#[derive(Debug, Clone)]
pub struct AccessClaims(pub Claims);

impl<S: crate::system::HasKernel + Sync> FromRequestParts<S> for AccessClaims {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(claims) = parts.extensions.get::<AccessClaims>() {
            return Ok(claims.clone());
        }
        let has_header = parts.headers.contains_key(AUTHORIZATION);
        let Some(token) = bearer_token(parts) else {
            return Err(if has_header {
                ApiError::auth_failed(
                    "Invalid token header. No credentials provided.",
                    "authentication_failed",
                )
            } else {
                ApiError::NotAuthenticated
            });
        };
        let claims = state
            .kernel()
            .jwt
            .verify(token, TokenType::Access)
            .map_err(access_token_error)?;
        let claims = AccessClaims(claims);
        parts.extensions.insert(claims.clone());
        Ok(claims)
    }
}

/// Blacklisted refresh tokens (SimpleJWT's `token_blacklist`), keyed by `jti`.
pub mod blacklist {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "campus_token_blacklist")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub jti: String,
        /// The account's primary key, as text (integer, UUID or CUID).
        pub user_id: String,
        pub expires_at: DateTimeUtc,
        pub blacklisted_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Blacklists a refresh token. Returns `false` when it was already blacklisted,
/// so of two concurrent uses of the same token exactly one wins.
pub async fn blacklist_refresh<C: ConnectionTrait>(
    db: &C,
    claims: &Claims,
) -> Result<bool, ApiError> {
    let row = blacklist::ActiveModel {
        jti: Set(claims.jti.clone()),
        user_id: Set(claims.user_id.chars().take(64).collect()),
        expires_at: Set(chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or_default()),
        blacklisted_at: Set(chrono::Utc::now()),
    };
    match blacklist::Entity::insert(row).exec(db).await {
        Ok(_) => Ok(true),
        Err(e)
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// The periodic job kind that runs [`purge_expired`]
/// ([`crate::jobs::Worker::housekeeping`]).
pub const PURGE_JOB: &str = "campus.tokens.purge";

/// Deletes blacklist rows whose tokens have expired anyway.
pub async fn purge_expired<C: ConnectionTrait>(db: &C) -> Result<u64, sea_orm::DbErr> {
    let result = blacklist::Entity::delete_many()
        .filter(blacklist::Column::ExpiresAt.lt(chrono::Utc::now()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_checked() {
        let jwt = Jwt::new(
            "a-test-secret-of-some-length",
            Duration::from_secs(300),
            Duration::from_secs(600),
        );
        let mut extra = Map::new();
        extra.insert("role".into(), "admin".into());
        let user = Uuid::new_v4();
        let pair = jwt.issue_pair(user, 3, &extra).unwrap();
        let access = jwt.verify(&pair.access, TokenType::Access).unwrap();
        assert_eq!(access.user_uuid(), Some(user));
        assert_eq!(access.epoch, 3);
        assert_eq!(access.extra["role"], "admin");
        assert_eq!(access.exp - access.iat, 300);
        assert_eq!(access.user_int(), None);
        let numeric = jwt.issue_pair_for("42", 0, &Map::new()).unwrap();
        let claims = jwt.verify(&numeric.refresh, TokenType::Refresh).unwrap();
        assert_eq!((claims.user_int(), claims.user_uuid()), (Some(42), None));
        assert_eq!(
            jwt.verify(&pair.access, TokenType::Refresh).unwrap_err(),
            TokenError::WrongType
        );
        let other = Jwt::new(
            "another-secret-entirely",
            Duration::from_secs(300),
            Duration::from_secs(600),
        );
        assert_eq!(
            other.verify(&pair.access, TokenType::Access).unwrap_err(),
            TokenError::Invalid
        );
        assert_eq!(
            jwt.verify("not.a.token", TokenType::Access).unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn expired_tokens_say_so() {
        let jwt = Jwt::new(
            "a-test-secret-of-some-length",
            Duration::from_secs(300),
            Duration::from_secs(600),
        );
        let claims = Claims {
            token_type: TokenType::Access,
            exp: chrono::Utc::now().timestamp() - 10,
            iat: chrono::Utc::now().timestamp() - 310,
            jti: "x".into(),
            user_id: Uuid::new_v4().to_string(),
            epoch: 0,
            tenant: None,
            extra: Map::new(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &jwt.encoding).unwrap();
        assert_eq!(
            jwt.verify(&token, TokenType::Access).unwrap_err(),
            TokenError::Expired
        );
    }
}
