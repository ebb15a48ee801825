//! POPIA: privacy-policy versions, consents, deletion requests (with their
//! proof records) and the log of data exports.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use kernel::migration::cols::{foreign_key, index, ts, unique_index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0004_popia"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("pss_privacy_policies")
                    .col(big_pk_auto("id"))
                    .col(string_len("version", 20))
                    .col(string_len("title", 200))
                    .col(text("content"))
                    .col(date("effective_date"))
                    .col(boolean("is_active"))
                    .col(big_integer_null("created_by"))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut foreign_key(
                        "pss_privacy_policies",
                        "created_by",
                        "pss_users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index("pss_privacy_policies", "version"))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("pss_consents")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(string_len("consent_type", 30))
                    .col(big_integer("policy_id"))
                    .col(boolean("granted"))
                    .col(ts(db, "granted_at", true))
                    .col(ts(db, "withdrawn_at", true))
                    .col(string_len_null("ip_address", 45))
                    .col(text("user_agent"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut foreign_key(
                        "pss_consents",
                        "user_id",
                        "pss_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "pss_consents",
                        "policy_id",
                        "pss_privacy_policies",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        // One consent per person and type: granting again updates it.
        manager
            .create_index(
                Index::create()
                    .name("uq_pss_consents_user_id_consent_type")
                    .table("pss_consents")
                    .col("user_id")
                    .col("consent_type")
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("pss_deletion_requests")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(string_len("status", 20))
                    .col(text("reason"))
                    .col(ts(db, "requested_at", false))
                    .col(big_integer_null("reviewed_by"))
                    .col(ts(db, "reviewed_at", true))
                    .col(text("admin_notes"))
                    .col(ts(db, "completed_at", true))
                    .col(text_null("deletion_proof"))
                    .col(ts(db, "retention_until", true))
                    .foreign_key(&mut foreign_key(
                        "pss_deletion_requests",
                        "user_id",
                        "pss_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "pss_deletion_requests",
                        "reviewed_by",
                        "pss_users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("pss_deletion_requests", &["user_id", "status"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("pss_export_requests")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(string_len("status", 20))
                    .col(ts(db, "requested_at", false))
                    .col(ts(db, "completed_at", true))
                    .col(ts(db, "expires_at", true))
                    .col(integer("download_count"))
                    .col(text("error_message"))
                    .foreign_key(&mut foreign_key(
                        "pss_export_requests",
                        "user_id",
                        "pss_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("pss_export_requests", &["user_id"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "pss_export_requests",
            "pss_deletion_requests",
            "pss_consents",
            "pss_privacy_policies",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
