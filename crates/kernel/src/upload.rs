//! Uploaded files: size cap, type by content (magic bytes, never the name),
//! generated storage names in a local folder or an S3 bucket
//! (`CAMPUS_STORAGE_URL`, through `object_store`), and downloads as
//! attachments.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
};
use serde_json::{Map, Value};

use crate::config::SettingError;
use crate::error::{ApiError, FieldErrors};

/// The file types evidence and receipts may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Png,
    Jpeg,
}

impl FileKind {
    /// The type the bytes really are, if it is one we accept.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"%PDF-") {
            Some(Self::Pdf)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else {
            None
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Png => "png",
            Self::Jpeg => "jpg",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
        }
    }

    pub fn from_extension(name: &str) -> Option<Self> {
        match name.rsplit('.').next()? {
            "pdf" => Some(Self::Pdf),
            "png" => Some(Self::Png),
            "jpg" => Some(Self::Jpeg),
            _ => None,
        }
    }
}

/// A file field of a multipart body.
#[derive(Debug, Clone)]
pub struct UploadedFile {
    pub filename: String,
    pub bytes: Bytes,
}

impl UploadedFile {
    /// Checks size and content; the error is the field's DRF message.
    pub fn validate(&self, max_bytes: usize) -> Result<FileKind, String> {
        if self.bytes.is_empty() {
            return Err("The submitted file is empty.".into());
        }
        if self.bytes.len() > max_bytes {
            return Err(format!(
                "File size must not exceed {} MB.",
                max_bytes / (1024 * 1024)
            ));
        }
        FileKind::sniff(&self.bytes)
            .ok_or_else(|| "Unsupported file type. Upload a PDF, PNG or JPEG file.".into())
    }
}

/// A body that is either JSON or `multipart/form-data` (DRF's default
/// parsers): its plain fields as a JSON object, plus any files.
#[derive(Debug, Default)]
pub struct FormBody {
    pub fields: Map<String, Value>,
    pub files: HashMap<String, UploadedFile>,
    /// Every text value of a multipart body per name, in order (DRF's
    /// `getlist`: a list sent as repeated fields); `fields` keeps the last.
    pub lists: HashMap<String, Vec<String>>,
}

impl<S: Send + Sync> FromRequest<S> for FormBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !content_type.starts_with("multipart/form-data") {
            let crate::Json(fields) =
                crate::Json::<Map<String, Value>>::from_request(req, state).await?;
            return Ok(Self {
                fields,
                ..Self::default()
            });
        }
        let mut multipart = Multipart::from_request(req, state).await.map_err(|_| {
            parse_error("Multipart form parse error - Invalid boundary in multipart: None")
        })?;
        let mut body = Self::default();
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(e) => return Err(multipart_error(&e)),
            };
            let name = field.name().unwrap_or("").to_owned();
            let filename = field.file_name().map(str::to_owned);
            let bytes = field.bytes().await.map_err(|e| multipart_error(&e))?;
            match filename {
                Some(filename) => {
                    body.files.insert(name, UploadedFile { filename, bytes });
                }
                None => {
                    let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                        ApiError::Validation(FieldErrors::single(
                            name.clone(),
                            "Not a valid string.",
                        ))
                    })?;
                    body.lists
                        .entry(name.clone())
                        .or_default()
                        .push(text.clone());
                    body.fields.insert(name, Value::String(text));
                }
            }
        }
        Ok(body)
    }
}

/// Maps a failure reading a multipart body as [`crate::extract::body_rejection`] does.
fn multipart_error(error: &axum::extract::multipart::MultipartError) -> ApiError {
    if error.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else if crate::serve::is_body_timeout(error) {
        crate::serve::timed_out()
    } else {
        parse_error("Multipart form parse error.")
    }
}

/// A malformed body: 400 `parse_error`, as DRF's `ParseError`.
fn parse_error(detail: &'static str) -> ApiError {
    ApiError::BadRequest {
        detail: detail.into(),
        code: "parse_error",
    }
}

/// Where uploads live: `CAMPUS_STORAGE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageSettings {
    /// A local folder: `file:///abs/dir`, or the media root when the URL is unset.
    Files(PathBuf),
    /// A bucket on S3 or an S3-compatible server: `s3://bucket/prefix`.
    S3(S3Settings),
}

