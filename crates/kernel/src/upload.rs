//! Uploaded files: size cap, type by content (magic bytes, never the name),
//! generated storage names, and downloads as attachments.

use std::collections::HashMap;
use std::path::PathBuf;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

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

/// Files under the media root, stored under generated names only.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
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
        let path = self.root.join(&name);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::write(&path, bytes).await?;
        Ok(name)
    }

    fn resolve(&self, name: &str) -> Option<PathBuf> {
        // Only names we generated: folder/uuid.ext, nothing that climbs out.
        let ok = !name.contains("..")
            && !name.starts_with('/')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c));
        ok.then(|| self.root.join(name))
    }

    pub async fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        let path = self
            .resolve(name)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "bad name"))?;
        tokio::fs::read(path).await
    }

    pub async fn delete(&self, name: &str) {
        if let Some(path) = self.resolve(name) {
            let _ = tokio::fs::remove_file(path).await;
        }
    }
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
    }
}
