//! `roster_trainer_availability`: Weekly windows when a trainer can teach (§4); `term_id` null means every term. Times are minutes after midnight, school time; `day` 0 is Monday.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_trainer_availability")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub trainer_id: Uuid,
    pub term_id: Option<Uuid>,
    pub day: i32,
    pub start_minute: i32,
    pub end_minute: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
