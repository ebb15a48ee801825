//! `roster_users`: Accounts of every role (§1): the sign-in identity and its personal details.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub role: String,
    pub gender: Option<String>,
    pub phone: Option<String>,
    pub id_number: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub address: Option<String>,
    pub date_of_birth: Option<Date>,
    pub is_active: bool,
    pub is_superuser: bool,
    pub email_verified: bool,
    pub token_epoch: i64,
    pub date_joined: DateTimeUtc,
    pub last_login: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl kernel::identity::Account for Model {
    type Id = Uuid;
    const ID: Column = Column::Id;
    const TOKEN_EPOCH: Column = Column::TokenEpoch;
    const EMAIL: Column = Column::Email;
    const PASSWORD: Column = Column::Password;
    const LAST_LOGIN: Column = Column::LastLogin;

    fn account_id(&self) -> Uuid {
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

impl Model {
    /// "First Last", or the email when both names are blank.
    pub fn full_name(&self) -> String {
        let name = format!("{} {}", self.first_name.trim(), self.last_name.trim());
        match name.trim() {
            "" => self.email.clone(),
            name => name.to_owned(),
        }
    }

    /// The role; an unknown stored value reads as the least privileged.
    pub fn role(&self) -> crate::access::Role {
        crate::access::Role::parse(&self.role).unwrap_or(crate::access::Role::Trainee)
    }
}
