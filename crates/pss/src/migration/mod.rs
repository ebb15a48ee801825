//! The PSS schema, as ordered migrations.

use sea_orm_migration::prelude::*;

mod m0001_initial;
mod m0002_password_reset;
mod m0003_two_factor_sessions;
mod m0004_popia;
mod m0005_retention;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_initial::Migration),
            Box::new(m0002_password_reset::Migration),
            Box::new(m0003_two_factor_sessions::Migration),
            Box::new(m0004_popia::Migration),
            Box::new(m0005_retention::Migration),
        ]
    }

    /// Its own table, so several systems can share one database.
    fn migration_table_name() -> DynIden {
        "pss_migrations".into_iden()
    }
}

/// Column helpers that keep every backend's types right.
pub(crate) mod cols {
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
