//! Documents (axis contract §9): uploads (kept under the media root with
//! generated names, typed by content and extension together) and/or links
//! to cloud storage, with versions, publication, archiving, expiry queries
//! and downloads. Confidential documents exist only for platform users and
//! their uploader; client documents follow the client scoping of §3.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use kernel::upload::{FormBody, UploadedFile};
use kernel::{ApiError, ApiResult, Checker, Db, Field, FieldErrors, Json, Scoped};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::{Me, NO_PERMISSION, Platform, SelectedClient};
use crate::audit::{self, Change, Event, Who};
use crate::entities::{client, contract, document, user};
use crate::rest::{self, Choices, List, Page};
use crate::state::AppState;

const MODEL: &str = "Document";

pub const TYPES: Choices = Choices(&[
    "contract",
    "certification",
    "kpi_report",
    "feedback_summary",
    "billing_report",
    "utilization_report",
    "other",
]);
pub const STATUSES: Choices = Choices(&["Draft", "Published", "Archived", "Expired"]);

/// The largest upload.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
const TOO_LARGE: &str = "File size cannot exceed 10 MB.";
const IMMUTABLE: &str = "This field cannot be changed; create a new version instead.";
const NO_SOURCE: &str = "Either 'file' (upload) or 'url' (cloud storage) must be provided";
const NOT_A_FILE: &str = "The submitted data was not a file. Check the encoding type on the form.";
const NO_FILE: &str = "Document has no uploaded file";
/// Fields a new version changes, never an update.
const VERSIONED: &[&str] = &[
    "version",
    "is_latest",
    "previous_version",
    "previous_version_id",
    "url",
    "file",
];

/// A document is visible to platform users; to anyone else when it is not
/// confidential or they uploaded it, and it has no client or a granted one.
impl Scoped for document::Entity {
    type Caller = Me;

    fn scope(me: &Me) -> Condition {
        let live = Condition::all().add(document::Column::DeletedAt.is_null());
        if me.is_platform() {
            return live;
        }
        live.add(
            Condition::any()
                .add(document::Column::ClientId.is_null())
                .add(document::Column::ClientId.is_in(me.grants.clone())),
        )
        .add(
            Condition::any()
                .add(document::Column::IsConfidential.eq(false))
                .add(document::Column::UploadedById.eq(me.id())),
        )
    }

    fn not_found() -> ApiError {
        rest::not_found(MODEL)
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_documents, create_document))
        .routes(routes!(expiring_soon_documents))
        .routes(routes!(expired_documents))
        .routes(routes!(published_documents))
        .routes(routes!(latest_document_versions))
        .routes(routes!(confidential_documents))
        .routes(routes!(
            get_document,
            put_document,
            patch_document,
            delete_document
        ))
        .routes(routes!(download_document))
        .routes(routes!(publish_document))
        .routes(routes!(archive_document))
        .routes(routes!(create_document_version))
        .routes(routes!(document_version_history))
        .routes(routes!(check_document_expiry))
        .routes(routes!(restore_document))
}

/// Where the request was sent: `scheme://host`, for absolute `file_url`s.
#[derive(Debug, Clone)]
pub struct Origin(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> ApiResult<Self> {
        let host = parts
            .headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            })
            .unwrap_or("localhost");
        let scheme = match parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
        {
            Some("https") => "https",
            _ => "http",
        };
        Ok(Self(format!("{scheme}://{host}")))
    }
}

/// A document in lists.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentItem {
    pub id: String,
    pub title: String,
    /// `contract`, `certification`, `kpi_report`, ...
    #[serde(rename = "type")]
    pub doc_type: String,
    pub status: String,
    pub version: i32,
    pub is_latest: bool,
    pub uploaded_by_id: Option<String>,
    pub uploaded_by_name: Option<String>,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub contract_id: Option<String>,
    pub contract_start_date: Option<NaiveDate>,
    pub expiry_date: Option<NaiveDate>,
    pub is_confidential: bool,
    /// `expiry_date` is before today.
    pub is_expired: bool,
    /// Published, the latest version, and not expired.
    pub is_active: bool,
    /// The absolute address of `download/` for an upload, else `url`.
    pub file_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One document: every field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentOut {
    #[serde(flatten)]
    pub item: DocumentItem,
    pub description: Option<String>,
    /// The absolute address of `download/` for an upload, else null.
    pub file: Option<String>,
    pub url: Option<String>,
    pub file_size: Option<i64>,
    /// The upload's MIME type.
    pub file_type: Option<String>,
    /// The upload's original name.
    pub filename: Option<String>,
    pub file_extension: Option<String>,
    pub previous_version_id: Option<String>,
    pub tags: Vec<String>,
    pub uploaded_by_email: Option<String>,
    pub metadata: Value,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// One version in a document's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentVersion {
    pub id: String,
    pub version: i32,
    pub url: Option<String>,
    pub file_url: Option<String>,
    pub status: String,
    pub is_latest: bool,
    pub uploaded_by_email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a document stands with its expiry date.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentExpiry {
    pub has_expiry: bool,
    pub is_expired: bool,
    pub expiry_date: Option<NaiveDate>,
    /// Null without an expiry date; negative once expired.
    pub days_until_expiry: Option<i64>,
    /// 0 < days_until_expiry ≤ 30.
    pub expires_soon: bool,
}

/// What the audit trail keeps of a document: its row (the storage name of
/// the upload, never its bytes), tags as a list.
fn record(row: &document::Model) -> Value {
    let mut value = audit::snapshot(row);
    value["tags"] = json!(row.tag_list());
    value
}

fn today() -> NaiveDate {
    kernel::time::now().date_naive()
}

fn is_expired(row: &document::Model) -> bool {
    row.expiry_date.is_some_and(|d| d < today())
}

struct Related {
    users: HashMap<String, user::Model>,
    clients: HashMap<String, String>,
    contracts: HashMap<String, NaiveDate>,
    origin: String,
}

async fn related(
    db: &impl ConnectionTrait,
    origin: &Origin,
    rows: &[document::Model],
) -> ApiResult<Related> {
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(rows.iter().filter_map(|r| r.uploaded_by_id.clone())))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    let clients = client::Entity::find()
        .filter(client::Column::Id.is_in(rows.iter().filter_map(|r| r.client_id.clone())))
        .filter(client::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let contracts = contract::Entity::find()
        .filter(contract::Column::Id.is_in(rows.iter().filter_map(|r| r.contract_id.clone())))
        .filter(contract::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.start_date))
        .collect();
    Ok(Related {
        users,
        clients,
        contracts,
        origin: origin.0.clone(),
    })
}

impl Related {
    fn download_url(&self, row: &document::Model) -> Option<String> {
        row.file
            .as_ref()
            .map(|_| format!("{}/api/documents/{}/download/", self.origin, row.id))
    }

    fn file_url(&self, row: &document::Model) -> Option<String> {
        self.download_url(row).or_else(|| row.url.clone())
    }

    fn uploader(&self, row: &document::Model) -> Option<&user::Model> {
        row.uploaded_by_id.as_ref().and_then(|u| self.users.get(u))
    }

