//! A tenant's user (`users`): email unique within the tenant.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    pub avatar: String,
    /// Role names.
    pub roles: Json,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub profile_data: Json,
    pub preferences: Json,
    pub token_epoch: i64,
    pub last_login: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_owned()
    }

    pub fn role_names(&self) -> Vec<String> {
        serde_json::from_value(self.roles.clone()).unwrap_or_default()
    }

    pub fn has_role(&self, name: &str) -> bool {
        self.role_names().iter().any(|r| r == name)
    }
}

impl kernel::identity::Account for Model {
    type Id = i64;
    const ID: Column = Column::Id;
    const TOKEN_EPOCH: Column = Column::TokenEpoch;
    const EMAIL: Column = Column::Email;
    const PASSWORD: Column = Column::Password;
    const LAST_LOGIN: Column = Column::LastLogin;

    fn account_id(&self) -> i64 {
        self.id
    }
    fn password_hash(&self) -> &str {
        &self.password
    }
    fn is_active(&self) -> bool {
        self.is_active
    }
    fn token_epoch(&self) -> i64 {
        self.token_epoch
    }
}
