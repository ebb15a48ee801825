//! `roster_courses`: Courses (§3) with their weekly session demand.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_courses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub department_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    pub credit_hours: i32,
    pub theory_sessions_per_week: i32,
    pub practical_sessions_per_week: i32,
    pub session_duration_minutes: i32,
    pub is_active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