    fn item(&self, row: &document::Model) -> DocumentItem {
        let expired = is_expired(row);
        DocumentItem {
            id: row.id.clone(),
            title: row.title.clone(),
            doc_type: row.doc_type.clone(),
            status: row.status.clone(),
            version: row.version,
            is_latest: row.is_latest,
            uploaded_by_id: row.uploaded_by_id.clone(),
            uploaded_by_name: self.uploader(row).map(|u| {
                let name = u.full_name();
                if name.is_empty() {
                    u.email.clone()
                } else {
                    name
                }
            }),
            client_id: row.client_id.clone(),
            client_name: row
                .client_id
                .as_ref()
                .and_then(|c| self.clients.get(c).cloned()),
            contract_id: row.contract_id.clone(),
            contract_start_date: row
                .contract_id
                .as_ref()
                .and_then(|c| self.contracts.get(c).copied()),
            expiry_date: row.expiry_date,
            is_confidential: row.is_confidential,
            is_expired: expired,
            is_active: row.status == "Published" && row.is_latest && !expired,
            file_url: self.file_url(row),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }

    fn detail(&self, row: document::Model) -> DocumentOut {
        DocumentOut {
            item: self.item(&row),
            file: self.download_url(&row),
            tags: row.tag_list(),
            uploaded_by_email: self.uploader(&row).map(|u| u.email.clone()),
            description: row.description,
            url: row.url,
            file_size: row.file_size,
            file_type: row.file_type,
            filename: row.filename,
            file_extension: row.file_extension,
            previous_version_id: row.previous_version_id,
            metadata: row.metadata,
            deleted_at: row.deleted_at,
        }
    }
}

async fn items(
    db: &impl ConnectionTrait,
    origin: &Origin,
    rows: Vec<document::Model>,
) -> ApiResult<Vec<DocumentItem>> {
    let rel = related(db, origin, &rows).await?;
    Ok(rows.iter().map(|r| rel.item(r)).collect())
}

async fn detail(
    db: &impl ConnectionTrait,
    origin: &Origin,
    row: document::Model,
) -> ApiResult<DocumentOut> {
    let rel = related(db, origin, std::slice::from_ref(&row)).await?;
    Ok(rel.detail(row))
}

/// How many live documents of client `client_id` the caller may see (a
/// client's `documents_count`).
pub async fn count(db: &impl ConnectionTrait, me: &Me, client_id: &str) -> ApiResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(document::Entity::visible(me)
        .filter(document::Column::ClientId.eq(client_id))
        .count(db)
        .await?)
}

/// The document `id` if the caller may see it.
async fn visible(db: &impl ConnectionTrait, me: &Me, id: &str) -> ApiResult<document::Model> {
    let id = rest::path_id(id, MODEL)?;
    document::Entity::find_visible(db, me, id).await
}

/// `document_manager` on the document's (granted) client.
fn manages(me: &Me, row: &document::Model) -> bool {
    me.has_role("document_manager")
        && row
            .client_id
            .as_ref()
            .is_some_and(|c| me.grants.iter().any(|g| g == c))
}

/// The document `id` for an update or delete: its uploader, a platform
/// user or its client's document manager (else 403, once it is visible).
async fn modifiable(db: &impl ConnectionTrait, me: &Me, id: &str) -> ApiResult<document::Model> {
    let row = visible(db, me, id).await?;
    let own = row.uploaded_by_id.as_deref() == Some(me.id());
    if own || me.is_platform() || manages(me, &row) {
        Ok(row)
    } else {
        Err(ApiError::forbidden(NO_PERMISSION))
    }
}

/// The document `id` for publish, archive and create-version: a platform
/// user or its client's document manager.
async fn manageable(db: &impl ConnectionTrait, me: &Me, id: &str) -> ApiResult<document::Model> {
    let row = visible(db, me, id).await?;
    if me.is_platform() || manages(me, &row) {
        Ok(row)
    } else {
        Err(ApiError::forbidden(NO_PERMISSION))
    }
}

/// Reads the live row `id` again on `txn`, locked.
async fn locked(txn: &impl ConnectionTrait, id: &str) -> ApiResult<document::Model> {
    document::Entity::find_by_id(id.to_owned())
        .lock_exclusive()
        .one(txn)
        .await?
        .filter(|r| r.deleted_at.is_none())
        .ok_or_else(|| rest::not_found(MODEL))
}

// ---------------------------------------------------------------- files

/// A checked upload: its bytes, MIME type, extension and original name.
#[derive(Debug, Clone)]
pub struct Upload {
    bytes: axum::body::Bytes,
    mime: &'static str,
    extension: String,
    filename: String,
}

/// What the content of each accepted extension must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Pdf,
    Ole,
    Docx,
    Xlsx,
    Jpeg,
    Png,
    Csv,
}

fn by_extension(extension: &str) -> Option<(Content, &'static str, &'static str)> {
    Some(match extension {
        "pdf" => (Content::Pdf, "application/pdf", "PDF"),
        "doc" => (Content::Ole, "application/msword", "DOC"),
        "xls" => (Content::Ole, "application/vnd.ms-excel", "XLS"),
        "docx" => (
            Content::Docx,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "DOCX",
        ),
        "xlsx" => (
            Content::Xlsx,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "XLSX",
        ),
        "jpg" | "jpeg" => (Content::Jpeg, "image/jpeg", "JPEG"),
        "png" => (Content::Png, "image/png", "PNG"),
        "csv" => (Content::Csv, "text/csv", "CSV"),
        _ => return None,
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether `bytes` really are `content`.
fn is(content: Content, bytes: &[u8]) -> bool {
    const ZIP: &[u8] = b"PK\x03\x04";
    match content {
        Content::Pdf => bytes.starts_with(b"%PDF-"),
        Content::Ole => bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]),
        Content::Docx => bytes.starts_with(ZIP) && contains(bytes, b"word/"),
        Content::Xlsx => bytes.starts_with(ZIP) && contains(bytes, b"xl/"),
        Content::Jpeg => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        Content::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        Content::Csv => {
            let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            std::str::from_utf8(text).is_ok_and(|t| {
                !t.chars()
                    .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
            })
        }
    }
}

/// The file's type, decided by its extension and its content together;
/// else the field's message.
pub fn check_file(file: &UploadedFile) -> Result<Upload, String> {
    if file.bytes.is_empty() {
        return Err("The submitted file is empty.".into());
    }
    if file.bytes.len() > MAX_FILE_BYTES {
        return Err(TOO_LARGE.into());
    }
    let filename: String = file
        .filename
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let extension = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let Some((content, mime, label)) = by_extension(&extension) else {
        let shown = if extension.is_empty() {
            "a file without an extension".to_owned()
        } else {
            format!(".{}", extension.chars().take(20).collect::<String>())
        };
        return Err(format!(
            "Unsupported file type: {shown}. Allowed: PDF, DOC, DOCX, XLS, XLSX, JPEG, PNG, CSV."
        ));
    };
    if !is(content, &file.bytes) {
        return Err(format!(
            "Unsupported file type: the content is not a valid {label} file."
        ));
    }
    let filename = if filename.chars().count() > 255 {
        let keep: String = filename.chars().take(240).collect();
        format!("{keep}.{extension}")
    } else {
        filename
    };
    Ok(Upload {
        bytes: file.bytes.clone(),
        mime,
        extension,
        filename,
    })
}

// ---------------------------------------------------------------- input

/// A body as JSON: a multipart body's parts as the JSON they stand for
/// (`tags` repeated into a list, `is_confidential` a boolean, `metadata`
/// parsed, `file_size` a number), and the `file` part if one was sent.
fn read_body(body: FormBody) -> ApiResult<(Map<String, Value>, Option<UploadedFile>)> {
    let FormBody {
        mut fields,
        mut files,
        lists,
    } = body;
    let file = files.remove("file");
    if lists.is_empty() {
        return Ok((fields, file));
    }
    let mut errors = FieldErrors::new();
    for (name, values) in lists {
        let last = values.last().cloned().unwrap_or_default();
        let value = match name.as_str() {
            "tags" => match serde_json::from_str::<Vec<String>>(&last) {
                Ok(list) if values.len() == 1 && last.trim_start().starts_with('[') => json!(list),
                _ => json!(values),
            },
            "is_confidential" => match last.trim() {
                "true" | "True" | "1" => json!(true),
                "false" | "False" | "0" => json!(false),
                _ => {
                    errors.add(&name, "Must be a valid boolean.");
                    continue;
                }
            },
            "metadata" if last.trim().is_empty() => Value::Null,
            "metadata" => match serde_json::from_str::<Value>(&last) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    errors.add(&name, "Value must be valid JSON.");
                    continue;
                }
            },
            "file_size" if last.trim().is_empty() => Value::Null,
            "file_size" => match last.trim().parse::<i64>() {
                Ok(n) => json!(n),
                Err(_) => {
                    errors.add(&name, "A valid integer is required.");
                    continue;
                }
            },
            _ => Value::String(last),
        };
        fields.insert(name, value);
    }
    errors.into_result()?;
    Ok((fields, file))
}

