//! The database keeps the row counts of the tables an administrator's lists
//! page whole (`kernel::counts`), so those lists stay cheap on a million
//! students.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0004_row_counts"
    }
}

/// Every table listed whole by `GET /api/<resource>/` for an administrator
/// that grows with the number of students.
pub const COUNTED: &[&str] = &[
    "users",
    "students",
    "clearances",
    "approvals",
    "notifications",
    "audit_logs",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in COUNTED {
            kernel::counts::maintain(manager.get_connection(), table).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in COUNTED {
            kernel::counts::forget(manager.get_connection(), table).await?;
        }
        Ok(())
    }
}
