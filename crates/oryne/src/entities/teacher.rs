//! A teacher (`teachers`): one user with role Teacher.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "teachers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub employee_no: String,
    pub designation: String,
    pub department: String,
    pub qualification: String,
    pub experience_years: i32,
    pub specialization: String,
    pub subjects: Json,
    pub address: String,
    pub city: String,
    pub state: String,
    pub pincode: String,
    pub emergency_contact: String,
    pub joining_date: Option<chrono::NaiveDate>,
    pub employment_type: String,
    pub status: String,
    pub metadata: Json,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