fn parse<T: serde::de::DeserializeOwned>(fields: &Map<String, Value>) -> ApiResult<T> {
    let bytes = serde_json::to_vec(fields).map_err(ApiError::internal)?;
    kernel::extract::parse_json(&bytes)
}

/// The `file` of a body: an upload checked, or the error of a value that is
/// not one.
fn file_field(
    c: &mut Checker,
    fields: &Map<String, Value>,
    file: Option<&UploadedFile>,
) -> Option<Upload> {
    match file {
        Some(file) => match check_file(file) {
            Ok(upload) => Some(upload),
            Err(message) => {
                c.error("file", message);
                None
            }
        },
        None => {
            if matches!(fields.get("file"), Some(v) if !v.is_null() && v != "") {
                c.error("file", NOT_A_FILE);
            }
            None
        }
    }
}

/// What `url` accepts: an `http` or `https` address with a host.
const URL: &str = "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+([/?#]\\S*)?$";

fn is_url(text: &str) -> bool {
    static PATTERN: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(URL).ok());
    PATTERN.as_ref().is_some_and(|p| p.is_match(text))
}

fn url_field(c: &mut Checker, field: Field<String>) -> Option<Option<String>> {
    let url = c.optional_text("url", field, 500)?;
    if let Some(u) = &url
        && !is_url(u)
    {
        c.error("url", "Enter a valid URL (http or https).");
        return None;
    }
    Some(url)
}

/// An expiry date: `YYYY-MM-DD` after today; blank or null clears it.
fn expiry_field(c: &mut Checker, field: Field<String>) -> Option<Option<NaiveDate>> {
    match rest::optional_date(c, "expiry_date", field)? {
        Some(d) if d <= today() => {
            c.error("expiry_date", "Expiry date must be in the future");
            None
        }
        date => Some(date),
    }
}

/// Tags: strings of at most 50 characters (trimmed, blanks dropped); null
/// clears them.
fn tags_field(c: &mut Checker, field: Field<Vec<String>>) -> Option<Vec<String>> {
    let list = match field {
        Field::Absent => return None,
        Field::Null => Vec::new(),
        Field::Value(list) => list,
    };
    let mut out = Vec::new();
    for tag in list {
        let tag = tag.trim().to_owned();
        if tag.contains('\0') {
            c.error("tags", kernel::form::NO_NUL);
            return None;
        }
        if tag.chars().count() > 50 {
            c.error("tags", "Ensure this field has no more than 50 characters.");
            return None;
        }
        if !tag.is_empty() && !out.contains(&tag) {
            out.push(tag);
        }
    }
    Some(out)
}

fn tags_text(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())
}

fn doc_type(c: &mut Checker, field: Field<String>) -> Option<String> {
    let raw = c.value("type", field)?;
    match TYPES.parse(&raw) {
        Some(t) => Some(t.to_owned()),
        None => {
            c.error("type", format!("\"{raw}\" is not a valid choice."));
            None
        }
    }
}

/// OpenAPI schemas of document input.
mod schema {
    use kernel::form::schema::{BLANK_PATTERN, blank_or_null, choice, date_from_1900, or_null};
    use utoipa::openapi::schema::{
        AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type,
    };
    use utoipa::openapi::{RefOr, Schema};

    pub fn doc_type() -> Schema {
        choice(super::TYPES.0)
    }

    /// An `http(s)` address, or blank or null for none.
    pub fn url() -> Schema {
        blank_or_null(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(super::URL))
                .max_length(Some(500)),
        )
    }

    /// A date after today, or blank or null for none.
    pub fn expiry() -> Schema {
        blank_or_null(date_from_1900())
    }

    fn tag() -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(50))
    }

    /// Tags; null clears them.
    pub fn tags() -> Schema {
        or_null(ArrayBuilder::new().items(tag()))
    }

    /// Tags as repeated multipart parts.
    pub fn tag_parts() -> Schema {
        ArrayBuilder::new().items(tag()).into()
    }

    /// A file part (at most 10 MiB; PDF, DOC, DOCX, XLS, XLSX, JPEG, PNG or
    /// CSV by content and extension).
    pub fn file() -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }

    /// A flag as multipart text.
    pub fn flag_text() -> Schema {
        choice(&["true", "false", "True", "False", "1", "0"])
    }

    /// A JSON object as multipart text.
    pub fn json_text() -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("application/json")
            .into()
    }

    /// A size in bytes as multipart text.
    pub fn size_text() -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[0-9]{1,15}$"))
            .into()
    }

    /// Text of at most `MAX` characters, as a multipart part.
    pub fn text_part<const MAX: usize>() -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(MAX))
            .into()
    }

    /// `schema`, or blank: a multipart part has no null.
    fn or_blank(schema: impl Into<RefOr<Schema>>) -> Schema {
        AnyOfBuilder::new()
            .item(schema)
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(BLANK_PATTERN)),
            )
            .into()
    }

    /// A row id, or blank for none, as a multipart part.
    pub fn cuid_part() -> Schema {
        or_blank(crate::clients::schema::cuid())
    }

    /// An `http(s)` address, or blank for none, as a multipart part.
    pub fn url_part() -> Schema {
        or_blank(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(super::URL))
                .max_length(Some(500)),
        )
    }

    /// A date after today, or blank for none, as a multipart part.
    pub fn expiry_part() -> Schema {
        or_blank(date_from_1900())
    }

    /// The bytes of a download.
    #[derive(Debug, Clone, Copy)]
    pub struct FileBytes;

    impl utoipa::PartialSchema for FileBytes {
        fn schema() -> RefOr<Schema> {
            file().into()
        }
    }

    impl utoipa::ToSchema for FileBytes {}

    /// A size in bytes.
    pub fn size() -> Schema {
        or_null(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(999_999_999_999_999_i64)),
        )
    }
}

