//! Accounts and profiles, intake forms, journal, admin notes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::seal::PROFILE_SEALED;
use kernel::migration::cols::{foreign_key, index, ts, unique_index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0001_initial"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();

        manager
            .create_table(
                Table::create()
                    .table("pss_users")
                    .col(big_pk_auto("id"))
                    .col(string_len("email", 254))
                    .col(string_len("password", 255))
                    .col(string_len("first_name", 150))
                    .col(string_len("last_name", 150))
                    .col(string_len("role", 20))
                    .col(boolean("is_active"))
                    .col(big_integer("token_epoch"))
                    .col(ts(db, "last_login", true))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index("pss_users", "email"))
            .await?;
        manager.create_index(index("pss_users", &["role"])).await?;

        let mut profiles = Table::create();
        profiles
            .table("pss_user_profiles")
            .col(big_pk_auto("id"))
            .col(big_integer("user_id"))
            .col(boolean("has_completed_intake"));
        for column in PROFILE_SEALED {
            profiles.col(text_null(*column));
        }
        profiles
            .col(ts(db, "created_at", false))
            .col(ts(db, "updated_at", false))
            .foreign_key(&mut foreign_key(
                "pss_user_profiles",
                "user_id",
                "pss_users",
                ForeignKeyAction::Cascade,
            ));
        manager.create_table(profiles.to_owned()).await?;
        manager
            .create_index(unique_index("pss_user_profiles", "user_id"))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("pss_intake_forms")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(text_null("responses"))
                    .col(string_len("status", 20))
                    .col(ts(db, "submitted_at", false))
                    .foreign_key(&mut foreign_key(
                        "pss_intake_forms",
                        "user_id",
                        "pss_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("pss_intake_forms", &["user_id", "submitted_at"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("pss_journal_entries")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(date("date"))
                    .col(text_null("title"))
                    .col(text_null("content"))
                    .col(string_len("mood", 20))
                    .col(integer("energy_level"))
                    .col(text_null("activities"))
                    .col(text_null("challenges"))
                    .col(text_null("achievements"))
                    .col(text_null("barriers_faced"))
                    .col(integer("barrier_count"))
                    .col(text_null("notes"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut foreign_key(
                        "pss_journal_entries",
                        "user_id",
                        "pss_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("pss_journal_entries", &["user_id", "date"]))
            .await?;
        manager
            .create_index(index("pss_journal_entries", &["date"]))
            .await?;
        manager
            .create_index(index("pss_journal_entries", &["created_at"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("pss_admin_notes")
                    .col(big_pk_auto("id"))
                    .col(big_integer("candidate_id"))
                    .col(big_integer("admin_id"))
                    .col(string_len("category", 20))
                    .col(text_null("title"))
                    .col(text_null("note_text"))
                    .col(string_len("tags", 255))
                    .col(boolean("is_important"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut foreign_key(
                        "pss_admin_notes",
                        "candidate_id",
                        "pss_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "pss_admin_notes",
                        "admin_id",
                        "pss_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("pss_admin_notes", &["candidate_id", "created_at"]))
            .await?;
        manager
            .create_index(index("pss_admin_notes", &["admin_id"]))
            .await?;
        manager
            .create_index(index("pss_admin_notes", &["created_at"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "pss_admin_notes",
            "pss_journal_entries",
            "pss_intake_forms",
            "pss_user_profiles",
            "pss_users",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
