//! Users and access, industries, clients and their tags, contacts and
//! activities, and the audit trail.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use kernel::migration::cols::{index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0001_initial"
    }
}

/// A table with a CUID primary key.
pub(super) fn table(name: &'static str) -> TableCreateStatement {
    Table::create()
        .table(name)
        .col(string_len("id", 25).primary_key())
        .to_owned()
}

/// `created_at`, `updated_at`, `deleted_at`.
pub(super) fn stamps(db: DbBackend, table: &mut TableCreateStatement) {
    table
        .col(ts(db, "created_at", false))
        .col(ts(db, "updated_at", false))
        .col(ts(db, "deleted_at", true));
}

/// A unique index over `columns` named `uq_<table>_<first column>`.
pub(super) fn unique(table: &'static str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index
        .name(format!("uq_{table}_{}", columns[0]))
        .table(table.into_iden())
        .unique();
    for column in columns {
        index.col(column.into_iden());
    }
    index.to_owned()
}

const ROLES: &[(&str, &str)] = &[
    ("admin", "Administers the platform"),
    ("manager", "Manages every client"),
    ("hr_manager", "Manages the employees of granted clients"),
    (
        "document_manager",
        "Publishes the documents of granted clients",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        let mut tables = Vec::new();

        let mut t = table("axis_users");
        t.col(string_len("email", 254))
            .col(string_len_null("username", 150))
            .col(string_len("password", 255))
            .col(string_len("first_name", 150))
            .col(string_len("last_name", 150))
            .col(string_len("status", 30))
            .col(boolean("is_active"))
            .col(boolean("is_staff"))
            .col(boolean("is_superuser"))
            .col(ts(db, "email_verified", true))
            .col(ts(db, "last_login_at", true))
            .col(string_len_null("preferred_language", 20))
            .col(string_len_null("timezone", 64))
            .col(json("metadata"))
            .col(big_integer("token_epoch"));
        stamps(db, &mut t);
        t.col(string_len("tombstone", 25));
        tables.push(t);

        let mut t = table("axis_profiles");
        t.col(string_len_null("user_id", 25))
            .col(string_len("full_name", 255))
            .col(string_len_null("email", 254))
            .col(string_len_null("phone", 17))
            .col(string_len_null("image", 500))
            .col(text_null("bio"));
        stamps(db, &mut t);
        tables.push(t);

        let mut t = table("axis_accounts");
        t.col(string_len("user_id", 25))
            .col(string_len("provider", 50))
            .col(string_len("provider_account_id", 255))
            .col(string_len_null("tenant_id", 64))
            .col(ts(db, "created_at", false));
        tables.push(t);

        for name in ["axis_roles", "axis_permissions"] {
            let mut t = table(name);
            t.col(string_len("name", 100))
                .col(string_len_null("description", 255));
            stamps(db, &mut t);
            tables.push(t);
        }

        let mut t = table("axis_role_permissions");
        t.col(string_len("role_id", 25))
            .col(string_len("permission_id", 25));
        tables.push(t);

        let mut t = table("axis_user_roles");
        t.col(string_len("user_id", 25))
            .col(string_len("role_id", 25))
            .col(ts(db, "created_at", false));
        tables.push(t);

        let mut t = table("axis_user_clients");
        t.col(string_len("user_id", 25))
            .col(string_len("client_id", 25))
            .col(ts(db, "granted_at", false))
            .col(string_len_null("granted_by", 25))
            .col(text_null("notes"));
        stamps(db, &mut t);
        t.col(string_len("tombstone", 25));
        tables.push(t);

        let mut t = table("axis_industries");
        t.col(string_len("name", 100))
            .col(string_len("name_key", 100))
            .col(string_len_null("code", 50))
            .col(text_null("description"))
            .col(string_len_null("parent_id", 25))
            .col(string_len_null("external_id", 100))
            .col(json("metadata"));
        stamps(db, &mut t);
        t.col(string_len("tombstone", 25));
        tables.push(t);

        let mut t = table("axis_clients");
        t.col(string_len("name", 255))
            .col(string_len_null("email", 254))
            .col(string_len_null("phone", 30))
            .col(string_len_null("website", 500))
            .col(text_null("address"))
            .col(text_null("billing_address"))
            .col(string_len_null("tax_id", 50))
            .col(string_len_null("contact_person", 255))
            .col(string_len_null("contact_email", 254))
            .col(string_len_null("contact_phone", 30))
            .col(string_len_null("preferred_contact_method", 20))
            .col(string_len_null("industry_id", 25))
            .col(string_len_null("parent_client_id", 25))
            .col(string_len("status", 20))
            .col(boolean("is_verified"))
            .col(string_len_null("timezone", 64))
            .col(ts(db, "last_contact_date", true))
            .col(text_null("notes"))
            .col(json("metadata"));
        stamps(db, &mut t);
        t.col(string_len("tombstone", 25));
        tables.push(t);

        let mut t = table("axis_client_tags");
        t.col(string_len("name", 100))
            .col(string_len("slug", 100))
            .col(string_len("color", 7))
            .col(text_null("description"))
            .col(boolean("is_system"));
        stamps(db, &mut t);
        t.col(string_len("tombstone", 25));
        tables.push(t);

        let mut t = table("axis_client_tag_links");
        t.col(string_len("client_id", 25))
            .col(string_len("tag_id", 25));
        tables.push(t);

        let mut t = table("axis_client_contacts");
        t.col(string_len("client_id", 25))
            .col(string_len("first_name", 100))
            .col(string_len("last_name", 100))
            .col(string_len_null("email", 254))
            .col(string_len_null("phone", 30))
            .col(string_len_null("mobile", 30))
            .col(string_len_null("role", 20))
            .col(string_len_null("title", 100))
            .col(string_len_null("department", 100))
            .col(boolean("is_primary"))
            .col(string_len("preferred_contact_method", 20))
            .col(boolean("is_active"))
            .col(text_null("notes"))
            .col(json("metadata"));
        stamps(db, &mut t);
        t.col(string_len("tombstone", 25));
        tables.push(t);

        let mut t = table("axis_client_activities");
        t.col(string_len("client_id", 25))
            .col(string_len_null("contact_id", 25))
            .col(string_len("activity_type", 30))
            .col(string_len("title", 255))
            .col(text_null("description"))
            .col(ts(db, "activity_date", false))
            .col(json("metadata"))
            .col(string_len_null("created_by", 25));
        stamps(db, &mut t);
        tables.push(t);

        let mut t = table("axis_audit_logs");
        t.col(string_len("action", 20))
            .col(string_len("entity_type", 50))
            .col(string_len("entity_id", 64))
            .col(string_len_null("user_id", 25))
            .col(json("data"))
            .col(string_len_null("ip_address", 45))
            .col(text_null("user_agent"))
            .col(ts(db, "created_at", false));
        tables.push(t);

        let mut t = table("axis_entity_changes");
        t.col(string_len("entity_type", 50))
            .col(string_len("entity_id", 64))
            .col(string_len("change_type", 20))
            .col(ts(db, "changed_at", false))
            .col(string_len_null("changed_by", 25))
            .col(string_len_null("changed_by_email", 254))
            .col(text_null("change_reason"))
            .col(json_null("old_data"))
            .col(json_null("new_data"))
            .col(json("metadata"))
            .col(boolean("is_active"));
        tables.push(t);

        let mut t = table("axis_field_changes");
        t.col(string_len("entity_change_id", 25))
            .col(string_len("entity_type", 50))
            .col(string_len("entity_id", 64))
            .col(string_len("field_name", 100))
            .col(json_null("old_value"))
            .col(json_null("new_value"))
            .col(string_len("change_type", 20))
            .col(ts(db, "created_at", false));
        tables.push(t);

        for t in tables {
            manager.create_table(t).await?;
        }

        for statement in [
            unique("axis_users", &["email", "tombstone"]),
            unique("axis_profiles", &["user_id"]),
            unique("axis_accounts", &["provider", "provider_account_id"]),
            unique("axis_roles", &["name"]),
            unique("axis_permissions", &["name"]),
            unique("axis_role_permissions", &["role_id", "permission_id"]),
            unique("axis_user_roles", &["user_id", "role_id"]),
            unique("axis_user_clients", &["user_id", "client_id", "tombstone"]),
            unique("axis_industries", &["name_key", "tombstone"]),
            unique("axis_industries", &["code", "tombstone"]),
            unique("axis_industries", &["external_id", "tombstone"]),
            unique("axis_clients", &["email", "tombstone"]),
            unique("axis_client_tags", &["name", "tombstone"]),
            unique("axis_client_tags", &["slug", "tombstone"]),
            unique("axis_client_tag_links", &["client_id", "tag_id"]),
            unique("axis_client_contacts", &["client_id", "email", "tombstone"]),
            index("axis_user_clients", &["client_id"]),
            index("axis_industries", &["parent_id"]),
            index("axis_clients", &["industry_id"]),
            index("axis_clients", &["parent_client_id"]),
            index("axis_clients", &["created_at"]),
            index("axis_client_tag_links", &["tag_id"]),
            index("axis_client_activities", &["client_id", "activity_date"]),
            index("axis_audit_logs", &["entity_type", "entity_id"]),
            index("axis_audit_logs", &["user_id"]),
            index("axis_audit_logs", &["created_at"]),
            index("axis_entity_changes", &["entity_type", "entity_id"]),
            index("axis_entity_changes", &["changed_by"]),
            index("axis_entity_changes", &["changed_at"]),
            index("axis_field_changes", &["entity_change_id"]),
            index(
                "axis_field_changes",
                &["entity_type", "entity_id", "field_name"],
            ),
        ] {
            manager.create_index(statement).await?;
        }

        seed(manager.get_connection()).await?;
        for table in super::COUNTED {
            kernel::counts::maintain(manager.get_connection(), table).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in super::COUNTED {
            kernel::counts::forget(manager.get_connection(), table).await?;
        }
        for name in [
            "axis_field_changes",
            "axis_entity_changes",
            "axis_audit_logs",
            "axis_client_activities",
            "axis_client_contacts",
            "axis_client_tag_links",
            "axis_client_tags",
            "axis_clients",
            "axis_industries",
            "axis_user_clients",
            "axis_user_roles",
            "axis_role_permissions",
            "axis_permissions",
            "axis_roles",
            "axis_accounts",
            "axis_profiles",
            "axis_users",
        ] {
            manager
                .drop_table(Table::drop().table(name).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

/// The four roles and `manage_documents` (held by `document_manager`,
/// `admin` and `manager`).
async fn seed(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    let now = kernel::time::now();
    let mut ids = std::collections::HashMap::new();
    for (name, description) in ROLES {
        let id = kernel::cuid::new();
        ids.insert(*name, id.clone());
        let insert = Query::insert()
            .into_table("axis_roles")
            .columns(["id", "name", "description", "created_at", "updated_at"])
            .values_panic([
                id.into(),
                (*name).into(),
                (*description).into(),
                now.into(),
                now.into(),
            ])
            .to_owned();
        db.execute(&insert).await?;
    }
    let permission = kernel::cuid::new();
    let insert = Query::insert()
        .into_table("axis_permissions")
        .columns(["id", "name", "description", "created_at", "updated_at"])
        .values_panic([
            permission.clone().into(),
            "manage_documents".into(),
            "Publish, archive and version documents".into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    db.execute(&insert).await?;
    for role in ["document_manager", "admin", "manager"] {
        let insert = Query::insert()
            .into_table("axis_role_permissions")
            .columns(["id", "role_id", "permission_id"])
            .values_panic([
                kernel::cuid::new().into(),
                ids[role].clone().into(),
                permission.clone().into(),
            ])
            .to_owned();
        db.execute(&insert).await?;
    }
    Ok(())
}
