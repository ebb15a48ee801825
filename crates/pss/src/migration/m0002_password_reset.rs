//! Password reset tokens, password history, and the kernel's job queue (the
//! email sent after a reset or a change).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use kernel::migration::cols::{foreign_key, index, ts, unique_index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0002_password_reset"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();

        manager
            .create_table(
                Table::create()
                    .table("pss_password_reset_tokens")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    // SHA-256 of the token, hex: the token itself is never stored.
                    .col(string_len("token_hash", 64))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "expires_at", false))
                    .col(ts(db, "used_at", true))
                    .col(string_len_null("ip_address", 45))
                    .col(string_len("user_agent", 255))
                    .foreign_key(&mut foreign_key(
                        "pss_password_reset_tokens",
                        "user_id",
                        "pss_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index("pss_password_reset_tokens", "token_hash"))
            .await?;
        manager
            .create_index(index(
                "pss_password_reset_tokens",
                &["user_id", "created_at"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("pss_password_history")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(string_len("password_hash", 255))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut foreign_key(
                        "pss_password_history",
                        "user_id",
                        "pss_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("pss_password_history", &["user_id", "created_at"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["pss_password_history", "pss_password_reset_tokens"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
