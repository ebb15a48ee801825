//! Database connections: one code path for SQLite, PostgreSQL and MySQL/MariaDB,
//! picked by the URL's scheme at run time.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// The database a request works on, for its handlers to reach data through.
///
/// A system with tenants resolves each request's tenant before anything
/// else ([`crate::System::tenant_db`]) and the request's handle is that
/// tenant's database (PostgreSQL: a pool whose connections are bound to the
/// tenant's schema; SQLite: the tenant's file); every other system's is the
/// kernel's database. Handlers take `Db(db): Db` and never reach
/// `state.db`, so tenancy needs no change to them. The account behind a
/// token ([`crate::Current`]) is looked up through the same handle.
#[derive(Debug, Clone)]
pub struct Db(pub DatabaseConnection);

impl std::ops::Deref for Db {
    type Target = DatabaseConnection;
    fn deref(&self) -> &DatabaseConnection {
        &self.0
    }
}

/// A request's tenant, as [`crate::System::tenant_db`] resolves it: a key
/// (stable, unique among the system's tenants) and its database.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub key: std::sync::Arc<str>,
    pub db: DatabaseConnection,
}

tokio::task_local! {
    static TENANT: std::sync::Arc<str>;
}

/// The tenant of the request being served, if its system has tenants.
/// Tokens carry it (and are refused in another tenant's requests), and the
/// sign-in lockout counts per tenant. Work outside a request (jobs) names its
/// tenant explicitly with [`in_tenant`].
pub fn tenant() -> Option<std::sync::Arc<str>> {
    TENANT.try_with(std::sync::Arc::clone).ok()
}

/// Runs `work` as tenant `key`'s.
pub async fn in_tenant<F: std::future::Future>(key: std::sync::Arc<str>, work: F) -> F::Output {
    TENANT.scope(key, work).await
}

impl Db {
    /// The request's handle: the one its tenant resolution chose, else the
    /// kernel's database.
    pub fn of(parts: &axum::http::request::Parts, kernel: &crate::Kernel) -> Self {
        parts
            .extensions
            .get::<Db>()
            .cloned()
            .unwrap_or_else(|| Db(kernel.db.clone()))
    }
}

impl<S: crate::HasKernel + Sync> axum::extract::FromRequestParts<S> for Db {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts, state.kernel()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Self> {
        let scheme = url.split_once(':')?.0;
        match scheme {
            "sqlite" => Some(Self::Sqlite),
            "postgres" | "postgresql" => Some(Self::Postgres),
            "mysql" | "mariadb" => Some(Self::MySql),
            _ => None,
        }
    }
}

/// The file behind an SQLite URL, if it names one (not `:memory:`).
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next()?;
    if path.is_empty() || path.contains(":memory:") || path.starts_with("file:") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// How long a request waits for a connection to a database server (from
/// the pool, or a new one): past it, 503.
const SERVER_WAIT: Duration = Duration::from_secs(3);

/// Opens a pool. For SQLite the file's folder is created, WAL is switched on and
/// writers wait for each other instead of failing with "database is locked".
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let backend = Backend::from_url(url).ok_or_else(|| {
        DbErr::Custom(format!(
            "unsupported database URL scheme in {}",
            redact(url)
        ))
    })?;
    let url = match backend {
        // sqlx spells it mysql://; accept mariadb:// for people who run MariaDB.
        Backend::MySql if url.starts_with("mariadb:") => url.replacen("mariadb:", "mysql:", 1),
        _ => url.to_owned(),
    };
    let mut options = ConnectOptions::new(url.clone());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    match backend {
        Backend::Sqlite => {
            if let Some(dir) = sqlite_file(&url).and_then(|p| p.parent().map(PathBuf::from))
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
            }
            // A connection to a local file cannot have been dropped by a
            // server or a firewall: no ping before handing it out.
            options
                .max_connections(8)
                .min_connections(1)
                .test_before_acquire(false)
                .map_sqlx_sqlite_opts(|o| {
                    o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                        .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                        .foreign_keys(true)
                        .busy_timeout(Duration::from_secs(30))
                });
        }
        Backend::Postgres | Backend::MySql => {
            // Every statement takes a connection from the pool; pinging it each
            // time doubled the round trips. Only a connection idle long enough
            // to have been dropped (server restart, proxy, firewall) is pinged.
            // A server that is down answers no request for as long as a
            // connection is awaited: fail (503) after a few seconds rather
            // than hold the client for 30.
            options
                .max_connections(32)
                .min_connections(1)
                .connect_timeout(SERVER_WAIT)
                .acquire_timeout(SERVER_WAIT)
                .test_before_acquire_if_idle_for(Duration::from_secs(30));
        }
    }
    Database::connect(options).await
}

