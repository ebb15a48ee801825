//! Test support for system crates: a fresh database per test on each backend,
//! and a client that drives the real router in process.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use serde_json::Value;
use tower::ServiceExt;

use crate::config::Settings;
use crate::system::{HasKernel, System};

/// The databases a test can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
    MySql,
}

impl TestBackend {
    /// The server URL from the environment (`CAMPUS_TEST_POSTGRES_URL`,
    /// `CAMPUS_TEST_MYSQL_URL`); SQLite needs none.
    fn server_url(self) -> Option<String> {
        let var = match self {
            Self::Sqlite => return None,
            Self::Postgres => "CAMPUS_TEST_POSTGRES_URL",
            Self::MySql => "CAMPUS_TEST_MYSQL_URL",
        };
        std::env::var(var).ok().filter(|v| !v.is_empty())
    }
}

/// Creates an empty database for one test and returns its URL.
///
/// SQLite: a new file in the temp folder. PostgreSQL and MariaDB: a new
/// database `campus_test_<random>` on the configured server (CI drops them).
pub async fn fresh_database(backend: TestBackend) -> String {
    let name = format!("campus_test_{}", uuid::Uuid::new_v4().simple());
    match backend {
        TestBackend::Sqlite => {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            format!("sqlite://{}?mode=rwc", path.display())
        }
        TestBackend::Postgres | TestBackend::MySql => {
            let server = backend.server_url().unwrap_or_else(|| {
                panic!("{backend:?} tests need CAMPUS_TEST_POSTGRES_URL / CAMPUS_TEST_MYSQL_URL")
            });
            let admin = Database::connect(&server)
                .await
                .expect("connect to the test database server");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create a test database");
            admin.close().await.ok();
            let mut url = url::Url::parse(&server).expect("a database URL");
            url.set_path(&format!("/{name}"));
            url.to_string()
        }
    }
}

/// The settings every test app starts from: its own database and media
/// folder, a fixed secret key, no throttling.
fn test_setting(url: &str, media: &std::path::Path, key: &str) -> Option<String> {
    match key {
        "CAMPUS_DATABASE_URL" => Some(url.to_owned()),
        "CAMPUS_SECRET_KEY" => Some("campus-test-secret-key-0123456789".to_owned()),
        "CAMPUS_THROTTLE_ANON" | "CAMPUS_THROTTLE_USER" => Some("off".to_owned()),
        "CAMPUS_MEDIA_ROOT" => Some(media.display().to_string()),
        _ => None,
    }
}

/// A system's settings for a test on the database at `url`: the test
/// defaults, then `overrides` (an empty value unsets a variable).
pub fn test_settings<S: System>(
    url: &str,
    overrides: &[(&str, &str)],
) -> Result<(Settings, S::Config), crate::config::SettingError> {
    let media = std::env::temp_dir().join(format!(
        "campus_test_media_{}",
        uuid::Uuid::new_v4().simple()
    ));
    let lookup = |key: &str| match overrides.iter().find(|(k, _)| *k == key) {
        Some((_, value)) => Some((*value).to_owned()).filter(|v| !v.is_empty()),
        None => test_setting(url, &media, key),
    };
    let (mut settings, config) = crate::system::configure::<S>(&lookup)?;
    // Cheap hashing keeps suites fast; the real cost is a production setting.
    settings.password = crate::password::Algorithm::Pbkdf2Sha256 { iterations: 1000 };
    Ok((settings, config))
}

/// A system's real application over a real database, driven in process.
pub struct TestApp<S: System> {
    pub client: TestClient,
    pub state: S::State,
    /// The database, for a second node on it ([`TestApp::on`]).
    pub url: String,
}

impl<S: System> std::ops::Deref for TestApp<S> {
    type Target = TestClient;
    fn deref(&self) -> &TestClient {
        &self.client
    }
}

impl<S: System> TestApp<S> {
    /// A fresh database on `backend`, migrated (the kernel's migrations, then
    /// the system's), and the application over it. Workers are not started.
    pub async fn start(backend: TestBackend, overrides: &[(&str, &str)]) -> Self {
        let url = fresh_database(backend).await;
        let app = Self::on(&url, overrides).await;
        crate::system::migrate::<S>(&app.state.kernel().db)
            .await
            .expect("migrate");
        app
    }

