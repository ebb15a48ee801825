//! A payment's fee statement beside its receipt: the original MksU system
//! kept both files, and `campus import-django` carries them over.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string_len_null;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0005_payment_files"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("payments")
                    .add_column(string_len_null("fee_statement", 255))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("payments")
                    .drop_column("fee_statement")
                    .to_owned(),
            )
            .await
    }
}
