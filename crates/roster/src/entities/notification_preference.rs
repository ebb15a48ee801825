//! `roster_notification_preferences`: Notification preferences (§6) of one user: `channels` is JSON `{type: {in_app, email, push}}`; the do-not-disturb window in minutes after midnight, school time.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_notification_preferences")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub channels: String,
    pub dnd_enabled: bool,
    pub dnd_start_minute: i32,
    pub dnd_end_minute: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
