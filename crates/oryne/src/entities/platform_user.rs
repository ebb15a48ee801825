//! A platform administrator (`platform_users`, platform database).

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "platform_users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub roles: Json,
    pub is_active: bool,
    pub token_epoch: i64,
    pub last_login: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

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
