//! Contracts (axis contract §6).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use kernel::migration::cols::{index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0002_contracts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        let mut t = super::table("axis_contracts");
        t.col(string_len("client_id", 25))
            .col(string_len("title", 255))
            .col(text_null("description"))
            .col(string_len("contract_number", 50))
            .col(date("start_date"))
            .col(date("end_date"))
            .col(date_null("renewal_date"))
            .col(big_integer("billing_amount"))
            .col(string_len("currency", 10))
            .col(string_len("billing_frequency", 50))
            .col(string_len("payment_status", 20))
            .col(text_null("payment_terms"))
            .col(date_null("last_billing_date"))
            .col(date_null("next_billing_date"))
            .col(boolean("auto_renew"))
            .col(boolean("is_renewable"))
            .col(integer("renewal_notice_days"))
            .col(string_len_null("document_url", 500))
            .col(string_len_null("signed_by", 255))
            .col(ts(db, "signed_at", true))
            .col(string_len("status", 20))
            .col(text_null("termination_reason"))
            .col(text_null("notes"))
            .col(json("metadata"));
        super::stamps(db, &mut t);
        t.col(string_len("tombstone", 25));
        manager.create_table(t).await?;
        for statement in [
            super::unique("axis_contracts", &["contract_number", "tombstone"]),
            index("axis_contracts", &["client_id"]),
            index("axis_contracts", &["end_date"]),
            index("axis_contracts", &["created_at"]),
        ] {
            manager.create_index(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("axis_contracts").if_exists().to_owned())
            .await
    }
}
