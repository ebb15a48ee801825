//! `pss_two_factor`: a user's TOTP second factor. `secret` and
//! `pending_secret` are sealed; the login challenge and the setup token are
//! stored only as SHA-256 hex.

use sea_orm::entity::prelude::*;

pub const TABLE: &str = "pss_two_factor";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pss_two_factor")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    /// Sealed base32 secret, once enabled.
    pub secret: Option<String>,
    pub enabled: bool,
    pub enabled_at: Option<DateTimeUtc>,
    /// The last time step whose code was accepted (no replay).
    pub last_step: Option<i64>,
    /// Sealed secret of a setup not yet confirmed.
    pub pending_secret: Option<String>,
    pub pending_at: Option<DateTimeUtc>,
    /// After a correct password: the challenge's hash and until when a code
    /// may complete the sign-in.
    pub login_challenge: Option<String>,
    pub login_until: Option<DateTimeUtc>,
    /// Mandatory 2FA: the setup token's hash and its expiry.
    pub setup_token: Option<String>,
    pub setup_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl ActiveModelBehavior for ActiveModel {}
