//! `roster_notifications`: In-app notifications (§6) of one user.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub notification_type: String,
    pub priority: String,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub message: String,
    pub is_read: bool,
    pub read_at: Option<DateTimeUtc>,
    pub related_object_type: Option<String>,
    pub related_object_id: Option<String>,
    pub action_url: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub channels: String,
    pub is_deleted: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