kernel::choices!(
    /// A document's kind.
    pub DocumentType = TYPES.0
);

kernel::choices!(
    /// Where a document stands.
    pub DocumentStatus = STATUSES.0
);

/// A new document as JSON: `title`, `type`, and a `url` (uploads go as
/// multipart).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DocumentIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    title: Field<String>,
    #[serde(default, rename = "type")]
    #[schema(schema_with = schema::doc_type, required = true)]
    doc_type: Field<String>,
    /// Required when no file is uploaded.
    #[serde(default)]
    #[schema(schema_with = schema::url)]
    url: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    description: Field<String>,
    /// A client the caller may see (alias `client`).
    #[serde(default, alias = "client")]
    #[schema(schema_with = crate::clients::schema::optional_cuid)]
    client_id: Field<String>,
    /// A contract of that client (alias `contract`); alone, it sets the client.
    #[serde(default, alias = "contract")]
    #[schema(schema_with = crate::clients::schema::optional_cuid)]
    contract_id: Field<String>,
    /// After today.
    #[serde(default)]
    #[schema(schema_with = schema::expiry)]
    expiry_date: Field<String>,
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    is_confidential: Field<bool>,
    #[serde(default)]
    #[schema(schema_with = schema::tags)]
    tags: Field<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Field<Value>,
}

/// A new document as `multipart/form-data`: a `file` and/or a `url`.
#[derive(Debug, ToSchema)]
#[allow(dead_code, reason = "documents the multipart body")]
pub struct DocumentUpload {
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    title: String,
    #[schema(rename = "type", schema_with = schema::doc_type, required = true)]
    doc_type: String,
    #[schema(schema_with = schema::file, required = false)]
    file: Option<Vec<u8>>,
    #[schema(schema_with = schema::url_part, required = false)]
    url: Option<String>,
    #[schema(schema_with = schema::text_part::<10000>, required = false)]
    description: Option<String>,
    #[schema(schema_with = schema::cuid_part, required = false)]
    client_id: Option<String>,
    #[schema(schema_with = schema::cuid_part, required = false)]
    contract_id: Option<String>,
    #[schema(schema_with = schema::expiry_part, required = false)]
    expiry_date: Option<String>,
    #[schema(schema_with = schema::flag_text, required = false)]
    is_confidential: Option<String>,
    /// Repeated `tags` parts.
    #[schema(schema_with = schema::tag_parts, required = false)]
    tags: Option<Vec<String>>,
    /// A JSON object as text.
    #[schema(schema_with = schema::json_text, required = false)]
    metadata: Option<String>,
}

/// What an update may change (`file_size` and `file_type` only on a
/// document without an upload); `version`, `is_latest`,
/// `previous_version(_id)`, `url` and `file` change only with a new version.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DocumentUpdateIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    title: Field<String>,
    #[serde(default, rename = "type")]
    #[schema(schema_with = schema::doc_type, required = true)]
    doc_type: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    description: Field<String>,
    #[serde(default)]
    #[schema(schema_with = schema::expiry)]
    expiry_date: Field<String>,
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    is_confidential: Field<bool>,
    #[serde(default)]
    #[schema(schema_with = schema::tags)]
    tags: Field<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Field<Value>,
    /// Documents without an upload only.
    #[serde(default)]
    #[schema(schema_with = schema::size)]
    file_size: Field<i64>,
    /// Documents without an upload only.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
    file_type: Field<String>,
}

/// An update as `multipart/form-data`.
#[derive(Debug, ToSchema)]
#[allow(dead_code, reason = "documents the multipart body")]
pub struct DocumentUpdateUpload {
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    title: String,
    #[schema(rename = "type", schema_with = schema::doc_type, required = true)]
    doc_type: String,
    #[schema(schema_with = schema::text_part::<10000>, required = false)]
    description: Option<String>,
    #[schema(schema_with = schema::expiry_part, required = false)]
    expiry_date: Option<String>,
    #[schema(schema_with = schema::flag_text, required = false)]
    is_confidential: Option<String>,
    #[schema(schema_with = schema::tag_parts, required = false)]
    tags: Option<Vec<String>>,
    #[schema(schema_with = schema::json_text, required = false)]
    metadata: Option<String>,
    #[schema(schema_with = schema::size_text, required = false)]
    file_size: Option<String>,
    #[schema(schema_with = schema::text_part::<100>, required = false)]
    file_type: Option<String>,
}

/// A partial update as `multipart/form-data`: nothing required.
#[derive(Debug, ToSchema)]
#[allow(dead_code, reason = "documents the multipart body")]
pub struct PatchedDocumentUpdateUpload {
    #[schema(schema_with = kernel::form::schema::text::<255>, required = false)]
    title: Option<String>,
    #[schema(rename = "type", schema_with = schema::doc_type, required = false)]
    doc_type: Option<String>,
    #[schema(schema_with = schema::text_part::<10000>, required = false)]
    description: Option<String>,
    #[schema(schema_with = schema::expiry_part, required = false)]
    expiry_date: Option<String>,
    #[schema(schema_with = schema::flag_text, required = false)]
    is_confidential: Option<String>,
    #[schema(schema_with = schema::tag_parts, required = false)]
    tags: Option<Vec<String>>,
    #[schema(schema_with = schema::json_text, required = false)]
    metadata: Option<String>,
    #[schema(schema_with = schema::size_text, required = false)]
    file_size: Option<String>,
    #[schema(schema_with = schema::text_part::<100>, required = false)]
    file_type: Option<String>,
}

/// A new version as JSON: its `url`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct VersionIn {
    #[serde(default)]
    #[schema(schema_with = schema::url)]
    url: Field<String>,
    /// The old version's when left out.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    description: Field<String>,
}

