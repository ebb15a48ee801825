//! oryne's two migration sets: the platform's (its own history table
//! `oryne_platform_migrations`, in the platform database) and the
//! tenant's (`oryne_tenant_migrations`, in each tenant's schema or file,
//! after the kernel's own tables there).

use sea_orm_migration::prelude::*;

mod p0001_platform;
mod t0001_identity;
mod t0002_erp;

pub struct PlatformMigrator;

#[async_trait::async_trait]
impl MigratorTrait for PlatformMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(p0001_platform::Migration)]
    }

    fn migration_table_name() -> DynIden {
        "oryne_platform_migrations".into_iden()
    }
}

pub struct TenantMigrator;

#[async_trait::async_trait]
impl MigratorTrait for TenantMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(t0001_identity::Migration),
            Box::new(t0002_erp::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "oryne_tenant_migrations".into_iden()
    }
}

/// A named (unique) index over `columns`.
pub(crate) fn index(
    table: &'static str,
    columns: &[&'static str],
    unique: bool,
) -> IndexCreateStatement {
    let prefix = if unique { "uq" } else { "ix" };
    let mut index = Index::create();
    index
        .name(format!("{prefix}_{table}_{}", columns.join("_")))
        .table(table.into_iden());
    for column in columns {
        index.col(column.into_iden());
    }
    if unique {
        index.unique();
    }
    index.to_owned()
}

pub(crate) fn fk(
    table: &'static str,
    column: &'static str,
    target: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    kernel::migration::cols::foreign_key(table, column, target, on_delete)
}

/// A 64-bit auto-increment primary key.
pub(crate) fn id() -> ColumnDef {
    ColumnDef::new("id")
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}