/// One connection to `url`, tried once, then closed: whether the database
/// answers now (`campus check`), with the driver's reason when it does not.
pub async fn probe(url: &str) -> Result<(), String> {
    use sea_orm::sqlx::Connection;
    let url = match Backend::from_url(url) {
        Some(Backend::MySql) if url.starts_with("mariadb:") => {
            url.replacen("mariadb:", "mysql:", 1)
        }
        Some(_) => url.to_owned(),
        None => return Err("unsupported database URL scheme".to_owned()),
    };
    async fn once<C: Connection>(url: &str) -> Result<(), String> {
        let attempt = async {
            let mut connection = C::connect(url).await?;
            connection.ping().await?;
            connection.close().await
        };
        attempt.await.map_err(|e| e.to_string())
    }
    match Backend::from_url(&url) {
        Some(Backend::Postgres) => once::<sea_orm::sqlx::PgConnection>(&url).await,
        Some(Backend::MySql) => once::<sea_orm::sqlx::MySqlConnection>(&url).await,
        _ => connect(&url).await.map(drop).map_err(|e| e.to_string()),
    }
}

/// Opens one tenant's small pool beside the `platform` database (systems
/// with tenants). SQLite: the tenant's own file, `<schema>.db` in the folder
/// `<platform file stem>-tenants/` beside the platform file. PostgreSQL: the
/// platform's server and database, with `search_path` set to `schema` alone
/// by the connection's start-up options, so a statement can reach no other
/// schema's tables (not even `public`'s) and a pooled connection never
/// serves another tenant. Pools start empty and close idle connections
/// (PostgreSQL: at most two per tenant, after 15 s idle), so many tenants do
/// not hold many connections. `schema` must be `tenant_<digits>`.
pub async fn connect_tenant(
    platform: &DatabaseConnection,
    schema: &str,
) -> Result<DatabaseConnection, DbErr> {
    if !is_schema_name(schema) {
        return Err(DbErr::Custom(format!("not a tenant schema name: {schema}")));
    }
    match platform.get_database_backend() {
        sea_orm::DbBackend::Sqlite => {
            let path = tenant_file(platform, schema)?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
            }
            let url = format!("sqlite://{}?mode=rwc", path.display());
            let mut options = ConnectOptions::new(url);
            options
                .sqlx_logging(false)
                .connect_timeout(Duration::from_secs(10))
                .acquire_timeout(Duration::from_secs(30))
                .min_connections(0)
                .max_connections(4)
                .idle_timeout(Duration::from_secs(60))
                .test_before_acquire(false)
                .map_sqlx_sqlite_opts(|o| {
                    o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                        .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                        .foreign_keys(true)
                        .busy_timeout(Duration::from_secs(30))
                });
            Database::connect(options).await
        }
        sea_orm::DbBackend::Postgres => {
            let options = platform
                .get_postgres_connection_pool()
                .connect_options()
                .as_ref()
                .clone()
                .options([("search_path", schema)]);
            // Every school's pool shares the server's connection limit: two
            // connections at most, closed after 15 s idle.
            let pool = sea_orm::sqlx::postgres::PgPoolOptions::new()
                .min_connections(0)
                .max_connections(2)
                .idle_timeout(Duration::from_secs(15))
                .acquire_timeout(SERVER_WAIT)
                .test_before_acquire(false)
                .connect_lazy_with(options);
            Ok(sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(
                pool,
            ))
        }
        _ => Err(DbErr::Custom(
            "tenants need PostgreSQL or SQLite".to_owned(),
        )),
    }
}

