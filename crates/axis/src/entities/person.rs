//! `axis_persons`: staff, client employees, dependents and provider
//! persons in one table; the profile fields live on the row. A dependent's
//! `client_id` is its primary employee's client (its effective client).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "axis_persons")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub person_type: String,
    pub status: String,
    pub user_id: Option<String>,
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<Date>,
    pub gender: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub emergency_contact_name: Option<String>,
    pub emergency_contact_phone: Option<String>,
    pub emergency_contact_email: Option<String>,
    pub notes: Option<String>,
    pub metadata: Json,
    pub last_service_date: Option<Date>,
    pub client_id: Option<String>,
    pub employee_role: Option<String>,
    pub employee_department: Option<String>,
    pub employee_id_number: Option<String>,
    pub employment_start_date: Option<Date>,
    pub employment_end_date: Option<Date>,
    pub employment_status: Option<String>,
    pub primary_employee_id: Option<String>,
    pub relationship_to_employee: Option<String>,
    pub is_employee_dependent: Option<bool>,
    pub guardian_id: Option<String>,
    pub staff_organization: Option<String>,
    pub staff_role: Option<String>,
    pub staff_department: Option<String>,
    pub can_manage_clients: Option<bool>,
    pub can_manage_services: Option<bool>,
    pub can_view_reports: Option<bool>,
    pub provider_type: Option<String>,
    pub license_number: Option<String>,
    pub license_expiry: Option<Date>,
    pub specializations: Option<Json>,
    pub languages_spoken: Option<Json>,
    /// In cents (`kernel::money::Money`).
    pub hourly_rate: Option<i64>,
    pub bio: Option<String>,
    pub is_accepting_new_clients: Option<bool>,
    pub max_clients: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
