//! `axis_service_sessions`: a person's session with a provider.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "axis_service_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub service_id: String,
    pub provider_id: String,
    pub person_id: String,
    pub scheduled_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
    pub status: String,
    pub notes: Option<String>,
    pub feedback: Option<String>,
    /// Minutes.
    pub duration: Option<i32>,
    pub location: Option<String>,
    pub cancellation_reason: Option<String>,
    pub reschedule_count: i32,
    pub is_group_session: bool,
    pub metadata: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
