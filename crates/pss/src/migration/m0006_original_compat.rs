//! What the original's clients read of a sign-in session: its `session_key`
//! (a random 64-hex-digit name, by which a session can be ended) and, when
//! known, the `country` and `city` it was opened from.

use rand::RngCore;
use sea_orm::{ConnectionTrait, TryGetable};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use kernel::migration::cols::unique_index;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0006_original_compat"
    }
}

/// A new session key: 32 random bytes in lowercase hex (the length of the
/// original's SHA-256 keys).
pub fn new_session_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        for column in [
            string_len_null("session_key", 128),
            string_len_null("country", 100),
            string_len_null("city", 100),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("pss_sessions")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        // Sessions opened before this migration get a key of their own.
        let db = manager.get_connection();
        let select = Query::select()
            .column("id")
            .from("pss_sessions")
            .and_where(Expr::col("session_key").is_null())
            .to_owned();
        let rows = db.query_all(&select).await?;
        for row in rows {
            let id = i64::try_get(&row, "", "id").map_err(|e| DbErr::Custom(format!("{e:?}")))?;
            let update = Query::update()
                .table("pss_sessions")
                .value("session_key", new_session_key())
                .and_where(Expr::col("id").eq(id))
                .to_owned();
            db.execute(&update).await?;
        }
        manager
            .create_index(unique_index("pss_sessions", "session_key"))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("uq_pss_sessions_session_key")
                    .table("pss_sessions")
                    .to_owned(),
            )
            .await?;
        for column in ["city", "country", "session_key"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("pss_sessions")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
