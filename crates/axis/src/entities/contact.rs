//! `axis_client_contacts`: people at a client.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "axis_client_contacts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub client_id: String,
    pub first_name: String,
    pub last_name: String,
    /// Lower-cased; unique per client among live contacts.
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub role: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub is_primary: bool,
    pub preferred_contact_method: String,
    pub is_active: bool,
    pub notes: Option<String>,
    pub metadata: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    #[serde(skip)]
    pub tombstone: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_owned()
    }
}