/// A new version as `multipart/form-data`: a `file` and/or a `url`.
#[derive(Debug, ToSchema)]
#[allow(dead_code, reason = "documents the multipart body")]
pub struct VersionUpload {
    #[schema(schema_with = schema::file, required = false)]
    file: Option<Vec<u8>>,
    #[schema(schema_with = schema::url_part, required = false)]
    url: Option<String>,
    #[schema(schema_with = schema::text_part::<10000>, required = false)]
    description: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DocumentReasonIn {
    /// Kept as `metadata.archive_reason`.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<1000>)]
    reason: Field<String>,
}

/// Stores `upload` under the media root; its storage name.
async fn store(state: &AppState, upload: &Upload) -> ApiResult<String> {
    state
        .storage
        .save_as("documents", &upload.bytes, &upload.extension)
        .await
        .map_err(ApiError::internal)
}

// ---------------------------------------------------------------- handlers

/// The filters every document query shares, within the caller's scope and
/// the `X-Client-ID` client.
fn scoped(me: &Me, selected: &SelectedClient) -> Select<document::Entity> {
    let query = document::Entity::visible(me);
    match &selected.0 {
        Some(client) => query.filter(document::Column::ClientId.eq(client.as_str())),
        None => query,
    }
}

fn filtered(
    me: &Me,
    selected: &SelectedClient,
    list: &List,
) -> ApiResult<Select<document::Entity>> {
    let mut query = scoped(me, selected);
    if let Some(t) = list.get("type") {
        query = query.filter(document::Column::DocType.eq(TYPES.check("type", t)?));
    }
    if let Some(s) = list.get("status") {
        query = query.filter(document::Column::Status.eq(STATUSES.check("status", s)?));
    }
    if let Some(c) = list.get("client_id").or(list.get("client")) {
        query = query.filter(document::Column::ClientId.eq(c.trim()));
    }
    if let Some(c) = list.get("contract_id").or(list.get("contract")) {
        query = query.filter(document::Column::ContractId.eq(c.trim()));
    }
    if let Some(u) = list.get("uploaded_by_id").or(list.get("uploaded_by")) {
        query = query.filter(document::Column::UploadedById.eq(u.trim()));
    }
    if let Some(v) = rest::flag(list, "is_confidential")? {
        query = query.filter(document::Column::IsConfidential.eq(v));
    }
    if let Some(v) = rest::flag(list, "is_latest")? {
        query = query.filter(document::Column::IsLatest.eq(v));
    }
    Ok(query)
}

/// Documents, a page at a time: search `title, description, tags`; filters
/// `type, status, client_id` (alias `client`), `contract_id` (alias
/// `contract`), `uploaded_by_id` (alias `uploaded_by`), `is_confidential,
/// is_latest`; ordering `created_at, updated_at, expiry_date, version,
/// title`. Narrowed to the `X-Client-ID` client when one is sent.
#[utoipa::path(get, path = "/api/documents/", tag = "documents", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("type" = inline(Option<DocumentType>), Query), ("status" = inline(Option<DocumentStatus>), Query),
        ("client_id" = Option<String>, Query), ("client" = Option<String>, Query),
        ("contract_id" = Option<String>, Query), ("contract" = Option<String>, Query),
        ("uploaded_by_id" = Option<String>, Query), ("uploaded_by" = Option<String>, Query),
        ("is_confidential" = Option<bool>, Query), ("is_latest" = Option<bool>, Query)),
    responses((status = 200, body = Page<DocumentItem>)))]
pub async fn list_documents(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    origin: Origin,
    list: List,
) -> ApiResult<Json<Page<DocumentItem>>> {
    let query = filtered(&me, &selected, &list)?;
    let query = list.search(
        query,
        &[
            Expr::col(document::Column::Title),
            Expr::col(document::Column::Description),
            Expr::col(document::Column::Tags),
        ],
    );
    let query = list.order(
        query,
        &[
            ("created_at", Expr::col(document::Column::CreatedAt)),
            ("updated_at", Expr::col(document::Column::UpdatedAt)),
            ("expiry_date", Expr::col(document::Column::ExpiryDate)),
            ("version", Expr::col(document::Column::Version)),
            ("title", Expr::col(document::Column::Title)),
        ],
        &[("created_at", sea_orm::Order::Desc)],
        document::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    let rows = items(&db, &origin, page.data.clone()).await?;
    Ok(Json(page.with_data(rows)))
}

/// Creates a document (JSON with a `url`, or multipart with a `file` and/or
/// a `url`): status Draft, version 1, uploaded by the caller. Scoped users
/// may file it under a granted client or none.
#[utoipa::path(post, path = "/api/documents/", tag = "documents", security(("jwt" = [])),
    request_body(content((DocumentIn = "application/json"), (DocumentUpload = "multipart/form-data"))),
    responses((status = 201, body = DocumentOut)))]
pub async fn create_document(
    State(state): State<AppState>,
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    origin: Origin,
    body: Result<FormBody, ApiError>,
) -> ApiResult<(StatusCode, Json<DocumentOut>)> {
    let (fields, file) = read_body(body?)?;
    let input: DocumentIn = parse(&fields)?;
    let mut c = Checker::new();
    let title = c.text("title", input.title, 255);
    let doc_type = doc_type(&mut c, input.doc_type);
    let upload = file_field(&mut c, &fields, file.as_ref());
    let url = url_field(&mut c, input.url);
    let description = c.optional_text("description", input.description, 10_000);
    let client_id = c.optional_text("client_id", input.client_id, 64).flatten();
    let contract_id = c
        .optional_text("contract_id", input.contract_id, 64)
        .flatten();
    let expiry = expiry_field(&mut c, input.expiry_date);
    let confidential = c.boolean("is_confidential", input.is_confidential, false);
    let tags = tags_field(&mut c, input.tags);
    let metadata = rest::metadata(&mut c, input.metadata, true);
    if upload.is_none() && !c.has_error("file") && !c.has_error("url") && url == Some(None) {
        c.error(FieldErrors::NON_FIELD, NO_SOURCE);
    }
    let mut client_id = client_id;
    if let Some(id) = &client_id
        && client::Entity::find_visible(&db, &me, id.clone())
            .await
            .is_err()
    {
        c.error("client_id", rest::invalid_pk_message(id));
    }
    if let Some(id) = &contract_id {
        let found = contract::Entity::find_by_id(id.clone())
            .filter(contract::Column::DeletedAt.is_null())
            .one(&db)
            .await?
            .filter(|k| me.sees_client(&k.client_id));
        match found {
            None => c.error("contract_id", rest::invalid_pk_message(id)),
            Some(k) => match &client_id {
                Some(client) if *client != k.client_id => c.error(
                    "contract_id",
                    "Contract does not belong to specified client",
                ),
                Some(_) => {}
                None => client_id = Some(k.client_id),
            },
        }
    }
    c.finish()?;
    let stored = match &upload {
        Some(u) => Some(store(&state, u).await?),
        None => None,
    };
    let now = kernel::time::now();
    let row = document::ActiveModel {
        id: Set(kernel::cuid::new()),
        title: Set(title.unwrap_or_default()),
        description: Set(description.flatten()),
        doc_type: Set(doc_type.unwrap_or_default()),
        file: Set(stored.clone()),
        url: Set(url.flatten()),
        file_size: Set(upload
            .as_ref()
            .map(|u| i64::try_from(u.bytes.len()).unwrap_or(i64::MAX))),
        file_type: Set(upload.as_ref().map(|u| u.mime.to_owned())),
        filename: Set(upload.as_ref().map(|u| u.filename.clone())),
        file_extension: Set(upload.as_ref().map(|u| u.extension.clone())),
        version: Set(1),
        is_latest: Set(true),
        previous_version_id: Set(None),
        status: Set("Draft".into()),
        expiry_date: Set(expiry.flatten()),
        is_confidential: Set(confidential.unwrap_or(false)),
        tags: Set(tags_text(&tags.unwrap_or_default())),
        uploaded_by_id: Set(Some(me.id().to_owned())),
        client_id: Set(client_id),
        contract_id: Set(contract_id),
        metadata: Set(metadata.unwrap_or_else(|| json!({}))),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    };
    let saved = async {
        let txn = kernel::db::begin_write(&db).await?;
        let saved = row.insert(&txn).await?;
        let event = Event::new("Create", MODEL, &saved.id)
            .status(201)
            .change(Change::created(&record(&saved)));
        audit::record(&txn, Who::from(&me), event).await?;
        txn.commit().await?;
        Ok::<_, ApiError>(saved)
    }
    .await;
    let saved = match saved {
        Ok(saved) => saved,
        Err(error) => {
            if let Some(name) = &stored {
                state.storage.delete(name).await;
            }
            return Err(error);
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(detail(&db, &origin, saved).await?),
    ))
}