/// The SQLite file of tenant `schema` beside the `platform` database.
pub fn tenant_file(platform: &DatabaseConnection, schema: &str) -> Result<PathBuf, DbErr> {
    let file = platform
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_owned();
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty() && !s.contains(":memory:"))
        .ok_or_else(|| {
            DbErr::Custom("tenants need an SQLite file, not an in-memory database".to_owned())
        })?;
    let dir = file
        .parent()
        .unwrap_or_else(|| std::path::Path::new("."))
        .join(format!("{stem}-tenants"));
    Ok(dir.join(format!("{schema}.db")))
}

/// Whether `name` is a tenant schema name, `tenant_<digits>`: the only
/// names [`connect_tenant`] binds a connection to (they are spliced into
/// SQL, so nothing else may pass).
pub fn is_schema_name(name: &str) -> bool {
    name.strip_prefix("tenant_")
        .is_some_and(|n| !n.is_empty() && n.len() <= 18 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Begins a transaction that will write.
///
/// SQLite takes the write lock at `BEGIN` (`BEGIN IMMEDIATE`), so two writers
/// queue instead of one failing when it upgrades a read lock. They queue on
/// the file's [write gate](write_gate) first: SQLite's own busy handler
/// sleeps and polls (1, 2, 5 … 100 ms), so writers left to it wake up late
/// and leave the lock idle while they sleep; behind the gate they take turns
/// as soon as the previous one ends. MySQL/MariaDB run at READ COMMITTED, as
/// PostgreSQL does by default: after waiting for a row lock, later reads see
/// what the other transaction committed instead of the snapshot taken before
/// the wait.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
    let (isolation_level, sqlite_transaction_mode) = match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => (None, Some(SqliteTransactionMode::Immediate)),
        sea_orm::DbBackend::MySql => (Some(sea_orm::IsolationLevel::ReadCommitted), None),
        _ => (None, None),
    };
    let gate = match write_gate(db) {
        Some(gate) => Some(
            tokio::time::timeout(WRITE_WAIT, gate.lock_owned())
                .await
                .map_err(|_| DbErr::Custom(GATE_TIMEOUT.into()))?,
        ),
        None => None,
    };
    let txn = db
        .begin_with_options(TransactionOptions {
            isolation_level,
            access_mode: None,
            sqlite_transaction_mode,
        })
        .await?;
    Ok(WriteTxn { txn, _gate: gate })
}

/// How long a writer waits for another one, as SQLite's busy timeout.
const WRITE_WAIT: Duration = Duration::from_secs(30);

const GATE_TIMEOUT: &str = "database is locked: the write gate stayed closed";

/// Whether `error` says the database was too busy to answer in time: the
/// write gate or SQLite's lock stayed taken past the wait (`SQLITE_BUSY`
/// and its extended codes), or no pooled connection came free.
pub fn is_busy(error: &DbErr) -> bool {
    use sea_orm::{ConnAcquireErr, RuntimeErr};
    match error {
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => true,
        DbErr::Custom(message) => message == GATE_TIMEOUT,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e
            .as_database_error()
            .filter(|e| {
                e.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                    .is_some()
            })
            .and_then(|e| e.code())
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| code & 0xff == 5),
        _ => false,
    }
}

/// Whether `error` says the database cannot be reached now: the server is
/// down, restarting or refusing connections, a connection broke mid-way, or
/// the pool has none to give. Answered 503 (retry), never 500; the pool
/// reconnects by itself once the server is back.
pub fn is_unreachable(error: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                Sqlx::Io(_)
                | Sqlx::Tls(_)
                | Sqlx::Protocol(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::WorkerCrashed => true,
                // PostgreSQL: connection exceptions (08…), shutting down or
                // starting up (57P01–57P03).
                Sqlx::Database(e) => e.code().is_some_and(|code| {
                    e.try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>()
                        .is_some()
                        && (code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03"))
                }),
                _ => false,
            }
        }
        _ => false,
    }
}

