//! `pss_journal_entries`: a candidate's daily journal. The text is sealed;
//! date, mood, energy and barrier count stay plain for filters and statistics.

use sea_orm::entity::prelude::*;

pub const TABLE: &str = "pss_journal_entries";

pub const MOODS: &[&str] = &["excellent", "good", "okay", "difficult", "very_difficult"];

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pss_journal_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub date: Date,
    pub title: Option<String>,
    pub content: Option<String>,
    pub mood: String,
    pub energy_level: i32,
    pub activities: Option<String>,
    pub challenges: Option<String>,
    pub achievements: Option<String>,
    pub barriers_faced: Option<String>,
    pub barrier_count: i32,
    pub notes: Option<String>,
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
