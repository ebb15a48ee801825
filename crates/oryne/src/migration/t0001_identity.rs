//! A tenant's identity, RBAC, audit and notification tables.

use kernel::migration::cols::ts;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{fk, id, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "t0001_identity"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("users")
                    .col(id())
                    .col(string_len("email", 254))
                    .col(string_len("password", 255))
                    .col(string_len("first_name", 100))
                    .col(string_len("last_name", 100))
                    .col(string_len("phone", 20))
                    .col(string_len("avatar", 500))
                    .col(json("roles"))
                    .col(boolean("is_active"))
                    .col(boolean("is_staff"))
                    .col(boolean("is_superuser"))
                    .col(json("profile_data"))
                    .col(json("preferences"))
                    .col(big_integer("token_epoch"))
                    .col(ts(db, "last_login", true))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("users", &["email"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roles")
                    .col(id())
                    .col(string_len("name", 50))
                    .col(text("description"))
                    .col(json("permissions"))
                    .col(boolean("is_system_role"))
                    .col(ts(db, "created_at", false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roles", &["name"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("permissions")
                    .col(id())
                    .col(string_len("code", 100))
                    .col(string_len("name", 150))
                    .col(text("description"))
                    .col(string_len("module", 30))
                    .col(ts(db, "created_at", false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("permissions", &["code"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_logs")
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
            .create_index(index("audit_logs", &["timestamp"], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("password_reset_tokens")
                    .col(id())
                    .col(big_integer("user_id"))
                    .col(string_len("token_hash", 64))
                    .col(ts(db, "expires_at", false))
                    .col(ts(db, "used_at", true))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut fk(
                        "password_reset_tokens",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("password_reset_tokens", &["token_hash"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("notifications")
                    .col(id())
                    .col(big_integer_null("user_id"))
                    .col(string_len("recipient", 254))
                    .col(string_len("channel", 10))
                    .col(string_len("template", 50))
                    .col(string_len("title", 255))
                    .col(text("body"))
                    .col(json("data"))
                    .col(string_len("priority", 10))
                    .col(string_len("status", 10))
                    .col(string_len_null("gns_id", 100))
                    .col(integer("attempts"))
                    .col(text_null("last_error"))
                    .col(ts(db, "read_at", true))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "sent_at", true))
                    .foreign_key(&mut fk(
                        "notifications",
                        "user_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "notifications",
                &["user_id", "channel", "read_at"],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("notification_preferences")
                    .col(id())
                    .col(big_integer("user_id"))
                    .col(string_len("template", 50))
                    .col(string_len("channel", 10))
                    .col(boolean("enabled"))
                    .foreign_key(&mut fk(
                        "notification_preferences",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "notification_preferences",
                &["user_id", "template", "channel"],
                true,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "notification_preferences",
            "notifications",
            "password_reset_tokens",
            "audit_logs",
            "permissions",
            "roles",
            "users",
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