    /// Another node on the (already migrated) database at `url`.
    pub async fn on(url: &str, overrides: &[(&str, &str)]) -> Self {
        let (settings, config) = test_settings::<S>(url, overrides).expect("valid test settings");
        let state = crate::system::start::<S>(settings, config)
            .await
            .expect("connect");
        Self {
            client: TestClient::new(crate::system::app::<S>(state.clone())),
            state,
            url: url.to_owned(),
        }
    }
}

impl<S: System> TestApp<S> {
    /// The application's database.
    pub fn db(&self) -> &DatabaseConnection {
        &self.state.kernel().db
    }

    /// Every table of the application's database.
    pub async fn tables(&self) -> Vec<String> {
        tables(self.db()).await
    }

    /// The number of rows in every table.
    pub async fn row_counts(&self) -> BTreeMap<String, i64> {
        row_counts(self.db()).await
    }
}

/// Every table of the database `db` is connected to: `sqlite_master` on
/// SQLite; `information_schema` for the current schema (PostgreSQL) or
/// database (MariaDB).
pub async fn tables(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        }
        DbBackend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
        }
        _ => {
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY 1"
        }
    };
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("list the tables")
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("a table name"))
        .collect()
}

/// `name` quoted as an identifier on `backend` (names come from the catalog).
fn quoted(backend: DbBackend, name: &str) -> String {
    match backend {
        DbBackend::MySql => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// The number of rows in every table, read in one statement.
pub async fn row_counts(db: &DatabaseConnection) -> BTreeMap<String, i64> {
    let backend = db.get_database_backend();
    let names = tables(db).await;
    if names.is_empty() {
        return BTreeMap::new();
    }
    let sql = names
        .iter()
        .map(|name| {
            let literal = name.replace('\'', "''");
            format!(
                "SELECT CAST('{literal}' AS {}), COUNT(*) FROM {}",
                if backend == DbBackend::MySql {
                    "CHAR"
                } else {
                    "TEXT"
                },
                quoted(backend, name)
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    db.query_all_raw(Statement::from_string(backend, sql))
        .await
        .expect("count the rows of every table")
        .iter()
        .map(|row| {
            let name = row.try_get_by_index::<String>(0).expect("a table name");
            let count = row.try_get_by_index::<i64>(1).expect("a row count");
            (name, count)
        })
        .collect()
}

/// A database loaded from an SQL dump (a Django original's, for import
/// tests), on `backend` (SQLite: a new file; PostgreSQL: a new database);
/// returns its URL.
pub async fn database_from_dump(backend: TestBackend, dump: &str) -> String {
    let url = fresh_database(backend).await;
    let db = Database::connect(&url)
        .await
        .expect("connect to the dump's database");
    // A dump creates its tables in name order and fills each at once: rows
    // may name a table created further down.
    let dump = match backend {
        TestBackend::Sqlite => format!("PRAGMA foreign_keys = OFF;\n{dump}"),
        _ => dump.to_owned(),
    };
    db.execute_unprepared(&dump).await.expect("load the dump");
    db.close().await.ok();
    url.split('?').next().unwrap_or(&url).to_owned()
}

/// How many rows of `table` hold `needle` in any column read as text.
pub async fn rows_containing(db: &DatabaseConnection, table: &str, needle: &str) -> i64 {
    let backend = db.get_database_backend();
    let columns_sql = match backend {
        DbBackend::Sqlite => "SELECT name FROM pragma_table_info(?) ORDER BY cid",
        DbBackend::Postgres => {
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
        _ => {
            "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position"
        }
    };
    let columns: Vec<String> = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            columns_sql,
            [table.into()],
        ))
        .await
        .expect("list the columns")
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("a column name"))
        .collect();
    assert!(!columns.is_empty(), "no table {table}");
    let tests: Vec<String> = columns
        .iter()
        .map(|column| {
            let column = quoted(backend, column);
            match backend {
                DbBackend::Sqlite => format!("instr(CAST({column} AS TEXT), ?) > 0"),
                DbBackend::Postgres => format!("strpos(CAST({column} AS TEXT), $1) > 0"),
                _ => format!("LOCATE(?, CAST({column} AS CHAR)) > 0"),
            }
        })
        .collect();
    // PostgreSQL numbers its one parameter; the others take one per `?`.
    let values: Vec<sea_orm::Value> = match backend {
        DbBackend::Postgres => vec![needle.into()],
        _ => vec![needle.into(); columns.len()],
    };
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE {}",
        quoted(backend, table),
        tests.join(" OR ")
    );
    db.query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .expect("search the rows")
        .and_then(|row| row.try_get_by_index::<i64>(0).ok())
        .unwrap_or(0)
}

/// Drives a router in process, as a client on 127.0.0.1 would.
#[derive(Clone)]
pub struct TestClient {
    router: Router,
}

/// A response with its body read (and parsed when it is JSON).
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub json: Value,
}

impl TestResponse {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Panics with the body when the status is not `expected`.
    #[track_caller]
    pub fn assert_status(&self, expected: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            expected,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A `multipart/form-data` body as a browser sends an upload form.
#[derive(Debug, Clone, Default)]
pub struct Multipart {
    body: Vec<u8>,
}

impl Multipart {
    const BOUNDARY: &'static str = "campus-test-boundary-7d93a1c2";

    pub fn new() -> Self {
        Self::default()
    }

    /// A text field.
    #[must_use]
    pub fn text(mut self, name: &str, value: &str) -> Self {
        let boundary = Self::BOUNDARY;
        self.body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
        self
    }

    /// A file field.
    #[must_use]
    pub fn file(mut self, name: &str, filename: &str, content_type: &str, bytes: &[u8]) -> Self {
        let boundary = Self::BOUNDARY;
        self.body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// The body's content type (with its boundary) and bytes.
    pub fn finish(mut self) -> (String, Vec<u8>) {
        let boundary = Self::BOUNDARY;
        self.body
            .extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (
            format!("multipart/form-data; boundary={boundary}"),
            self.body,
        )
    }
}

/// A request being built.
pub struct TestRequest {
    client: TestClient,
    builder: axum::http::request::Builder,
    body: Body,
}

impl TestClient {
    pub fn new(router: Router) -> Self {
        Self { router }
    }

    pub fn request(&self, method: Method, path: &str) -> TestRequest {
        TestRequest {
            client: self.clone(),
            builder: Request::builder().method(method).uri(path),
            body: Body::empty(),
        }
    }

    pub fn get(&self, path: &str) -> TestRequest {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> TestRequest {
        self.request(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> TestRequest {
        self.request(Method::PUT, path)
    }

    pub fn patch(&self, path: &str) -> TestRequest {
        self.request(Method::PATCH, path)
    }

    pub fn delete(&self, path: &str) -> TestRequest {
        self.request(Method::DELETE, path)
    }
}

impl TestRequest {
    pub fn bearer(mut self, token: &str) -> Self {
        self.builder = self
            .builder
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    pub fn json(mut self, value: &Value) -> Self {
        self.builder = self
            .builder
            .header(header::CONTENT_TYPE, "application/json");
        self.body = Body::from(serde_json::to_vec(value).expect("serialisable JSON"));
        self
    }

    /// A raw body with the given content type.
    pub fn raw(mut self, content_type: &str, body: impl Into<Body>) -> Self {
        self.builder = self.builder.header(header::CONTENT_TYPE, content_type);
        self.body = body.into();
        self
    }

    /// A `multipart/form-data` body.
    pub fn multipart(self, form: Multipart) -> Self {
        let (content_type, body) = form.finish();
        self.raw(&content_type, body)
    }

    pub async fn send(self) -> TestResponse {
        let mut request = self.builder.body(self.body).expect("a valid request");
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
        let response = self
            .client
            .router
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a readable body")
            .to_bytes()
            .to_vec();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        TestResponse {
            status,
            headers,
            body,
            json,
        }
    }
}

impl TestRequest {
    /// Sends the request and returns the response with its body unread, for
    /// streams (Server-Sent Events).
    pub async fn stream(self) -> axum::response::Response {
        let mut request = self.builder.body(self.body).expect("a valid request");
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
        self.client
            .router
            .oneshot(request)
            .await
            .expect("the router is infallible")
    }
}

/// Reads a streaming body until `needle` appears or `timeout` passes; returns
/// what was read.
pub async fn read_until(
    body: &mut axum::body::Body,
    needle: &str,
    timeout: std::time::Duration,
) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while !seen.contains(needle) {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    seen.push_str(&String::from_utf8_lossy(&data));
                }
            }
            _ => break,
        }
    }
    seen
}

/// A real SMTP server on loopback that accepts every message and keeps it.
pub struct SmtpSink {
    pub url: String,
    messages: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("smtp://{}", listener.local_addr().expect("addr"));
        let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let store = messages.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                    let mut data: Option<String> = None;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(message) = data.as_mut() {
                            if line == "." {
                                store.lock().expect("sink").push(std::mem::take(message));
                                data = None;
                                let _ = write.write_all(b"250 OK queued\r\n").await;
                            } else {
                                message.push_str(&line);
                                message.push('\n');
                            }
                            continue;
                        }
                        let verb = line
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
                            "DATA" => {
                                data = Some(String::new());
                                b"354 go ahead\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                break;
                            }
                            _ => b"502 not implemented\r\n",
                        };
                        let _ = write.write_all(reply).await;
                    }
                });
            }
        });
        Self { url, messages }
    }

    /// Messages received so far (headers and body, dot-stuffing kept).
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().expect("sink").clone()
    }

    /// Waits until at least `n` messages arrived (or `timeout`).
    pub async fn wait_for(&self, n: usize, timeout: std::time::Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.messages().len() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        self.messages()
    }
}

