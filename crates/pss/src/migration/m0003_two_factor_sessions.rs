//! Sign-in sessions: one row per refresh-token family.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::cols::{foreign_key, index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0003_two_factor_sessions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("pss_sessions")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(string_len("device_type", 20))
                    .col(string_len("browser", 50))
                    .col(string_len("os", 50))
                    .col(text("user_agent"))
                    .col(string_len_null("ip_address", 45))
                    .col(boolean("is_suspicious"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "last_activity", false))
                    .col(ts(db, "expires_at", false))
                    .col(ts(db, "terminated_at", true))
                    .foreign_key(&mut foreign_key(
                        "pss_sessions",
                        "user_id",
                        "pss_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("pss_sessions", &["user_id"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("pss_sessions").to_owned())
            .await
    }
}
