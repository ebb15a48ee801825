//! `roster_faces`: A user's reference face (§8): the stored image and its 128-float encoding.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_faces")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub encoding: String,
    pub image_name: String,
    pub image_type: String,
    pub box_left: i32,
    pub box_top: i32,
    pub box_right: i32,
    pub box_bottom: i32,
    pub registered_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
