//! `audit_logs` (spec §2.10).

use sea_orm::entity::prelude::*;

/// campus writes the first six; `login`, `logout` and `other` come from the
/// original MksU system's audit trail (`campus import-django`).
pub const ACTIONS: &[&str] = &[
    "create", "update", "delete", "approve", "reject", "verify", "login", "logout", "other",
];

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_logs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub action: String,
    pub content_type: String,
    pub object_id: Uuid,
    pub object_str: String,
    pub changes: Option<Json>,
    pub ip_address: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
