//! A weekly timetable slot (`timetable_entries`).

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "timetable_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub class_name: String,
    pub section: String,
    pub day_of_week: i32,
    pub period: i32,
    pub start_time: chrono::NaiveTime,
    pub end_time: chrono::NaiveTime,
    pub subject_id: Option<i64>,
    pub teacher_id: Option<i64>,
    pub room: String,
    pub academic_year_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
