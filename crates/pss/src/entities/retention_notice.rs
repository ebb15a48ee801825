//! `pss_retention_notices`: an account the retention policy found unused,
//! when it was last seen, and when it will be erased unless its owner signs
//! in first.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pss_retention_notices")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub user_id: i64,
    /// The last sign-in (or the joining date) the notice was based on.
    pub last_seen: DateTimeUtc,
    pub scheduled_for: DateTimeUtc,
    /// When the first warning went out.
    pub created_at: DateTimeUtc,
    /// When the last warning (a week before) went out.
    pub final_warning_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