/// A fresh, empty bucket on the S3-compatible server at
/// `CAMPUS_TEST_S3_ENDPOINT` (moto's server in `.ci/run`), with the
/// settings that keep a test app's uploads in it.
#[derive(Debug, Clone)]
pub struct TestBucket {
    /// `http://127.0.0.1:5055`.
    pub endpoint: String,
    pub name: String,
    /// `s3://<name>`.
    pub url: String,
    access_key_id: String,
    secret_access_key: String,
    region: String,
}

impl TestBucket {
    /// A new bucket; `None` (the test is skipped, saying why) when
    /// `CAMPUS_TEST_S3_ENDPOINT` is unset, a failure under `CI=true`.
    pub async fn create() -> Option<Self> {
        let Some(endpoint) = std::env::var("CAMPUS_TEST_S3_ENDPOINT")
            .ok()
            .filter(|v| !v.is_empty())
        else {
            assert!(
                !std::env::var("CI").is_ok_and(|v| v == "true"),
                "CAMPUS_TEST_S3_ENDPOINT is required under CI=true"
            );
            eprintln!(
                "skipping: CAMPUS_TEST_S3_ENDPOINT is not set; run .ci/run or start `moto_server -H 127.0.0.1 -p 5055` and set CAMPUS_TEST_S3_ENDPOINT=http://127.0.0.1:5055"
            );
            return None;
        };
        let name = format!("campus-test-{}", uuid::Uuid::new_v4().simple());
        create_bucket(&endpoint, &name).await;
        let env = |key: &str, default: &str| {
            std::env::var(key)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        Some(Self {
            url: format!("s3://{name}"),
            name,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            access_key_id: env("AWS_ACCESS_KEY_ID", "testing"),
            secret_access_key: env("AWS_SECRET_ACCESS_KEY", "testing"),
            region: env("AWS_REGION", "us-east-1"),
        })
    }

    /// Settings overrides for [`TestApp`]: uploads go to this bucket.
    pub fn settings(&self) -> [(&'static str, &str); 5] {
        [
            ("CAMPUS_STORAGE_URL", self.url.as_str()),
            ("CAMPUS_S3_ENDPOINT", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", self.access_key_id.as_str()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_access_key.as_str()),
            ("AWS_REGION", self.region.as_str()),
        ]
    }

    /// The storage settings of this bucket, under `prefix` (may be empty).
    pub fn storage_settings(&self, prefix: &str) -> crate::upload::StorageSettings {
        crate::upload::StorageSettings::S3(crate::upload::S3Settings {
            bucket: self.name.clone(),
            prefix: prefix.to_owned(),
            endpoint: Some(self.endpoint.clone()),
            region: self.region.clone(),
            access_key_id: Some(self.access_key_id.clone()),
            secret_access_key: Some(self.secret_access_key.clone()),
        })
    }
}

/// `PUT /<bucket>`, unsigned: moto's server accepts it (object_store has
/// no bucket operations, and a test server is all this is for).
async fn create_bucket(endpoint: &str, bucket: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = url::Url::parse(endpoint).expect("CAMPUS_TEST_S3_ENDPOINT is a URL");
    let host = url.host_str().expect("CAMPUS_TEST_S3_ENDPOINT has a host");
    let port = url.port_or_known_default().unwrap_or(80);
    let mut stream = tokio::net::TcpStream::connect((host, port))
        .await
        .unwrap_or_else(|e| panic!("the S3 test server at {endpoint} is unreachable: {e}"));
    let request = format!(
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send PUT bucket");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .expect("read the PUT bucket answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
        "creating bucket {bucket} at {endpoint} failed: {answer}"
    );
}