/// One document.
#[utoipa::path(get, path = "/api/documents/{id}/", tag = "documents", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = DocumentOut)))]
pub async fn get_document(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    origin: Origin,
    Path(id): Path<String>,
) -> ApiResult<Json<DocumentOut>> {
    let row = visible(&db, &me, &id).await?;
    Ok(Json(detail(&db, &origin, row).await?))
}

async fn update(
    db: &sea_orm::DatabaseConnection,
    me: &Me,
    origin: &Origin,
    id: &str,
    body: Result<FormBody, ApiError>,
    partial: bool,
) -> ApiResult<Json<DocumentOut>> {
    let current = modifiable(db, me, id).await?;
    let (fields, file) = read_body(body?)?;
    let mut c = Checker::partial(partial);
    for name in VERSIONED {
        let sent = fields.contains_key(*name) || (*name == "file" && file.is_some());
        if sent {
            c.error(name, IMMUTABLE);
        }
    }
    let upload = current.file.is_some();
    if upload {
        for name in ["file_size", "file_type"] {
            if fields.contains_key(name) {
                c.error(name, IMMUTABLE);
            }
        }
    }
    c.finish()?;
    let input: DocumentUpdateIn = parse(&fields)?;
    let mut c = Checker::partial(partial);
    let title = c.text("title", input.title, 255);
    let doc_type = doc_type(&mut c, input.doc_type);
    let description = c.optional_text("description", input.description, 10_000);
    let expiry = expiry_field(&mut c, input.expiry_date);
    let confidential = c.boolean("is_confidential", input.is_confidential, false);
    let tags = tags_field(&mut c, input.tags);
    let metadata = rest::metadata(&mut c, input.metadata, false);
    let (file_size, file_type) = if upload {
        (None, None)
    } else {
        let size = match input.file_size {
            Field::Absent => None,
            Field::Null => Some(None),
            Field::Value(n) if !(0..=999_999_999_999_999).contains(&n) => {
                c.error(
                    "file_size",
                    "Ensure this value is greater than or equal to 0.",
                );
                None
            }
            Field::Value(n) => Some(Some(n)),
        };
        (size, c.optional_text("file_type", input.file_type, 100))
    };
    c.finish()?;
    let txn = kernel::db::begin_write(db).await?;
    let before = locked(&txn, &current.id).await?;
    let mut row: document::ActiveModel = before.clone().into();
    macro_rules! put {
        ($($field:ident = $value:expr),* $(,)?) => {
            $(if let Some(v) = $value { row.$field = Set(v); })*
        };
    }
    put!(
        title = title,
        doc_type = doc_type,
        description = description,
        expiry_date = expiry,
        is_confidential = confidential,
        tags = tags.map(|t| tags_text(&t)),
        metadata = metadata,
        file_size = file_size,
        file_type = file_type,
    );
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&txn).await?;
    let event = Event::new("Update", MODEL, &after.id)
        .change(Change::updated(&record(&before), &record(&after)));
    audit::record(&txn, Who::from(me), event).await?;
    let out = detail(&txn, origin, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Replaces a document's editable fields (its uploader, a platform user or
/// its client's document manager).
#[utoipa::path(put, path = "/api/documents/{id}/", tag = "documents", security(("jwt" = [])),
    params(("id" = String, Path)),
    request_body(content((DocumentUpdateIn = "application/json"), (DocumentUpdateUpload = "multipart/form-data"))),
    responses((status = 200, body = DocumentOut)))]
pub async fn put_document(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    origin: Origin,
    Path(id): Path<String>,
    body: Result<FormBody, ApiError>,
) -> ApiResult<Json<DocumentOut>> {
    update(&db, &me, &origin, &id, body, false).await
}

/// Changes some of a document's editable fields.
#[utoipa::path(patch, path = "/api/documents/{id}/", tag = "documents", security(("jwt" = [])),
    params(("id" = String, Path)),
    request_body(content((DocumentUpdateIn = "application/json"), (PatchedDocumentUpdateUpload = "multipart/form-data"))),
    responses((status = 200, body = DocumentOut)))]
pub async fn patch_document(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    origin: Origin,
    Path(id): Path<String>,
    body: Result<FormBody, ApiError>,
) -> ApiResult<Json<DocumentOut>> {
    update(&db, &me, &origin, &id, body, true).await
}

/// Soft-deletes a document (its uploader, a platform user or its client's
/// document manager); its file stays for a restore.
#[utoipa::path(delete, path = "/api/documents/{id}/", tag = "documents", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_document(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let before = modifiable(&db, &me, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    rest::delete_recorded::<document::Entity>(&txn, &me, &before.id, record(&before)).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undeletes a document (platform users).
#[utoipa::path(post, path = "/api/documents/{id}/restore/", tag = "documents", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = DocumentOut)))]
pub async fn restore_document(
    Db(db): Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    origin: Origin,
    Path(id): Path<String>,
) -> ApiResult<Json<DocumentOut>> {
    let (txn, before, after) =
        rest::restore::<document::Entity>(&db, &id, Condition::all()).await?;
    let event = Event::new("Update", MODEL, &after.id).change(Change::action(
        "Restore",
        &record(&before),
        &record(&after),
    ));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = detail(&txn, &origin, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// The uploaded file, as an attachment (whoever may read the document).
#[utoipa::path(get, path = "/api/documents/{id}/download/", tag = "documents", security(("jwt" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The file, as an attachment: `Content-Type` its type, `Content-Disposition: attachment; filename=\"<original>\"`, `Cache-Control: private, no-store`.",
        content(
            (schema::FileBytes = "application/pdf"),
            (schema::FileBytes = "application/msword"),
            (schema::FileBytes = "application/vnd.ms-excel"),
            (schema::FileBytes = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            (schema::FileBytes = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (schema::FileBytes = "image/jpeg"),
            (schema::FileBytes = "image/png"),
            (schema::FileBytes = "text/csv"),
            (schema::FileBytes = "application/octet-stream"),
        ))))]
pub async fn download_document(
    State(state): State<AppState>,
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let row = visible(&db, &me, &id).await?;
    let no_file = || ApiError::not_found_msg(NO_FILE);
    let name = row.file.as_ref().ok_or_else(no_file)?;
    let bytes = state.storage.read(name).await.map_err(|_| no_file())?;
    let content_type = row
        .file_type
        .as_deref()
        .unwrap_or("application/octet-stream");
    let filename = row.filename.as_deref().unwrap_or("download");
    Ok(kernel::upload::attachment_as(bytes, content_type, filename))
}

