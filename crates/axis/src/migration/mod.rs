//! axis's migrations (history in `axis_migrations`).

use sea_orm_migration::prelude::*;

mod m0001_initial;
mod m0002_contracts;
mod m0003_kpis;
mod m0004_persons;
mod m0005_services;
mod m0006_documents;
mod m0007_expiry;

use m0001_initial::{stamps, table, unique};

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_initial::Migration),
            Box::new(m0002_contracts::Migration),
            Box::new(m0004_persons::Migration),
            Box::new(m0005_services::Migration),
            Box::new(m0006_documents::Migration),
            Box::new(m0003_kpis::Migration),
            Box::new(m0007_expiry::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "axis_migrations".into_iden()
    }
}

/// Tables whose whole-table counts the database keeps.
pub const COUNTED: &[&str] = &[
    "axis_audit_logs",
    "axis_entity_changes",
    "axis_field_changes",
];
