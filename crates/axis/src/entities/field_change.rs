//! `axis_field_changes`: one changed field of an entity change.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "axis_field_changes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub entity_change_id: String,
    pub entity_type: String,
    pub entity_id: String,
    pub field_name: String,
    pub old_value: Option<Json>,
    pub new_value: Option<Json>,
    pub change_type: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
