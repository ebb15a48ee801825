//! The reminders the daily expiry job sent (`crate::expiry`): one row per
//! contract or document, end date and number of days ahead, unique, so a
//! reminder is never sent twice.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use kernel::migration::cols::{index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0007_expiry"
    }
}

const TABLE: &str = "axis_expiry_reminders";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        let mut t = super::table(TABLE);
        t.col(string_len("entity_type", 20))
            .col(string_len("entity_id", 25))
            .col(date("due_date"))
            .col(integer("days_before"))
            .col(string_len("recipient", 255))
            .col(ts(db, "sent_at", false));
        manager.create_table(t).await?;
        for statement in [
            super::unique(
                TABLE,
                &["entity_type", "entity_id", "due_date", "days_before"],
            ),
            index(TABLE, &["sent_at"]),
        ] {
            manager.create_index(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TABLE).if_exists().to_owned())
            .await
    }
}
