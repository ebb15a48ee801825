//! The retention policy's notices: accounts unused for too long are warned,
//! then erased unless their owner signs in.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use kernel::migration::cols::{foreign_key, ts, unique_index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0005_retention"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("pss_retention_notices")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(ts(db, "last_seen", false))
                    .col(ts(db, "scheduled_for", false))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "final_warning_at", true))
                    .foreign_key(&mut foreign_key(
                        "pss_retention_notices",
                        "user_id",
                        "pss_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index("pss_retention_notices", "user_id"))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("pss_retention_notices").to_owned())
            .await
    }
}