/// An S3 bucket, its key prefix, and how to reach it (`CAMPUS_S3_ENDPOINT`,
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`).
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    /// Keys start with this (`a/b`, no slash at either end; empty for none).
    pub prefix: String,
    /// An S3-compatible server (`http://127.0.0.1:5000`); addressed path-style.
    pub endpoint: Option<String>,
    pub region: String,
    /// Without keys, the instance's or container's credentials are used.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl StorageSettings {
    /// Reads `CAMPUS_STORAGE_URL` (and, for `s3://`, the endpoint, keys and
    /// region); unset means the files under `media_root`.
    pub fn from_lookup(
        lookup: &impl Fn(&str) -> Option<String>,
        media_root: &Path,
    ) -> Result<Self, SettingError> {
        const NAME: &str = "CAMPUS_STORAGE_URL";
        let Some(value) = lookup(NAME) else {
            return Ok(Self::Files(media_root.to_path_buf()));
        };
        let invalid = |name: &'static str, reason: String| SettingError { name, reason };
        let shape = || {
            format!(
                "{value:?} is not a storage URL such as file:///srv/media or s3://bucket/prefix"
            )
        };
        let url = url::Url::parse(value.trim()).map_err(|_| invalid(NAME, shape()))?;
        // The URL parser would fold `.`/`..` segments away: refuse them instead.
        let raw_path = value.split_once("://").map_or("", |(_, rest)| rest);
        if raw_path.split('/').skip(1).any(|s| matches!(s, "." | ".."))
            || raw_path.trim_end_matches('/').contains("//")
        {
            return Err(invalid(NAME, shape()));
        }
        if url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
            || url.port().is_some()
        {
            return Err(invalid(NAME, shape()));
        }
        match url.scheme() {
            "file" => {
                let local = url
                    .host_str()
                    .is_none_or(|h| h.is_empty() || h == "localhost");
                match url.to_file_path() {
                    Ok(dir) if local && dir.is_absolute() => Ok(Self::Files(dir)),
                    _ => Err(invalid(
                        NAME,
                        format!("{value:?} is not an absolute folder such as file:///srv/media"),
                    )),
                }
            }
            "s3" => {
                let bucket = url.host_str().unwrap_or_default().to_owned();
                let bucket_ok = (3..=63).contains(&bucket.len())
                    && bucket
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-".contains(c));
                if !bucket_ok {
                    return Err(invalid(
                        NAME,
                        format!(
                            "{bucket:?} is not a bucket name (3 to 63 lowercase letters, digits, '.' or '-')"
                        ),
                    ));
                }
                let prefix = url.path().trim_matches('/').to_owned();
                if !prefix.is_empty() && !safe_name(&prefix) {
                    return Err(invalid(
                        NAME,
                        format!("{prefix:?} is not a prefix of letters, digits and /._-"),
                    ));
                }
                let endpoint = match lookup("CAMPUS_S3_ENDPOINT") {
                    Some(endpoint) => Some(parse_endpoint(&endpoint).ok_or_else(|| {
                        invalid(
                            "CAMPUS_S3_ENDPOINT",
                            format!("{endpoint:?} is not a server such as http://127.0.0.1:5000"),
                        )
                    })?),
                    None => None,
                };
                let access_key_id = lookup("AWS_ACCESS_KEY_ID");
                let secret_access_key = lookup("AWS_SECRET_ACCESS_KEY");
                match (&access_key_id, &secret_access_key) {
                    (Some(_), None) => {
                        return Err(invalid(
                            "AWS_SECRET_ACCESS_KEY",
                            "is required with AWS_ACCESS_KEY_ID".into(),
                        ));
                    }
                    (None, Some(_)) => {
                        return Err(invalid(
                            "AWS_ACCESS_KEY_ID",
                            "is required with AWS_SECRET_ACCESS_KEY".into(),
                        ));
                    }
                    _ => {}
                }
                Ok(Self::S3(S3Settings {
                    bucket,
                    prefix,
                    endpoint,
                    region: lookup("AWS_REGION").unwrap_or_else(|| "us-east-1".to_owned()),
                    access_key_id,
                    secret_access_key,
                }))
            }
            _ => Err(invalid(NAME, shape())),
        }
    }
}