/// How much of `db`'s pool is in use: open connections, idle ones, the
/// most it may open.
pub fn pool_use(db: &DatabaseConnection) -> Option<(i64, i64, i64)> {
    fn of<D: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<D>) -> (i64, i64, i64) {
        (
            i64::from(pool.size()),
            i64::try_from(pool.num_idle()).unwrap_or(i64::MAX),
            i64::from(pool.options().get_max_connections()),
        )
    }
    match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => Some(of(db.get_sqlite_connection_pool())),
        sea_orm::DbBackend::Postgres => Some(of(db.get_postgres_connection_pool())),
        sea_orm::DbBackend::MySql => Some(of(db.get_mysql_connection_pool())),
        _ => None,
    }
}

/// The in-process queue of writers to one SQLite database (`None` for
/// other backends), by its file name (sqlx names each in-memory pool's
/// database apart). Every pool of the process that opens the file shares
/// it; other processes still meet SQLite's own lock.
fn write_gate(db: &DatabaseConnection) -> Option<Arc<tokio::sync::Mutex<()>>> {
    static GATES: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Mutex::default);
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return None;
    }
    let path = db
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_owned();
    let mut gates = GATES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Some(gates.entry(path).or_default().clone())
}

/// A transaction from [`begin_write`]: used as the transaction it wraps
/// (`&txn` runs statements; it derefs to [`DatabaseTransaction`]), ended by
/// [`WriteTxn::commit`] or by dropping it (rolled back). On SQLite it keeps
/// the file's write gate until it ends.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl std::fmt::Debug for WriteTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTxn").finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl sea_orm::ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> sea_orm::DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: sea_orm::Statement) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

/// SQL for `SUM(expr)` as a 64-bit integer (0 when there are no rows):
/// PostgreSQL sums BIGINT to NUMERIC and MySQL to DECIMAL otherwise.
pub fn sum_int(backend: sea_orm::DbBackend, expr: &str) -> String {
    match backend {
        sea_orm::DbBackend::Sqlite => format!("COALESCE(SUM({expr}), 0)"),
        _ => format!("CAST(COALESCE(SUM({expr}), 0) AS {})", bigint_type(backend)),
    }
}

/// The type a 64-bit integer is cast to on `backend`.
fn bigint_type(backend: sea_orm::DbBackend) -> &'static str {
    match backend {
        sea_orm::DbBackend::MySql => "SIGNED",
        _ => "BIGINT",
    }
}

/// `CAST(expr AS <64-bit integer>)` as a sea-query expression: PostgreSQL
/// sums BIGINTs as NUMERIC and MySQL as DECIMAL, neither of which decodes as
/// an i64.
pub fn as_bigint(
    backend: sea_orm::DbBackend,
    expr: impl Into<sea_orm::sea_query::Expr>,
) -> sea_orm::sea_query::Expr {
    sea_orm::sea_query::Func::cast_as(expr, sea_orm::sea_query::Alias::new(bigint_type(backend)))
        .into()
}

/// SQL casting `expr` to a double-precision float on `backend`.
pub fn cast_float(backend: sea_orm::DbBackend, expr: &str) -> String {
    match backend {
        sea_orm::DbBackend::Postgres => format!("CAST({expr} AS DOUBLE PRECISION)"),
        sea_orm::DbBackend::MySql => format!("CAST({expr} AS DOUBLE)"),
        _ => format!("CAST({expr} AS REAL)"),
    }
}

