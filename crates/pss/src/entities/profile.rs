//! `pss_user_profiles`: one per user, created with it. Every personal and
//! medical field is sealed; only the flags and timestamps are plain.

use sea_orm::entity::prelude::*;

pub const TABLE: &str = "pss_user_profiles";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pss_user_profiles")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub user_id: i64,
    pub has_completed_intake: bool,
    /// Sealed `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    pub phone_number: Option<String>,
    pub address: Option<String>,
    pub id_number: Option<String>,
    pub diagnosis: Option<String>,
    pub medications: Option<String>,
    pub allergies: Option<String>,
    pub doctor_name: Option<String>,
    pub doctor_phone: Option<String>,
    pub medical_notes: Option<String>,
    pub emergency_contact_name: Option<String>,
    pub emergency_contact_phone: Option<String>,
    pub emergency_contact_relationship: Option<String>,
    pub accommodations: Option<String>,
    pub assistive_technology: Option<String>,
    pub learning_style: Option<String>,
    pub support_needs: Option<String>,
    pub communication_preferences: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
