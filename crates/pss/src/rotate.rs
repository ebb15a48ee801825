//! `campus rotate-keys pss`: re-encrypts every sealed value that was not
//! written with the first key of `CAMPUS_FIELD_ENCRYPTION_KEY`, so the old
//! keys can then be removed from the setting. Values found in plaintext
//! (imported data) are encrypted too.

use kernel::crypto::{Aad, CryptoError};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LockType, Order, Query};

use crate::seal::SEALED_TABLES;
use crate::state::AppState;

/// What a rotation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RotationReport {
    /// Rows read.
    pub rows: u64,
    /// Values re-encrypted (or encrypted for the first time).
    pub values: u64,
}

const BATCH: u64 = 200;

/// Re-encrypts with the ring's first key every sealed value written with
/// another key. Each batch of rows is locked, rewritten and committed in one
/// transaction, so a server running meanwhile never loses a write.
pub async fn rotate_keys(state: &AppState) -> Result<RotationReport, String> {
    let db_error = |e: sea_orm::DbErr| format!("database error: {e}");
    let backend = state.db.get_database_backend();
    let mut report = RotationReport::default();
    for (table, columns) in SEALED_TABLES {
        let mut last = 0i64;
        loop {
            let txn = kernel::db::begin_write(&state.db).await.map_err(db_error)?;
            let mut select = Query::select();
            select
                .column(Alias::new("id"))
                .from(Alias::new(*table))
                .and_where(Expr::col(Alias::new("id")).gt(last))
                .order_by(Alias::new("id"), Order::Asc)
                .limit(BATCH);
            for column in *columns {
                select.column(Alias::new(*column));
            }
            if backend != sea_orm::DbBackend::Sqlite {
                select.lock(LockType::Update);
            }
            let rows = txn.query_all(&select).await.map_err(db_error)?;
            if rows.is_empty() {
                txn.commit().await.map_err(db_error)?;
                break;
            }
            for row in &rows {
                let id: i64 = row.try_get("", "id").map_err(db_error)?;
                last = id;
                report.rows += 1;
                let id_text = id.to_string();
                let mut update = Query::update();
                update
                    .table(Alias::new(*table))
                    .and_where(Expr::col(Alias::new("id")).eq(id));
                let mut changed = false;
                for column in *columns {
                    let stored: Option<String> = row.try_get("", column).map_err(db_error)?;
                    let Some(stored) = stored.filter(|s| state.keys.needs_rotation(s)) else {
                        continue;
                    };
                    let aad = Aad {
                        table,
                        column,
                        row: &id_text,
                    };
                    let plain = match state.keys.decrypt(&stored, aad) {
                        Ok(plain) => plain,
                        Err(CryptoError::Malformed) => stored,
                        Err(CryptoError::Undecryptable) => {
                            return Err(format!(
                                "{table}.{column} of row {id} cannot be decrypted with any key of CAMPUS_FIELD_ENCRYPTION_KEY; add the key it was written with and run again"
                            ));
                        }
                    };
                    update.value(Alias::new(*column), state.keys.encrypt(&plain, aad));
                    changed = true;
                    report.values += 1;
                }
                if changed {
                    txn.execute(&update).await.map_err(db_error)?;
                }
            }
            txn.commit().await.map_err(db_error)?;
        }
    }
    Ok(report)
}
