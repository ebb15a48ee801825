//! `campus_job_schedules`: when each periodic job kind is next due
//! ([`crate::jobs::Worker::every`]).

use sea_orm_migration::prelude::*;

use super::cols::ts;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0003_job_schedules"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(crate::jobs::schedule::Entity)
                    .if_not_exists()
                    .col(
                        ColumnDef::new("kind")
                            .string_len(100)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ts(db, "next_run_at", false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(crate::jobs::schedule::Entity)
                    .to_owned(),
            )
            .await
    }
}
