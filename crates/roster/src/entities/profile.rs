//! `roster_profiles`: The role profile of a user (§1): one row per user, its fields by role.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_profiles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub admission_number: Option<String>,
    pub status: Option<String>,
    pub enrollment_date: Option<Date>,
    pub staff_number: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub qualifications: Option<String>,
    pub specialization: Option<String>,
    pub employment_type: Option<String>,
    pub max_weekly_hours: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
