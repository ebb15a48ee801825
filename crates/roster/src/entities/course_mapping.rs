//! `roster_course_mappings`: Programme curriculum (§3): a course in a programme's year of study and term, with the room type of each kind of session.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_course_mappings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub programme_id: Uuid,
    pub course_id: Uuid,
    pub year_of_study: i32,
    pub term_number: i32,
    pub is_core: bool,
    pub theory_room_type: Option<String>,
    pub practical_room_type: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
