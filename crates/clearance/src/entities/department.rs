//! `departments` (spec §2.3): the offices that approve a clearance.

use sea_orm::entity::prelude::*;

pub const TYPES: &[&str] = &[
    "finance", "faculty", "library", "mess", "hostel", "workshop", "sports", "other",
];

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "departments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    #[sea_orm(unique)]
    pub code: String,
    pub department_type: String,
    pub head_email: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub is_active: bool,
    /// Offices with the same order decide in parallel; a higher order waits
    /// for every lower one.
    pub approval_order: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::user::Entity")]
    Staff,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Staff.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
