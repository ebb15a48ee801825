//! `axis_entity_changes`: a row's snapshots before and after one change.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "axis_entity_changes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub entity_type: String,
    pub entity_id: String,
    pub change_type: String,
    pub changed_at: DateTimeUtc,
    pub changed_by: Option<String>,
    pub changed_by_email: Option<String>,
    pub change_reason: Option<String>,
    pub old_data: Option<Json>,
    pub new_data: Option<Json>,
    pub metadata: Json,
    pub is_active: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
