//! The kernel's own tables, and the column helpers every system's migrations
//! use.
//!
//! Table names: the kernel's tables are prefixed `campus_`; a system's tables
//! are prefixed with the system's name (`pss_users`), except where its spec
//! fixes the names (clearance's `users`, `students`, ...; oryne's `db_table`
//! names). Each migrator keeps its own history table (`campus_migrations`,
//! `<system>_migrations`), so several systems can share one database. The
//! kernel's migrations run before a system's, and a system's `down()` never
//! touches a kernel table.

use sea_orm::DatabaseConnection;
use sea_orm_migration::prelude::*;

mod m0001_kernel_tables;
mod m0002_row_counts;
mod m0003_job_schedules;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_kernel_tables::Migration),
            Box::new(m0002_row_counts::Migration),
            Box::new(m0003_job_schedules::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "campus_migrations".into_iden()
    }
}

/// Applies the kernel's pending migrations.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Column, index and key helpers that keep every backend's types right and
/// every constraint named (`uq_<table>_<column>`, `ix_<table>_<columns>`,
/// `fk_<table>_<column>`), so errors can be matched by name.
pub mod cols {
    use sea_orm_migration::prelude::*;
    use sea_orm_migration::sea_orm::DbBackend;

    /// A UTC timestamp. MySQL/MariaDB get `DATETIME(6)`: their `TIMESTAMP`
    /// silently gains `ON UPDATE CURRENT_TIMESTAMP` and ends in 2038.
    pub fn ts<T: IntoIden>(backend: DbBackend, name: T, null: bool) -> ColumnDef {
        let mut col = ColumnDef::new(name);
        match backend {
            DbBackend::MySql => col.custom("DATETIME(6)"),
            _ => col.timestamp_with_time_zone(),
        };
        if null {
            col.null()
        } else {
            col.not_null()
        };
        col
    }

    pub fn unique_index(table: &'static str, column: &'static str) -> IndexCreateStatement {
        Index::create()
            .name(format!("uq_{table}_{column}"))
            .table(table.into_iden())
            .col(column.into_iden())
            .unique()
            .to_owned()
    }

    pub fn index(table: &'static str, columns: &[&'static str]) -> IndexCreateStatement {
        let mut index = Index::create();
        index
            .name(format!("ix_{table}_{}", columns.join("_")))
            .table(table.into_iden());
        for column in columns {
            index.col(column.into_iden());
        }
        index.to_owned()
    }

    pub fn foreign_key(
        table: &'static str,
        column: &'static str,
        target: &'static str,
        on_delete: ForeignKeyAction,
    ) -> ForeignKeyCreateStatement {
        ForeignKey::create()
            .name(format!("fk_{table}_{column}"))
            .from(table.into_iden(), column.into_iden())
            .to(target.into_iden(), "id".into_iden())
            .on_delete(on_delete)
            .to_owned()
    }
}