/// Writes an action's change to `before` on `txn` and answers the detail.
async fn acted(
    txn: kernel::db::WriteTxn,
    me: &Me,
    origin: &Origin,
    before: document::Model,
    row: document::ActiveModel,
    change: &'static str,
    reason: Option<String>,
) -> ApiResult<Json<DocumentOut>> {
    let after = row.update(&txn).await?;
    let event = Event::new("Update", MODEL, &after.id)
        .change(Change::action(change, &record(&before), &record(&after)).reason(reason));
    audit::record(&txn, Who::from(me), event).await?;
    let out = detail(&txn, origin, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

fn metadata_of(row: &document::Model) -> Value {
    match &row.metadata {
        Value::Object(_) => row.metadata.clone(),
        _ => json!({}),
    }
}

/// Publishes a Draft that is the latest version and not expired
/// (`metadata.published_at`).
#[utoipa::path(post, path = "/api/documents/{id}/publish/", tag = "documents", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = DocumentOut)))]
pub async fn publish_document(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    origin: Origin,
    Path(id): Path<String>,
) -> ApiResult<Json<DocumentOut>> {
    let found = manageable(&db, &me, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = locked(&txn, &found.id).await?;
    if before.status != "Draft" {
        return Err(rest::invalid_state(format!(
            "Can only publish documents in Draft status. Current status: {}",
            before.status
        )));
    }
    if !before.is_latest {
        return Err(rest::invalid_state(
            "Can only publish the latest version of a document",
        ));
    }
    if is_expired(&before) {
        return Err(rest::invalid_state("Cannot publish expired document"));
    }
    if before.file.is_none() && before.url.is_none() {
        return Err(rest::invalid_state(
            "Cannot publish a document without a file or URL",
        ));
    }
    let now = kernel::time::now();
    let mut metadata = metadata_of(&before);
    metadata["published_at"] = json!(kernel::time::iso(now));
    metadata["published_by"] = json!(me.user.email);
    let mut row: document::ActiveModel = before.clone().into();
    row.status = Set("Published".into());
    row.metadata = Set(metadata);
    row.updated_at = Set(now);
    acted(txn, &me, &origin, before, row, "Publish", None).await
}

/// Archives a Published document (`metadata.archive_reason`, `archived_at`).
#[utoipa::path(post, path = "/api/documents/{id}/archive/", tag = "documents", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = DocumentReasonIn, responses((status = 200, body = DocumentOut)))]
pub async fn archive_document(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    origin: Origin,
    Path(id): Path<String>,
    input: Result<Json<DocumentReasonIn>, ApiError>,
) -> ApiResult<Json<DocumentOut>> {
    let found = manageable(&db, &me, &id).await?;
    let Json(input) = input?;
    let mut c = Checker::new();
    let reason = c.optional_text("reason", input.reason, 1000).flatten();
    c.finish()?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = locked(&txn, &found.id).await?;
    if before.status != "Published" {
        return Err(rest::invalid_state(format!(
            "Can only archive Published documents. Current status: {}",
            before.status
        )));
    }
    let now = kernel::time::now();
    let mut metadata = metadata_of(&before);
    metadata["archived_at"] = json!(kernel::time::iso(now));
    if let Some(reason) = &reason {
        metadata["archive_reason"] = json!(reason);
    }
    let mut row: document::ActiveModel = before.clone().into();
    row.status = Set("Archived".into());
    row.metadata = Set(metadata);
    row.updated_at = Set(now);
    acted(txn, &me, &origin, before, row, "Archive", reason).await
}

/// A new version of the latest version (a `file` and/or a `url`): version
/// + 1, Draft, latest, with the title, type, confidentiality, tags, client,
/// contract and expiry of the old one, which stops being the latest.
#[utoipa::path(post, path = "/api/documents/{id}/create-version/", tag = "documents", security(("jwt" = [])),
    params(("id" = String, Path)),
    request_body(content((VersionIn = "application/json"), (VersionUpload = "multipart/form-data"))),
    responses((status = 201, body = DocumentOut)))]
pub async fn create_document_version(
    State(state): State<AppState>,
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    origin: Origin,
    Path(id): Path<String>,
    body: Result<FormBody, ApiError>,
) -> ApiResult<(StatusCode, Json<DocumentOut>)> {
    let found = manageable(&db, &me, &id).await?;
    let (fields, file) = read_body(body?)?;
    let input: VersionIn = parse(&fields)?;
    let mut c = Checker::new();
    let upload = file_field(&mut c, &fields, file.as_ref());
    let url = url_field(&mut c, input.url);
    // Left out, the old version's description carries over.
    let description = if input.description.is_absent() {
        None
    } else {
        c.optional_text("description", input.description, 10_000)
    };
    if upload.is_none() && !c.has_error("file") && !c.has_error("url") && url == Some(None) {
        c.error(FieldErrors::NON_FIELD, NO_SOURCE);
    }
    c.finish()?;
    if !found.is_latest {
        return Err(rest::invalid_state(
            "Can only create a new version from the latest version",
        ));
    }
    let stored = match &upload {
        Some(u) => Some(store(&state, u).await?),
        None => None,
    };
    let result = async {
        let txn = kernel::db::begin_write(&db).await?;
        let old = locked(&txn, &found.id).await?;
        if !old.is_latest {
            return Err(rest::invalid_state(
                "Can only create a new version from the latest version",
            ));
        }
        let now = kernel::time::now();
        let mut retired: document::ActiveModel = old.clone().into();
        retired.is_latest = Set(false);
        retired.updated_at = Set(now);
        let retired = retired.update(&txn).await?;
        let new = document::ActiveModel {
            id: Set(kernel::cuid::new()),
            title: Set(old.title.clone()),
            description: Set(match description {
                Some(d) => d,
                None => old.description.clone(),
            }),
            doc_type: Set(old.doc_type.clone()),
            file: Set(stored.clone()),
            url: Set(url.clone().flatten()),
            file_size: Set(upload
                .as_ref()
                .map(|u| i64::try_from(u.bytes.len()).unwrap_or(i64::MAX))),
            file_type: Set(upload.as_ref().map(|u| u.mime.to_owned())),
            filename: Set(upload.as_ref().map(|u| u.filename.clone())),
            file_extension: Set(upload.as_ref().map(|u| u.extension.clone())),
            version: Set(old.version + 1),
            is_latest: Set(true),
            previous_version_id: Set(Some(old.id.clone())),
            status: Set("Draft".into()),
            expiry_date: Set(old.expiry_date),
            is_confidential: Set(old.is_confidential),
            tags: Set(old.tags.clone()),
            uploaded_by_id: Set(Some(me.id().to_owned())),
            client_id: Set(old.client_id.clone()),
            contract_id: Set(old.contract_id.clone()),
            metadata: Set(json!({})),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
        }
        .insert(&txn)
        .await?;
        let event = Event::new("Create", MODEL, &new.id)
            .status(201)
            .change(Change::created(&record(&new)))
            .also(
                MODEL,
                &old.id,
                Change::updated(&record(&old), &record(&retired)),
            );
        audit::record(&txn, Who::from(&me), event).await?;
        let out = detail(&txn, &origin, new).await?;
        txn.commit().await?;
        Ok::<_, ApiError>(out)
    }
    .await;
    match result {
        Ok(out) => Ok((StatusCode::CREATED, Json(out))),
        Err(error) => {
            if let Some(name) = &stored {
                state.storage.delete(name).await;
            }
            Err(error)
        }
    }
}

/// Every version of the document `id` belongs to (any version's id), the
/// first first.
#[utoipa::path(get, path = "/api/documents/{id}/version-history/", tag = "documents", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Vec<DocumentVersion>)))]
pub async fn document_version_history(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    origin: Origin,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<DocumentVersion>>> {
    let row = visible(&db, &me, &id).await?;
    let live =
        |id: String| document::Entity::find_by_id(id).filter(document::Column::DeletedAt.is_null());
    // Back to the first version, then forward along the chain.
    let mut root = row.clone();
    for _ in 0..1000 {
        let Some(previous) = root.previous_version_id.clone() else {
            break;
        };
        match live(previous).one(&db).await? {
            Some(p) => root = p,
            None => break,
        }
    }
    let mut chain = vec![root];
    for _ in 0..1000 {
        let Some(last) = chain.last() else { break };
        let next = document::Entity::find()
            .filter(document::Column::PreviousVersionId.eq(last.id.as_str()))
            .filter(document::Column::DeletedAt.is_null())
            .order_by_asc(document::Column::Version)
            .one(&db)
            .await?;
        match next {
            Some(n) if !chain.iter().any(|c| c.id == n.id) => chain.push(n),
            _ => break,
        }
    }
    let ids: Vec<String> = chain.iter().map(|r| r.id.clone()).collect();
    let seen: Vec<String> = document::Entity::visible(&me)
        .select_only()
        .column(document::Column::Id)
        .filter(document::Column::Id.is_in(ids))
        .into_tuple()
        .all(&db)
        .await?;
    chain.retain(|r| seen.contains(&r.id));
    let rel = related(&db, &origin, &chain).await?;
    Ok(Json(
        chain
            .iter()
            .map(|r| DocumentVersion {
                id: r.id.clone(),
                version: r.version,
                url: r.url.clone(),
                file_url: rel.file_url(r),
                status: r.status.clone(),
                is_latest: r.is_latest,
                uploaded_by_email: rel.uploader(r).map(|u| u.email.clone()),
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
            .collect(),
    ))
}

/// Where the document stands with its expiry date.
#[utoipa::path(get, path = "/api/documents/{id}/check-expiry/", tag = "documents", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = DocumentExpiry)))]
pub async fn check_document_expiry(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<DocumentExpiry>> {
    let row = visible(&db, &me, &id).await?;
    let days = row.expiry_date.map(|d| (d - today()).num_days());
    Ok(Json(DocumentExpiry {
        has_expiry: row.expiry_date.is_some(),
        is_expired: is_expired(&row),
        expiry_date: row.expiry_date,
        days_until_expiry: days,
        expires_soon: days.is_some_and(|d| 0 < d && d <= 30),
    }))
}

async fn array(
    db: &impl ConnectionTrait,
    origin: &Origin,
    query: Select<document::Entity>,
) -> ApiResult<Json<Vec<DocumentItem>>> {
    let rows = query
        .order_by_desc(document::Column::CreatedAt)
        .order_by_asc(document::Column::Id)
        .limit(rest::ARRAY_LIMIT)
        .all(db)
        .await?;
    Ok(Json(items(db, origin, rows).await?))
}

/// Documents whose expiry date falls within the next `days` (30), today
/// included.
#[utoipa::path(get, path = "/api/documents/expiring-soon/", tag = "documents", security(("jwt" = [])),
    params(("days" = Option<u64>, Query)), responses((status = 200, body = Vec<DocumentItem>)))]
pub async fn expiring_soon_documents(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    origin: Origin,
    list: List,
) -> ApiResult<Json<Vec<DocumentItem>>> {
    let days = rest::days(list.get("days"), 30)?;
    let today = today();
    let until = today
        .checked_add_signed(chrono::TimeDelta::days(days))
        .unwrap_or(NaiveDate::MAX);
    let query = scoped(&me, &selected)
        .filter(document::Column::ExpiryDate.gte(today))
        .filter(document::Column::ExpiryDate.lte(until));
    array(&db, &origin, query).await
}

/// Documents whose expiry date has passed.
#[utoipa::path(get, path = "/api/documents/expired/", tag = "documents", security(("jwt" = [])),
    responses((status = 200, body = Vec<DocumentItem>)))]
pub async fn expired_documents(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    origin: Origin,
) -> ApiResult<Json<Vec<DocumentItem>>> {
    let query = scoped(&me, &selected).filter(document::Column::ExpiryDate.lt(today()));
    array(&db, &origin, query).await
}

/// Published documents.
#[utoipa::path(get, path = "/api/documents/published/", tag = "documents", security(("jwt" = [])),
    responses((status = 200, body = Vec<DocumentItem>)))]
