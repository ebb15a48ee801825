//! The kernel's audit log: one table (`campus_audit_log`) any system can write
//! to when its spec does not define an audit table of its own.
//!
//! A row says who (`actor_id`) did what (`action`) to which object
//! (`object_type`, `object_id`), when and from which address. `changes` holds
//! what the system chooses to reveal of the change (see
//! [`crate::audit::redacted_diff`]); a system holding sensitive data records
//! field names, never values. Rows are written with the connection of the
//! change, so they commit or roll back with it.

use std::net::IpAddr;

use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr};
use sea_orm_migration::prelude::{ColumnDef, Index, SchemaManager, Table};
use sea_orm_migration::schema::{big_pk_auto, json_null, string_len, string_len_null};
use sea_orm_migration::sea_orm::DbBackend;
use serde_json::Value;

use crate::error::ApiError;

pub const TABLE: &str = "campus_audit_log";

/// The actions rows record.
pub const ACTIONS: &[&str] = &["create", "update", "delete", "read"];

/// The audit row entity.
pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "campus_audit_log")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The system that wrote the row (`pss`, ...).
        pub system: String,
        /// The acting user's primary key, as text; null for the system itself.
        pub actor_id: Option<String>,
        pub action: String,
        pub object_type: String,
        pub object_id: String,
        /// What the system chose to record of the change (never secrets).
        pub changes: Option<Json>,
        pub ip_address: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One audit event.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub system: &'static str,
    pub actor_id: Option<String>,
    pub ip: Option<IpAddr>,
    /// One of [`ACTIONS`].
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: String,
    pub changes: Option<Value>,
}

/// Writes `event` through `db` (pass the transaction of the change).
pub async fn record<C: ConnectionTrait>(db: &C, event: Event<'_>) -> Result<(), ApiError> {
    entity::ActiveModel {
        id: NotSet,
        system: Set(event.system.to_owned()),
        actor_id: Set(event.actor_id),
        action: Set(event.action.to_owned()),
        object_type: Set(event.object_type.chars().take(64).collect()),
        object_id: Set(event.object_id.chars().take(64).collect()),
        changes: Set(event.changes),
        ip_address: Set(event.ip.map(|ip| ip.to_string())),
        created_at: Set(crate::time::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Creates the table and its indexes if they do not exist yet; call it from
/// a system's migration.
pub async fn create_table(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    let mut created_at = ColumnDef::new("created_at");
    match backend {
        // DATETIME(6): MySQL's TIMESTAMP ends in 2038 and updates itself.
        DbBackend::MySql => created_at.custom("DATETIME(6)"),
        _ => created_at.timestamp_with_time_zone(),
    };
    created_at.not_null();
    manager
        .create_table(
            Table::create()
                .table(TABLE)
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(string_len("system", 32))
                .col(string_len_null("actor_id", 64))
                .col(string_len("action", 16))
                .col(string_len("object_type", 64))
                .col(string_len("object_id", 64))
                .col(json_null("changes"))
                .col(string_len_null("ip_address", 45))
                .col(created_at)
                .to_owned(),
        )
        .await?;
    for (name, columns) in [
        (
            "ix_campus_audit_log_system_created_at",
            &["system", "created_at"][..],
        ),
        (
            "ix_campus_audit_log_object",
            &["object_type", "object_id"][..],
        ),
        ("ix_campus_audit_log_actor_id", &["actor_id"][..]),
    ] {
        let mut index = Index::create();
        index.name(name).table(TABLE).if_not_exists();
        for column in columns {
            index.col(*column);
        }
        manager.create_index(index.to_owned()).await?;
    }
    Ok(())
}
