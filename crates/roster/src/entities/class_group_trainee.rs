//! `roster_class_group_trainees`: Membership of a class group (§2); the unique (trainee, academic year) pair keeps a trainee in one class group per year.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_class_group_trainees")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub class_group_id: Uuid,
    pub trainee_id: Uuid,
    pub academic_year_id: Uuid,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
