//! `axis_users`: everyone who signs in (password, Microsoft, or both).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "axis_users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Lower-cased; unique among live users.
    pub email: String,
    pub username: Option<String>,
    /// A Django-format hash; `!…` is no usable password (Microsoft-only).
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub status: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub email_verified: Option<DateTimeUtc>,
    pub last_login_at: Option<DateTimeUtc>,
    pub preferred_language: Option<String>,
    pub timezone: Option<String>,
    pub metadata: Json,
    pub token_epoch: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    #[serde(skip)]
    pub tombstone: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Statuses that may not sign in.
pub const DISABLED: &[&str] = &["Suspended", "Banned", "Inactive"];

impl Model {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_owned()
    }

    /// Live, active and in a status that may sign in.
    pub fn may_sign_in(&self) -> bool {
        self.deleted_at.is_none() && self.is_active && !DISABLED.contains(&self.status.as_str())
    }
}

impl kernel::identity::Account for Model {
    type Id = String;
    const ID: Column = Column::Id;
    const TOKEN_EPOCH: Column = Column::TokenEpoch;
    const EMAIL: Column = Column::Email;
    const PASSWORD: Column = Column::Password;
    const LAST_LOGIN: Column = Column::LastLoginAt;

    fn account_id(&self) -> String {
        self.id.clone()
    }
    fn password_hash(&self) -> &str {
        &self.password
    }
    fn is_active(&self) -> bool {
        self.may_sign_in()
    }
    fn token_epoch(&self) -> i64 {
        self.token_epoch
    }
    /// A deleted user keeps their email while a new user may take it: the
    /// password sign-in looks among live users only.
    fn signs_in_among() -> sea_orm::Condition {
        sea_orm::Condition::all().add(Column::DeletedAt.is_null())
    }
}
