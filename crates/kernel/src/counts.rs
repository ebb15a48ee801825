//! Row counts kept by the database, so a list over a whole big table answers
//! its `count` without counting the table.
//!
//! A system's migration calls [`maintain`] for the tables whose lists page
//! them whole (an administrator's list of every request, the audit trail).
//! Triggers then keep `campus_row_counts` right in the transaction that
//! inserts or deletes the rows, whatever code path writes them, and
//! [`crate::listing::PageRequest::fetch`] reads a whole-table count from
//! there instead of `SELECT COUNT(*)`, which reads every row (PostgreSQL) or
//! every page of the smallest index (SQLite). Filtered lists count as before.
//!
//! - **SQLite**: one row per table, updated by row-level triggers (SQLite
//!   has one writer at a time, so the row is never contended).
//! - **PostgreSQL**: statement-level triggers add a statement's rows to the
//!   row of the connection that runs it (`shard` = `pg_backend_pid()`), so
//!   concurrent transactions never wait on each other's counter row nor
//!   deadlock over two tables' rows. [`fold`] (at every migration and hourly
//!   on every node) folds the connections' rows into shard 0, skipping rows
//!   an open transaction holds, so a table keeps a few rows whatever its
//!   history.
//! - **MySQL/MariaDB**: not maintained (their foreign-key cascades fire no
//!   triggers, so a counter would drift); their lists count as before.
//!
//! A table's count is the sum of its rows. [`maintain`] writes the table's
//! count at the time into shard 0 under the table's write lock.

use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, Func, Query, QueryStatementBuilder, SelectStatement,
};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement, TransactionTrait,
};

/// The kernel's counter table.
pub const TABLE: &str = "campus_row_counts";

/// Keeps `table`'s row count in [`TABLE`] from now on: installs its
/// triggers and writes its current count. Call it from the system migration
/// that creates the table (or a later one); a no-op on MySQL/MariaDB.
/// `table` is one of the system's own table names (an identifier, never
/// input).
pub async fn maintain<C>(db: &C, table: &str) -> Result<(), DbErr>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    assert!(
        table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "a counted table is named by an identifier: {table}"
    );
    let backend = db.get_database_backend();
    if backend == DbBackend::MySql {
        return Ok(());
    }
    let db = fresh_transaction(db).await?;
    let statements = match backend {
        DbBackend::Sqlite => vec![
            format!(
                "CREATE TRIGGER campus_count_{table}_insert AFTER INSERT ON \"{table}\" BEGIN \
                 UPDATE {TABLE} SET n = n + 1 WHERE table_name = '{table}' AND shard = 0; END"
            ),
            format!(
                "CREATE TRIGGER campus_count_{table}_delete AFTER DELETE ON \"{table}\" BEGIN \
                 UPDATE {TABLE} SET n = n - 1 WHERE table_name = '{table}' AND shard = 0; END"
            ),
        ],
        _ => vec![
            // Writes wait until the count below is taken and the triggers
            // are in place (the migration's transaction).
            format!("LOCK TABLE \"{table}\" IN SHARE MODE"),
            format!(
                "CREATE TRIGGER campus_count_{table}_insert AFTER INSERT ON \"{table}\" \
                 REFERENCING NEW TABLE AS counted_rows \
                 FOR EACH STATEMENT EXECUTE FUNCTION campus_count_rows()"
            ),
            format!(
                "CREATE TRIGGER campus_count_{table}_delete AFTER DELETE ON \"{table}\" \
                 REFERENCING OLD TABLE AS counted_rows \
                 FOR EACH STATEMENT EXECUTE FUNCTION campus_count_rows()"
            ),
            format!(
                "CREATE TRIGGER campus_count_{table}_truncate AFTER TRUNCATE ON \"{table}\" \
                 FOR EACH STATEMENT EXECUTE FUNCTION campus_count_truncated()"
            ),
        ],
    };
    for sql in statements {
        db.execute_unprepared(&sql).await?;
    }
    db.execute_unprepared(&format!("DELETE FROM {TABLE} WHERE table_name = '{table}'"))
        .await?;
    db.execute_unprepared(&format!(
        "INSERT INTO {TABLE} (table_name, shard, n) \
         SELECT '{table}', 0, COUNT(*) FROM \"{table}\""
    ))
    .await?;
    db.commit().await
}

/// Stops keeping `table`'s count (a migration's `down()`): drops its
/// triggers and its rows.
pub async fn forget<C>(db: &C, table: &str) -> Result<(), DbErr>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let (triggers, on): (&[&str], _) = match db.get_database_backend() {
        DbBackend::MySql => return Ok(()),
        DbBackend::Sqlite => (&["insert", "delete"], String::new()),
        _ => (
            &["insert", "delete", "truncate"],
            format!(" ON \"{table}\""),
        ),
    };
    let db = fresh_transaction(db).await?;
    for trigger in triggers {
        db.execute_unprepared(&format!(
            "DROP TRIGGER IF EXISTS campus_count_{table}_{trigger}{on}"
        ))
        .await?;
    }
    db.execute_unprepared(&format!("DELETE FROM {TABLE} WHERE table_name = '{table}'"))
        .await?;
    db.commit().await
}

/// A transaction (a savepoint inside a migration's) whose connection sees
/// the schema as it is now: SQLite checks a new trigger's name against the
/// schema the connection last read, which another pooled connection may
/// have changed since, so a read comes first to bring it up to date.
async fn fresh_transaction<C>(db: &C) -> Result<DatabaseTransaction, DbErr>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let txn = db.begin().await?;
    txn.execute_unprepared(&format!("SELECT COUNT(*) FROM {TABLE}"))
        .await?;
    Ok(txn)
}

