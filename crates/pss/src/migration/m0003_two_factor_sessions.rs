//! Sign-in sessions (one row per refresh-token family) and two-factor
//! sign-in (the sealed TOTP secret, hashed backup codes).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use kernel::migration::cols::{foreign_key, index, ts, unique_index};

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

        manager
            .create_table(
                Table::create()
                    .table("pss_two_factor")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(text_null("secret"))
                    .col(boolean("enabled"))
                    .col(ts(db, "enabled_at", true))
                    .col(big_integer_null("last_step"))
                    .col(text_null("pending_secret"))
                    .col(ts(db, "pending_at", true))
                    .col(string_len_null("login_challenge", 64))
                    .col(ts(db, "login_until", true))
                    .col(string_len_null("setup_token", 64))
                    .col(ts(db, "setup_until", true))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut foreign_key(
                        "pss_two_factor",
                        "user_id",
                        "pss_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index("pss_two_factor", "user_id"))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("pss_backup_codes")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(string_len("code_hash", 64))
                    .col(ts(db, "used_at", true))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut foreign_key(
                        "pss_backup_codes",
                        "user_id",
                        "pss_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("pss_backup_codes", &["user_id"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["pss_backup_codes", "pss_two_factor", "pss_sessions"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
