//! The PSS schema, as ordered migrations (after the kernel's; see
//! `kernel::migration`). Tables are prefixed `pss_`.

use sea_orm_migration::prelude::*;

mod m0001_initial;
mod m0002_password_reset;
mod m0003_two_factor_sessions;
mod m0004_popia;
mod m0005_retention;
pub(crate) mod m0006_original_compat;

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
            Box::new(m0006_original_compat::Migration),
        ]
    }

    /// Its own table, so several systems can share one database.
    fn migration_table_name() -> DynIden {
        "pss_migrations".into_iden()
    }
}
