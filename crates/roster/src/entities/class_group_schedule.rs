//! `roster_class_group_schedules`: The cached weekly schedule of a class group in a term (§4), rebuilt on every change.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_class_group_schedules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub class_group_id: Uuid,
    pub term_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub schedule: String,
    pub last_updated: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
