//! A teacher's class, section and subject (`teacher_assignments`): what the `:class` scope reaches.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "teacher_assignments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub teacher_id: i64,
    pub class_name: String,
    pub section: String,
    pub subject_id: Option<i64>,
    pub academic_year_id: Option<i64>,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