/// An `http(s)://host[:port]` server, without a trailing slash.
fn parse_endpoint(value: &str) -> Option<String> {
    let url = url::Url::parse(value.trim()).ok()?;
    let bare = url.query().is_none() && url.fragment().is_none() && url.username().is_empty();
    (matches!(url.scheme(), "http" | "https") && url.host_str().is_some() && bare)
        .then(|| value.trim().trim_end_matches('/').to_owned())
}

/// Names and prefixes we make: segments of ASCII letters, digits and `._-`,
/// none empty, `.` or `..`, nothing absolute.
fn safe_name(name: &str) -> bool {
    name.split('/').all(|segment| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    }) && !name.contains("..")
}

/// Connection limits for S3: a dead server fails a request in seconds, not minutes.
const S3_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const S3_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const S3_RETRIES: usize = 3;
const S3_RETRY_TIMEOUT: Duration = Duration::from_secs(20);

/// Uploaded files, stored under generated names only: in a local folder or
/// in an S3 bucket, the same names either way.
#[derive(Debug, Clone)]
pub struct Storage {
    backend: Backend,
    /// Where this view's names start: empty, or `a/b/` (ending with a slash).
    prefix: String,
}

#[derive(Debug, Clone)]
enum Backend {
    Files(PathBuf),
    Objects {
        store: Arc<dyn ObjectStore>,
        /// `s3://bucket`, for messages.
        url: String,
    },
}