/// The URL with any password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// SQL for the seconds from timestamp column `from` to `to`, on `backend`
/// (each database spells date arithmetic differently). Column names are
/// trusted identifiers written by the caller, never user input.
pub fn seconds_between(backend: sea_orm::DbBackend, from: &str, to: &str) -> String {
    match backend {
        sea_orm::DbBackend::Postgres => format!("EXTRACT(EPOCH FROM ({to} - {from}))"),
        sea_orm::DbBackend::MySql => {
            format!("TIMESTAMPDIFF(MICROSECOND, {from}, {to}) / 1000000.0")
        }
        _ => format!("((julianday({to}) - julianday({from})) * 86400.0)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_and_files_come_from_the_url() {
        assert_eq!(
            Backend::from_url("sqlite://campus-data/x.db?mode=rwc"),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::from_url("postgres://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("mariadb://root@h/db"),
            Some(Backend::MySql)
        );
        assert_eq!(Backend::from_url("redis://h"), None);
        assert_eq!(
            sqlite_file("sqlite://campus-data/x.db?mode=rwc"),
            Some(PathBuf::from("campus-data/x.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
    }

    /// `.cargo/config.toml` builds the embedded SQLite with the planner
    /// stability guarantee: a bound `LIMIT ?` must not make SQLite prepare a
    /// cached statement again on every run (docs/ARCHITECTURE.md).
    #[tokio::test]
    async fn the_embedded_sqlite_keeps_its_prepared_statements() {
        use sea_orm::{ConnectionTrait, Statement};
        let db = connect("sqlite::memory:").await.unwrap();
        let row = db
            .query_one_raw(Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "SELECT COUNT(*) AS n FROM pragma_compile_options WHERE compile_options = 'ENABLE_QPSG'",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1);
    }

    /// Writers to one SQLite file take turns at its gate, whichever pool
    /// of the process they write through; the gate opens when a write
    /// transaction commits, rolls back or is dropped.
    #[tokio::test]
    async fn sqlite_writers_take_turns_at_the_files_gate() {
        let path = std::env::temp_dir().join(format!("campus-gate-{}.db", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let db = connect(&url).await.unwrap();
        let other_pool = connect(&url).await.unwrap();
        let gate = write_gate(&other_pool).expect("a file has a gate");

        let txn = begin_write(&db).await.unwrap();
        assert!(
            gate.try_lock().is_err(),
            "held while the transaction is open"
        );
        txn.commit().await.unwrap();
        assert!(gate.try_lock().is_ok(), "open after commit");

        let txn = begin_write(&other_pool).await.unwrap();
        assert!(write_gate(&db).unwrap().try_lock().is_err());
        txn.rollback().await.unwrap();
        drop(begin_write(&db).await.unwrap());
        assert!(gate.try_lock().is_ok(), "open after rollback and drop");

        use sea_orm::ConnectionTrait;
        // A writer that cannot get SQLite's lock in time (another process's
        // transaction holds it) is told the database is busy: 503, not 500.
        let txn = begin_write(&db).await.unwrap();
        let mut impatient = ConnectOptions::new(url.clone());
        impatient.map_sqlx_sqlite_opts(|o| o.busy_timeout(Duration::ZERO));
        let impatient = Database::connect(impatient).await.unwrap();
        let busy = impatient
            .execute_unprepared("CREATE TABLE busy (id INTEGER)")
            .await
            .expect_err("the lock is taken");
        assert!(is_busy(&busy), "{busy:?}");
        assert_eq!(
            crate::ApiError::from(busy).status(),
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
        assert!(is_busy(&DbErr::Custom(GATE_TIMEOUT.into())));
        assert!(is_busy(&DbErr::ConnectionAcquire(
            sea_orm::ConnAcquireErr::Timeout
        )));
        assert!(!is_busy(&DbErr::Custom("something else".into())));
        txn.rollback().await.unwrap();

        let memory = connect("sqlite::memory:").await.unwrap();
        let _memory_txn = begin_write(&memory).await.unwrap();
        assert!(gate.try_lock().is_ok(), "another database has its own gate");
        drop((db, other_pool, impatient));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
