//! `pss_users`: candidates, administrators and superusers, signing in by email.

use sea_orm::entity::prelude::*;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[sea_orm(string_value = "candidate")]
    Candidate,
    #[sea_orm(string_value = "admin")]
    Admin,
    #[sea_orm(string_value = "superuser")]
    Superuser,
}

impl Role {
    pub const CHOICES: &'static [&'static str] = &["candidate", "admin", "superuser"];

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "candidate" => Some(Self::Candidate),
            "admin" => Some(Self::Admin),
            "superuser" => Some(Self::Superuser),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Candidate => "candidate",
            Self::Admin => "admin",
            Self::Superuser => "superuser",
        }
    }

    /// Administrators and superusers manage candidates.
    pub fn is_staff(self) -> bool {
        matches!(self, Self::Admin | Self::Superuser)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pss_users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub email: String,
    /// A Django-format hash (Argon2id by default).
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub is_active: bool,
    /// Bumped on logout, deactivation and role changes: older tokens are dead.
    pub token_epoch: i64,
    pub last_login: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_one = "super::profile::Entity")]
    Profile,
}

impl Related<super::profile::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Profile.def()
    }
}

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

/// Whose data each role may reach: candidates only their own;
/// administrators their own and every candidate's; superusers everything.
impl Model {
    pub fn id(&self) -> i64 {
        self.id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// An administrator or a superuser.
    pub fn is_staff(&self) -> bool {
        self.role.is_staff()
    }

    pub fn is_superuser(&self) -> bool {
        self.role == Role::Superuser
    }

    /// Whether this user may reach `target`'s data.
    pub fn can_reach(&self, target: &Model) -> bool {
        target.id == self.id
            || match self.role {
                Role::Superuser => true,
                Role::Admin => target.role == Role::Candidate,
                Role::Candidate => false,
            }
    }

    /// The condition on `pss_users` selecting the accounts whose data this
    /// user may reach (join `pss_users` to use it on owned rows).
    pub fn reachable_users(&self) -> sea_orm::sea_query::Condition {
        use sea_orm::sea_query::{Condition, Expr, ExprTrait};
        let me = Column::Id.eq(self.id);
        match self.role {
            Role::Superuser => Condition::all(),
            Role::Admin => Condition::any()
                .add(me)
                .add(Expr::col((Entity, Column::Role)).eq(Role::Candidate.as_str())),
            Role::Candidate => Condition::all().add(me),
        }
    }
}