impl Storage {
    /// Files under the folder `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            backend: Backend::Files(root.into()),
            prefix: String::new(),
        }
    }

    /// The storage `settings` describe; only an S3 client that cannot be
    /// built fails here (nothing is contacted until the first use).
    pub fn open(settings: &StorageSettings) -> Result<Self, String> {
        let s3 = match settings {
            StorageSettings::Files(root) => return Ok(Self::new(root.clone())),
            StorageSettings::S3(s3) => s3,
        };
        let http = s3
            .endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"));
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&s3.bucket)
            .with_region(&s3.region)
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(S3_CONNECT_TIMEOUT)
                    .with_timeout(S3_REQUEST_TIMEOUT)
                    .with_allow_http(http),
            )
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: S3_RETRIES,
                retry_timeout: S3_RETRY_TIMEOUT,
            });
        if let Some(endpoint) = &s3.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false);
        }
        if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
        }
        let store = builder
            .build()
            .map_err(|e| format!("invalid setting CAMPUS_STORAGE_URL: {e}"))?;
        let storage = Self {
            backend: Backend::Objects {
                store: Arc::new(store),
                url: format!("s3://{}", s3.bucket),
            },
            prefix: String::new(),
        };
        Ok(storage.with_prefix(&s3.prefix))
    }

    /// A view of the names under `prefix` (such as `tenants/<schema>`): its
    /// names are relative to it, so nothing outside can be read through it.
    /// Characters outside ASCII letters, digits and `._-` become `_`; empty,
    /// `.` and `..` segments are dropped.
    pub fn with_prefix(&self, prefix: &str) -> Storage {
        let mut joined = self.prefix.clone();
        for segment in prefix.split('/') {
            if matches!(segment, "" | "." | "..") {
                continue;
            }
            joined.extend(segment.chars().map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            }));
            joined.push('/');
        }
        Self {
            backend: self.backend.clone(),
            prefix: joined,
        }
    }

    /// Stores `bytes` as `<folder>/<uuid>.<ext>`; returns that relative name.
    pub async fn save(
        &self,
        folder: &str,
        bytes: &[u8],
        kind: FileKind,
    ) -> std::io::Result<String> {
        self.save_as(folder, bytes, kind.extension()).await
    }

    /// Stores `bytes` as `<folder>/<uuid>.<extension>` (an extension of
    /// ASCII letters and digits, checked by the caller); returns that name.
    pub async fn save_as(
        &self,
        folder: &str,
        bytes: &[u8],
        extension: &str,
    ) -> std::io::Result<String> {
        let name = format!("{folder}/{}.{extension}", uuid::Uuid::new_v4().simple());
        let key = self.resolve(&name).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "unsafe folder or extension",
            )
        })?;
        self.write(&key, bytes).await?;
        Ok(name)
    }

    /// Stores `bytes` under a name the caller derived (`folder/name.ext`,
    /// the same safe characters as generated names): an import keeps the
    /// name stable, so a second run overwrites rather than duplicates.
    pub async fn put(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let key = self.resolve(name).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "unsafe file name")
        })?;
        self.write(&key, bytes).await
    }

    /// The key of `name` under this view: only names we generated
    /// (folder/uuid.ext), nothing that climbs out.
    fn resolve(&self, name: &str) -> Option<String> {
        safe_name(name).then(|| format!("{}{name}", self.prefix))
    }

    pub async fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        let key = self
            .resolve(name)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "bad name"))?;
        match &self.backend {
            Backend::Files(root) => tokio::fs::read(root.join(key)).await,
            Backend::Objects { store, .. } => {
                let found = store.get(&ObjectPath::from(key)).await.map_err(io_error)?;
                Ok(found.bytes().await.map_err(io_error)?.to_vec())
            }
        }
    }

    /// Removes `name`; a file already gone, or one that cannot be removed
    /// now, is not the caller's failure (the latter is logged).
    pub async fn delete(&self, name: &str) {
        if let Some(key) = self.resolve(name)
            && let Err(error) = self.remove(&key).await
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(storage = %self, name, %error, "could not delete a stored file");
        }
    }

    /// Writes, reads back and deletes a small probe object: storage is
    /// reachable and writable (`campus check`, `/readyz`).
    pub async fn check(&self) -> Result<(), String> {
        let probe = format!("campus-check/{}.txt", uuid::Uuid::new_v4().simple());
        let key = format!("{}{probe}", self.prefix);
        let body = b"campus storage check";
        let fail = |step: &str, error: &dyn std::fmt::Display| format!("{self}: {step}: {error}");
        self.write(&key, body)
            .await
            .map_err(|e| fail("cannot write", &e))?;
        let read = self.read(&probe).await;
        let removed = self.remove(&key).await;
        if let Backend::Files(root) = &self.backend {
            // Leave no empty probe folder behind; one still in use stays.
            let _ = tokio::fs::remove_dir(root.join(format!("{}campus-check", self.prefix))).await;
        }
        match read {
            Ok(bytes) if bytes == body => {}
            Ok(_) => return Err(fail("reads back", &"different bytes than written")),
            Err(e) => return Err(fail("cannot read back", &e)),
        }
        removed.map_err(|e| fail("cannot delete", &e))
    }

    /// Makes `folders` under this view where folders exist (a local
    /// folder; an object store has none to make).
    pub async fn prepare(&self, folders: &[&str]) -> std::io::Result<()> {
        if let Backend::Files(root) = &self.backend {
            for folder in folders {
                tokio::fs::create_dir_all(root.join(&self.prefix).join(folder)).await?;
            }
        }
        Ok(())
    }

    /// The bytes stored under this view.
    pub async fn usage(&self) -> std::io::Result<u64> {
        use futures_util::TryStreamExt;
        match &self.backend {
            Backend::Files(root) => {
                let dir = root.join(&self.prefix);
                tokio::task::spawn_blocking(move || bytes_under(&dir))
                    .await
                    .map_err(std::io::Error::other)
            }
            Backend::Objects { store, .. } => {
                let prefix = ObjectPath::from(self.prefix.trim_end_matches('/'));
                store
                    .list(Some(&prefix))
                    .try_fold(0u64, |sum, meta| async move { Ok(sum + meta.size) })
                    .await
                    .map_err(io_error)
            }
        }
    }

    /// Removes everything under this view (a tenant's files when it is
    /// deleted); nothing there is not an error.
    pub async fn remove_all(&self) -> std::io::Result<()> {
        use futures_util::TryStreamExt;
        match &self.backend {
            Backend::Files(root) => {
                match tokio::fs::remove_dir_all(root.join(&self.prefix)).await {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                    _ => Ok(()),
                }
            }
            Backend::Objects { store, .. } => {
                let prefix = ObjectPath::from(self.prefix.trim_end_matches('/'));
                let names: Vec<ObjectPath> = store
                    .list(Some(&prefix))
                    .map_ok(|meta| meta.location)
                    .try_collect()
                    .await
                    .map_err(io_error)?;
                for name in names {
                    match store.delete(&name).await {
                        Err(object_store::Error::NotFound { .. }) | Ok(()) => {}
                        Err(e) => return Err(io_error(e)),
                    }
                }
                Ok(())
            }
        }
    }

    async fn write(&self, key: &str, bytes: &[u8]) -> std::io::Result<()> {
        match &self.backend {
            Backend::Files(root) => {
                let path = root.join(key);
                if let Some(dir) = path.parent() {
                    tokio::fs::create_dir_all(dir).await?;
                }
                tokio::fs::write(&path, bytes).await
            }
            Backend::Objects { store, .. } => store
                .put(&ObjectPath::from(key), PutPayload::from(bytes.to_vec()))
                .await
                .map(|_| ())
                .map_err(io_error),
        }
    }

    async fn remove(&self, key: &str) -> std::io::Result<()> {
        match &self.backend {
            Backend::Files(root) => tokio::fs::remove_file(root.join(key)).await,
            Backend::Objects { store, .. } => {
                store.delete(&ObjectPath::from(key)).await.map_err(io_error)
            }
        }
    }
}

