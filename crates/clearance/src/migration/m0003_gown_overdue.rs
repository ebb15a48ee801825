//! Remembers when a student was reminded of an overdue gown, so the hourly
//! reminder goes out once per due date.

use sea_orm_migration::prelude::*;

use kernel::migration::cols::ts;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0003_gown_overdue"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .alter_table(
                Table::alter()
                    .table("gown_issuances")
                    .add_column(ts(db, "overdue_notified_at", true))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("gown_issuances")
                    .drop_column("overdue_notified_at")
                    .to_owned(),
            )
            .await
    }
}
