//! The row counters of [`crate::counts`]: their table and, on PostgreSQL,
//! the trigger functions every counted table's triggers call.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::counts::TABLE;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0002_row_counts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TABLE)
                    .if_not_exists()
                    .col(ColumnDef::new("table_name").string_len(64).not_null())
                    .col(ColumnDef::new("shard").integer().not_null())
                    .col(ColumnDef::new("n").big_integer().not_null())
                    .primary_key(Index::create().col("table_name").col("shard"))
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            let db = manager.get_connection();
            // A statement's rows, added to (or taken from) the row of the
            // connection that ran it; `counted_rows` is the transition table
            // every counting trigger names.
            db.execute_unprepared(&format!(
                "CREATE OR REPLACE FUNCTION campus_count_rows() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ \
                 DECLARE delta bigint; \
                 BEGIN \
                   SELECT COUNT(*) INTO delta FROM counted_rows; \
                   IF delta > 0 THEN \
                     IF TG_OP = 'DELETE' THEN delta := -delta; END IF; \
                     INSERT INTO {TABLE} (table_name, shard, n) \
                       VALUES (TG_TABLE_NAME, pg_backend_pid(), delta) \
                       ON CONFLICT (table_name, shard) DO UPDATE SET n = {TABLE}.n + EXCLUDED.n; \
                   END IF; \
                   RETURN NULL; \
                 END $$"
            ))
            .await?;
            db.execute_unprepared(&format!(
                "CREATE OR REPLACE FUNCTION campus_count_truncated() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ \
                 BEGIN \
                   DELETE FROM {TABLE} WHERE table_name = TG_TABLE_NAME; \
                   INSERT INTO {TABLE} (table_name, shard, n) VALUES (TG_TABLE_NAME, 0, 0); \
                   RETURN NULL; \
                 END $$"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared("DROP FUNCTION IF EXISTS campus_count_rows() CASCADE")
                .await?;
            db.execute_unprepared("DROP FUNCTION IF EXISTS campus_count_truncated() CASCADE")
                .await?;
        }
        manager
            .drop_table(Table::drop().table(TABLE).if_exists().to_owned())
            .await
    }
}
