//! `notifications` (spec §2.9).

use sea_orm::entity::prelude::*;

pub const TYPES: &[&str] = &["approval", "rejection", "payment", "status_update", "gown"];

/// The original MksU system's notification types, each with the spec's
/// type it is stored as: its clients send these, and its database holds them.
pub const ORIGINAL_TYPES: &[(&str, &str)] = &[
    ("clearance_submitted", "status_update"),
    ("clearance_approved", "approval"),
    ("clearance_rejected", "rejection"),
    ("approval_pending", "status_update"),
    ("payment_received", "payment"),
    ("payment_verified", "payment"),
    ("payment_failed", "payment"),
    ("general", "status_update"),
];

/// The spec's type for `kind`, which may be one of the original's.
pub fn canonical(kind: &str) -> &str {
    ORIGINAL_TYPES
        .iter()
        .find(|(original, _)| *original == kind)
        .map_or(kind, |(_, spec)| spec)
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub message: String,
    pub notification_type: String,
    pub related_object_type: Option<String>,
    pub related_object_id: Option<Uuid>,
    pub is_read: bool,
    pub read_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
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
