//! `pss_sessions`: one sign-in session per refresh-token family. Its id rides
//! in both tokens as the `sid` claim; ending the session ends them at once.

use sea_orm::entity::prelude::*;

pub const TABLE: &str = "pss_sessions";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pss_sessions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    /// `mobile`, `tablet`, `pc`, `bot` or `unknown`.
    pub device_type: String,
    pub browser: String,
    pub os: String,
    pub user_agent: String,
    pub ip_address: Option<String>,
    pub is_suspicious: bool,
    pub created_at: DateTimeUtc,
    pub last_activity: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub terminated_at: Option<DateTimeUtc>,
    /// The original's name of a session (64 hex digits, unique): it can be
    /// ended by it.
    pub session_key: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
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

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
