//! `roster_rooms`: Rooms (§4): type, capacity, place and geofence, booking limit.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roster_rooms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub code: Option<String>,
    pub room_type: String,
    pub capacity: i32,
    pub building: Option<String>,
    pub floor: Option<String>,
    pub department_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub facilities: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub geofence_radius_m: i32,
    pub is_virtual: bool,
    pub is_active: bool,
    pub max_sessions_per_day: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
