//! The job queue, the refresh-token blacklist and the kernel audit log.
//!
//! Databases made before the kernel owned these tables have them under the
//! systems' old names (`jobs`, `token_blacklist` with a UUID `user_id`): the
//! queue is renamed in place, the blacklist's rows are carried over.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string_len;
use sea_orm_migration::sea_orm::{ConnectionTrait, Schema};

use super::cols::{index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0001_kernel_tables"
    }
}

const JOBS: &str = "campus_jobs";
const BLACKLIST: &str = "campus_token_blacklist";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        if !manager.has_table(JOBS).await? {
            if manager.has_table("jobs").await? {
                manager
                    .rename_table(Table::rename().table("jobs", JOBS).to_owned())
                    .await?;
            } else {
                manager
                    .create_table(
                        Schema::new(backend)
                            .create_table_from_entity(crate::jobs::job::Entity)
                            .to_owned(),
                    )
                    .await?;
            }
        }
        if !manager.has_table(BLACKLIST).await? {
            manager
                .create_table(
                    Table::create()
                        .table(BLACKLIST)
                        .col(string_len("jti", 64).primary_key())
                        .col(string_len("user_id", 64))
                        .col(ts(backend, "expires_at", false))
                        .col(ts(backend, "blacklisted_at", false))
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(index(BLACKLIST, &["expires_at"]))
                .await?;
            if manager.has_table("token_blacklist").await? {
                manager
                    .get_connection()
                    .execute_unprepared(
                        "INSERT INTO campus_token_blacklist (jti, user_id, expires_at, blacklisted_at) \
                         SELECT jti, '', expires_at, blacklisted_at FROM token_blacklist",
                    )
                    .await?;
                manager
                    .drop_table(Table::drop().table("token_blacklist").to_owned())
                    .await?;
            }
        }
        crate::audit_log::create_table(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [crate::audit_log::TABLE, BLACKLIST, JOBS] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
