//! `pss_admin_notes`: what administrators write about a candidate. Title and
//! text are sealed; category, tags and importance stay plain for filtering.

use sea_orm::entity::prelude::*;

pub const TABLE: &str = "pss_admin_notes";

pub const CATEGORIES: &[&str] = &[
    "progress",
    "concern",
    "achievement",
    "medical",
    "accommodation",
    "general",
];

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pss_admin_notes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub candidate_id: i64,
    pub admin_id: i64,
    pub category: String,
    pub title: Option<String>,
    pub note_text: Option<String>,
    /// Comma-separated.
    pub tags: String,
    pub is_important: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::CandidateId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    Candidate,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::AdminId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    Admin,
}

impl ActiveModelBehavior for ActiveModel {}
