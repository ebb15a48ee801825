//! The Clearance system's schema, as ordered migrations.

use sea_orm_migration::prelude::*;

mod m0001_identity;
mod m0002_workflow;
mod m0003_gown_overdue;
mod m0004_row_counts;
mod m0005_payment_files;

pub use m0004_row_counts::COUNTED;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_identity::Migration),
            Box::new(m0002_workflow::Migration),
            Box::new(m0003_gown_overdue::Migration),
            Box::new(m0004_row_counts::Migration),
            Box::new(m0005_payment_files::Migration),
        ]
    }

    /// Its own table, so several systems can share one database.
    fn migration_table_name() -> DynIden {
        "clearance_migrations".into_iden()
    }
}
