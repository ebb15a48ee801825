//! `pss_deletion_requests`: a person's request to erase their data, its
//! review, and once executed the proof of what was erased (kept until
//! `retention_until`).

use sea_orm::entity::prelude::*;

pub const PENDING: &str = "pending";
pub const APPROVED: &str = "approved";
pub const REJECTED: &str = "rejected";
pub const COMPLETED: &str = "completed";
pub const CANCELLED: &str = "cancelled";

pub const STATUSES: &[&str] = &[PENDING, APPROVED, REJECTED, COMPLETED, CANCELLED];

/// How a status reads to people.
pub fn status_display(status: &str) -> &'static str {
    match status {
        PENDING => "Pending Review",
        APPROVED => "Approved",
        REJECTED => "Rejected",
        COMPLETED => "Completed",
        CANCELLED => "Cancelled",
        _ => "",
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pss_deletion_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub status: String,
    pub reason: String,
    pub requested_at: DateTimeUtc,
    pub reviewed_by: Option<i64>,
    pub reviewed_at: Option<DateTimeUtc>,
    pub admin_notes: String,
    pub completed_at: Option<DateTimeUtc>,
    /// JSON: what was erased, when, for which account.
    pub deletion_proof: Option<String>,
    pub retention_until: Option<DateTimeUtc>,
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
