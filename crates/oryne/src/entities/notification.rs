//! A notification through the gateway (`notifications`): in-app rows a
//! user reads, and the delivery log of every channel.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: Option<i64>,
    /// Email, phone or device, by channel.
    pub recipient: String,
    pub channel: String,
    pub template: String,
    pub title: String,
    pub body: String,
    pub data: Json,
    pub priority: String,
    pub status: String,
    pub gns_id: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
