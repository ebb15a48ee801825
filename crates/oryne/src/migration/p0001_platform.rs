//! The platform's tables: tenants, their domains, platform users and the
//! platform audit trail.

use kernel::migration::cols::ts;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{fk, id, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "p0001_platform"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("tenants")
                    .col(id())
                    .col(string_len("name", 255))
                    .col(string_len("subdomain", 63))
                    .col(string_len("status", 20))
                    .col(string_len("plan", 20))
                    .col(string_len("admin_email", 254))
                    .col(string_len("admin_phone", 20))
                    .col(date_null("paid_until"))
                    .col(date_null("trial_ends_at"))
                    .col(json("enabled_modules"))
                    .col(integer("max_users"))
                    .col(integer("max_storage_gb"))
                    .col(json("settings"))
                    .col(json("metadata"))
                    .col(json("provisioning"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .col(ts(db, "provisioned_at", true))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("tenants", &["subdomain"], true))
            .await?;
        manager
            .create_index(index("tenants", &["status"], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("tenant_domains")
                    .col(id())
                    .col(big_integer("tenant_id"))
                    .col(string_len("domain", 253))
                    .col(boolean("is_primary"))
                    .col(boolean("is_verified"))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut fk(
                        "tenant_domains",
                        "tenant_id",
                        "tenants",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("tenant_domains", &["domain"], true))
            .await?;
        manager
            .create_index(index("tenant_domains", &["tenant_id"], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("platform_users")
                    .col(id())
                    .col(string_len("email", 254))
                    .col(string_len("password", 255))
                    .col(string_len("first_name", 100))
                    .col(string_len("last_name", 100))
                    .col(json("roles"))
                    .col(boolean("is_active"))
                    .col(big_integer("token_epoch"))
                    .col(ts(db, "last_login", true))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("platform_users", &["email"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("platform_audit_logs")
                    .col(id())
                    .col(big_integer_null("user_id"))
                    .col(string_len("action", 20))
                    .col(string_len("resource_type", 50))
                    .col(string_len("resource_id", 64))
                    .col(json("changes"))
                    .col(string_len_null("ip_address", 45))
                    .col(string_len("user_agent", 255))
                    .col(ts(db, "timestamp", false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("platform_audit_logs", &["timestamp"], false))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "platform_audit_logs",
            "platform_users",
            "tenant_domains",
            "tenants",
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