/// PostgreSQL: folds the rows connections added into each table's shard 0,
/// leaving the rows an open transaction is writing for the next fold.
/// Answers how many rows it folded. A no-op elsewhere.
pub async fn fold<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(0);
    }
    // Shard 0 rows are written in table order, so two nodes folding at once
    // take their locks in the same order.
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "WITH gone AS (DELETE FROM {TABLE} WHERE (table_name, shard) IN \
                   (SELECT table_name, shard FROM {TABLE} WHERE shard <> 0 FOR UPDATE SKIP LOCKED) \
                   RETURNING table_name, n), \
                 folded AS (INSERT INTO {TABLE} (table_name, shard, n) \
                   SELECT table_name, 0, SUM(n) FROM gone GROUP BY table_name ORDER BY table_name \
                   ON CONFLICT (table_name, shard) DO UPDATE SET n = {TABLE}.n + EXCLUDED.n) \
                 SELECT COUNT(*) AS folded FROM gone"
            ),
        ))
        .await?;
    let folded = row.map_or(Ok(0), |row| row.try_get::<i64>("", "folded"))?;
    Ok(u64::try_from(folded).unwrap_or(0))
}

/// Folds hourly (see [`fold`]), from an hour after start; PostgreSQL only.
pub fn spawn_folding(db: sea_orm::DatabaseConnection) {
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    tokio::spawn(async move {
        let hour = std::time::Duration::from_secs(3600);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + hour, hour);
        loop {
            tick.tick().await;
            if let Err(error) = fold(&db).await {
                tracing::warn!(%error, "could not fold the row counts");
            }
        }
    });
}

/// The table a count statement counts whole (`SELECT COUNT(*) AS
/// "num_items" FROM "t"`, nothing else), on a backend that keeps counts.
pub(crate) fn whole_table(backend: DbBackend, counted: &Statement) -> Option<String> {
    if backend == DbBackend::MySql {
        return None;
    }
    // Anything after the table (a join, a condition) puts a quote inside
    // what lies between the first and the last one; sea-query doubles a
    // quote within a name.
    let name = counted
        .sql
        .strip_prefix(r#"SELECT COUNT(*) AS "num_items" FROM ""#)?
        .strip_suffix('"')?;
    (!name.contains('"')).then(|| name.to_owned())
}

/// `select` counted as `SELECT COUNT(*) AS num_items`.
pub(crate) fn count_of(mut select: SelectStatement) -> SelectStatement {
    select
        .clear_order_by()
        .clear_selects()
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("num_items"));
    select
}

/// The count of a whole `table`: its maintained count where it has one,
/// else `COUNT(*)` (which `COALESCE` evaluates only then).
pub(crate) fn whole_table_count(table: &str) -> SelectStatement {
    let maintained = Query::select()
        .expr(Expr::cust("CAST(SUM(n) AS BIGINT)"))
        .from(Alias::new(TABLE))
        .and_where(Expr::col(Alias::new("table_name")).eq(table))
        .to_owned();
    let counted = count_of(Query::select().from(Alias::new(table)).to_owned());
    Query::select()
        .expr_as(
            Func::coalesce([
                Expr::SubQuery(None, Box::new(maintained.into_sub_query_statement())),
                Expr::SubQuery(None, Box::new(counted.into_sub_query_statement())),
            ]),
            Alias::new("num_items"),
        )
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::{Cond, JoinType};

    fn counted(backend: DbBackend, select: SelectStatement) -> Statement {
        backend.build(&count_of(select))
    }

    #[test]
    fn only_a_bare_table_counts_whole() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let bare = Query::select()
                .column(Alias::new("id"))
                .from(Alias::new("audit_logs"))
                .order_by(Alias::new("created_at"), sea_orm::Order::Desc)
                .to_owned();
            assert_eq!(
                whole_table(backend, &counted(backend, bare.clone())).as_deref(),
                Some("audit_logs")
            );
            let filtered = bare
                .clone()
                .and_where(Expr::col(Alias::new("action")).eq("CREATE"))
                .to_owned();
            assert_eq!(whole_table(backend, &counted(backend, filtered)), None);
            // `Condition::all()` renders `WHERE TRUE`: not bare
            // (`Scoped::visible` leaves it out for that reason).
            let always = bare.clone().cond_where(Cond::all()).to_owned();
            assert_eq!(whole_table(backend, &counted(backend, always)), None);
            let joined = bare
                .clone()
                .join(
                    JoinType::InnerJoin,
                    Alias::new("users"),
                    Expr::col((Alias::new("users"), Alias::new("id")))
                        .equals((Alias::new("audit_logs"), Alias::new("user_id"))),
                )
                .to_owned();
            assert_eq!(whole_table(backend, &counted(backend, joined)), None);
        }
        let bare = Query::select().from(Alias::new("audit_logs")).to_owned();
        assert_eq!(
            whole_table(DbBackend::MySql, &counted(DbBackend::MySql, bare)),
            None
        );
    }

    #[test]
    fn a_whole_table_count_falls_back_to_counting() {
        let sql = DbBackend::Postgres
            .build(&whole_table_count("audit_logs"))
            .to_string();
        assert_eq!(
            sql,
            r#"SELECT COALESCE((SELECT CAST(SUM(n) AS BIGINT) FROM "campus_row_counts" WHERE "table_name" = 'audit_logs'), (SELECT COUNT(*) AS "num_items" FROM "audit_logs")) AS "num_items""#
        );
    }
}
