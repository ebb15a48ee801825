//! `approvals` (spec §2.5): one office's decision on one clearance request.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approvals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub clearance_request_id: Uuid,
    pub department_id: Uuid,
    /// pending, approved or rejected.
    pub status: String,
    pub approved_by_id: Option<Uuid>,
    pub approval_date: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub rejection_reason: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub notes: String,
    /// Storage name of the evidence file (`evidence/<uuid>.<ext>`).
    pub evidence_file: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::clearance::Entity",
        from = "Column::ClearanceRequestId",
        to = "super::clearance::Column::Id",
        on_delete = "Cascade"
    )]
    Clearance,
    #[sea_orm(
        belongs_to = "super::department::Entity",
        from = "Column::DepartmentId",
        to = "super::department::Column::Id",
        on_delete = "Restrict"
    )]
    Department,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ApprovedById",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    ApprovedBy,
}

impl Related<super::clearance::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Clearance.def()
    }
}

impl Related<super::department::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Department.def()
    }
}

/// Who decided (`approved_by`).
impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ApprovedBy.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
