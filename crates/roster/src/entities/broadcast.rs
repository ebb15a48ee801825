//! `roster_broadcasts`: Broadcasts (§6): one message to an audience, delivered by the job queue. `roles` is a JSON list.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_broadcasts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub message: String,
    pub notification_type: String,
    pub priority: String,
    pub audience: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub roles: Option<String>,
    pub department_id: Option<Uuid>,
    pub programme_id: Option<Uuid>,
    pub class_group_id: Option<Uuid>,
    pub scheduled_for: Option<DateTimeUtc>,
    pub status: String,
    pub recipient_count: i32,
    pub delivered_count: i32,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