pub async fn published_documents(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    origin: Origin,
) -> ApiResult<Json<Vec<DocumentItem>>> {
    let query = scoped(&me, &selected).filter(document::Column::Status.eq("Published"));
    array(&db, &origin, query).await
}

/// The latest version of every document.
#[utoipa::path(get, path = "/api/documents/latest-versions/", tag = "documents", security(("jwt" = [])),
    responses((status = 200, body = Vec<DocumentItem>)))]
pub async fn latest_document_versions(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    origin: Origin,
) -> ApiResult<Json<Vec<DocumentItem>>> {
    let query = scoped(&me, &selected).filter(document::Column::IsLatest.eq(true));
    array(&db, &origin, query).await
}

/// Confidential documents: every one for platform users, their own for
/// anyone else.
#[utoipa::path(get, path = "/api/documents/confidential/", tag = "documents", security(("jwt" = [])),
    responses((status = 200, body = Vec<DocumentItem>)))]
pub async fn confidential_documents(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    origin: Origin,
) -> ApiResult<Json<Vec<DocumentItem>>> {
    let query = scoped(&me, &selected).filter(document::Column::IsConfidential.eq(true));
    array(&db, &origin, query).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, bytes: &[u8]) -> UploadedFile {
        UploadedFile {
            filename: name.into(),
            bytes: axum::body::Bytes::copy_from_slice(bytes),
        }
    }

    #[test]
    fn types_come_from_extension_and_content_together() {
        let ok = |name: &str, bytes: &[u8]| check_file(&file(name, bytes)).map(|u| u.mime);
        assert_eq!(ok("a.pdf", b"%PDF-1.7\n"), Ok("application/pdf"));
        assert_eq!(ok("A.PNG", b"\x89PNG\r\n\x1a\n..."), Ok("image/png"));
        assert_eq!(ok("a.jpeg", &[0xFF, 0xD8, 0xFF, 0xE0]), Ok("image/jpeg"));
        assert_eq!(ok("a.csv", b"a,b\n1,2\n"), Ok("text/csv"));
        assert_eq!(
            ok(
                "a.xls",
                &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0]
            ),
            Ok("application/vnd.ms-excel")
        );
        assert!(ok("a.docx", b"PK\x03\x04....word/document.xml").is_ok());
        assert!(ok("a.xlsx", b"PK\x03\x04....word/document.xml").is_err());
        assert!(ok("a.pdf", b"MZ\x90\x00").is_err());
        assert!(ok("a.exe", b"%PDF-1.7").is_err());
        assert!(ok("a.csv", b"MZ\x90\x00\x03").is_err());
        assert!(ok("noext", b"%PDF-").is_err());
        assert_eq!(ok("a.pdf", b""), Err("The submitted file is empty.".into()));
    }

    #[test]
    fn urls_are_http_addresses() {
        assert!(is_url("https://files.example/a.pdf"));
        assert!(is_url("HTTP://x"));
        assert!(!is_url("ftp://x/a"));
        assert!(!is_url("https://"));
        assert!(!is_url("javascript:alert(1)"));
    }
}
