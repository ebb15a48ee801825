//! `students` (spec §2.2): a student's academic record, one per student account.

use sea_orm::entity::prelude::*;

pub const ELIGIBILITY: &[&str] = &["eligible", "ineligible", "pending"];

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "students")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub user_id: Uuid,
    #[sea_orm(unique)]
    pub registration_number: String,
    pub admission_year: i32,
    pub school_id: Option<Uuid>,
    pub department_id: Option<Uuid>,
    pub course_id: Option<Uuid>,
    pub faculty: String,
    pub program: String,
    pub graduation_year: i32,
    pub eligibility_status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
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
