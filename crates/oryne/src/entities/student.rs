//! A student (`students`, spec §6.2): one user with role Student.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "students")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub enrollment_no: String,
    pub class_name: String,
    pub section: String,
    pub roll_number: Option<i32>,
    pub admission_date: Option<chrono::NaiveDate>,
    pub date_of_birth: Option<chrono::NaiveDate>,
    pub gender: String,
    pub blood_group: String,
    pub address: String,
    pub city: String,
    pub state: String,
    pub pincode: String,
    pub parent_name: String,
    pub parent_email: String,
    pub parent_phone: String,
    pub parent_relationship: String,
    pub status: String,
    pub metadata: Json,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
