//! `clearances` (spec §2.4): a student's request to be cleared for graduation.

use sea_orm::entity::prelude::*;

pub const STATUSES: &[&str] = &["pending", "in_progress", "completed", "rejected"];

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clearances")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub student_id: Uuid,
    /// Derived from the approvals: see `workflow::derive_status`.
    pub status: String,
    pub submission_date: DateTimeUtc,
    pub completion_date: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub rejection_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::student::Entity",
        from = "Column::StudentId",
        to = "super::student::Column::Id",
        on_delete = "Cascade"
    )]
    Student,
    #[sea_orm(has_many = "super::approval::Entity")]
    Approvals,
}

impl Related<super::student::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Student.def()
    }
}

impl Related<super::approval::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Approvals.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
