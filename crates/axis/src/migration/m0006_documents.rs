//! Documents (axis contract §9).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use kernel::migration::cols::index;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0006_documents"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        let mut t = super::table("axis_documents");
        t.col(string_len("title", 255))
            .col(text_null("description"))
            .col(string_len("doc_type", 30))
            .col(string_len_null("file", 255))
            .col(string_len_null("url", 500))
            .col(big_integer_null("file_size"))
            .col(string_len_null("file_type", 100))
            .col(string_len_null("filename", 255))
            .col(string_len_null("file_extension", 20))
            .col(integer("version"))
            .col(boolean("is_latest"))
            .col(string_len_null("previous_version_id", 25))
            .col(string_len("status", 20))
            .col(date_null("expiry_date"))
            .col(boolean("is_confidential"))
            .col(text("tags"))
            .col(string_len_null("uploaded_by_id", 25))
            .col(string_len_null("client_id", 25))
            .col(string_len_null("contract_id", 25))
            .col(json("metadata"));
        super::stamps(db, &mut t);
        manager.create_table(t).await?;
        for statement in [
            index("axis_documents", &["client_id"]),
            index("axis_documents", &["contract_id"]),
            index("axis_documents", &["previous_version_id"]),
            index("axis_documents", &["uploaded_by_id"]),
            index("axis_documents", &["created_at"]),
        ] {
            manager.create_index(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("axis_documents").if_exists().to_owned())
            .await
    }
}
