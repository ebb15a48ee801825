//! roster's schema, in its own history table (`roster_migrations`).

use sea_orm_migration::prelude::*;

mod m0001_initial;
mod m0002_attendance;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_initial::Migration),
            Box::new(m0002_attendance::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "roster_migrations".into_iden()
    }
}
