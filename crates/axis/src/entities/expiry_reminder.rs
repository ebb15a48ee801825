//! `axis_expiry_reminders`: one reminder sent, about the end `due_date` of
//! one contract or document, `days_before` it (unique together).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "axis_expiry_reminders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `contract` or `document`.
    pub entity_type: String,
    pub entity_id: String,
    pub due_date: Date,
    pub days_before: i32,
    pub recipient: String,
    pub sent_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