/// The bytes of the files under `dir` (none when it does not exist).
fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => bytes_under(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

impl std::fmt::Display for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            Backend::Files(root) if self.prefix.is_empty() => {
                write!(f, "storage {}", root.display())
            }
            Backend::Files(root) => write!(f, "storage {}", root.join(&self.prefix).display()),
            Backend::Objects { url, .. } => write!(f, "storage {url}/{}", self.prefix),
        }
    }
}

/// An S3 failure as the io error callers already handle: a missing object
/// is `NotFound`, refused credentials `PermissionDenied`, the rest `Other`.
fn io_error(error: object_store::Error) -> std::io::Error {
    let kind = match &error {
        object_store::Error::NotFound { .. } => std::io::ErrorKind::NotFound,
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => std::io::ErrorKind::PermissionDenied,
        _ => std::io::ErrorKind::Other,
    };
    std::io::Error::new(kind, error)
}

/// A download: `Content-Disposition: attachment` with the stored type.
pub fn attachment(bytes: Vec<u8>, kind: FileKind, filename: &str) -> Response {
    attachment_as(bytes, kind.content_type(), filename)
}

/// A download of `content_type` as an attachment named `filename` (kept to
/// ASCII letters, digits, spaces and `._-`, so the header stays plain).
pub fn attachment_as(bytes: Vec<u8>, content_type: &str, filename: &str) -> Response {
    let safe: String = filename
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || " ._-".contains(*c))
        .collect();
    let safe = match safe.trim() {
        "" => "download".to_owned(),
        name => name.to_owned(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe}\""),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_content_not_names() {
        assert_eq!(FileKind::sniff(b"%PDF-1.7\n..."), Some(FileKind::Pdf));
        assert_eq!(
            FileKind::sniff(b"\x89PNG\r\n\x1a\n...."),
            Some(FileKind::Png)
        );
        assert_eq!(
            FileKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(FileKind::Jpeg)
        );
        assert_eq!(FileKind::sniff(b"<html><body>%PDF-</body></html>"), None);
        let file = UploadedFile {
            filename: "x.pdf".into(),
            bytes: Bytes::from_static(b"<!DOCTYPE html>"),
        };
        assert!(file.validate(1024).is_err());
        let big = UploadedFile {
            filename: "x.pdf".into(),
            bytes: Bytes::from(vec![b'%'; 2048]),
        };
        assert_eq!(
            big.validate(1024 * 1024 / 1024).unwrap_err(),
            "File size must not exceed 0 MB."
        );
    }

    #[test]
    fn storage_refuses_names_it_did_not_make() {
        let storage = Storage::new("/srv/media");
        assert!(storage.resolve("evidence/abc.pdf").is_some());
        assert!(storage.resolve("../etc/passwd").is_none());
        assert!(storage.resolve("/etc/passwd").is_none());
        assert!(storage.resolve("evidence//abc.pdf").is_none());
        assert!(storage.resolve("evidence/./abc.pdf").is_none());
        let tenant = storage.with_prefix("tenants/acme");
        assert_eq!(
            tenant.resolve("evidence/abc.pdf").as_deref(),
            Some("tenants/acme/evidence/abc.pdf")
        );
        let odd = storage.with_prefix("/tenants/../a b//c/");
        assert_eq!(odd.resolve("x.pdf").as_deref(), Some("tenants/a_b/c/x.pdf"));
    }
}
