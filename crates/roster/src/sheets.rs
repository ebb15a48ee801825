//! Spreadsheets in and out: the uploaded tables of bulk registration
//! (contract §1, users and courses) and the CSV/XLSX downloads of templates,
//! the timetable export and reports (§4, §7).
//!
//! Reading: an `.xlsx` workbook (told by its content, never its name; the
//! first sheet) or a UTF-8 CSV file becomes header-keyed [`Row`]s. Headers
//! are case-insensitive, trimmed, in any order; rows are numbered as the
//! user sees them (the header is row 1); blank rows are skipped. Problems
//! with the file itself are field errors on `file`.
//!
//! Writing: [`Sheet`]s of [`Cell`]s to RFC 4180 CSV or to an XLSX workbook
//! (bold header row, numbers as numbers), served by [`download`].
//!
//! Bulk uploads share their edges here: the template download
//! ([`TemplateQuery`], [`template`]), `?dry_run=` ([`UploadQuery`]) and the
//! per-row reports ([`Report`]).

use std::collections::HashMap;
use std::io::Cursor;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use calamine::{Data, Reader};
use kernel::upload::UploadedFile;
use kernel::{ApiError, FieldErrors, Json};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::IntoParams;
use uuid::Uuid;

/// The largest file accepted (5 MB).
pub(crate) const MAX_BYTES: usize = 5 * 1024 * 1024;
/// The most data rows accepted (header not counted).
pub(crate) const MAX_ROWS: usize = 5_000;
/// The multipart field an upload comes in.
pub(crate) const FILE_FIELD: &str = "file";

/// One data row of an uploaded table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// The row's number as the user sees it in the file (header = 1).
    pub number: usize,
    cells: HashMap<String, String>,
}

impl Row {
    /// The trimmed value under `header` (lower case), `None` when the column
    /// is missing or the cell is blank.
    pub fn get(&self, header: &str) -> Option<&str> {
        self.cells
            .get(header)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// An uploaded table: its normalised headers in file order and its rows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Row>,
}

impl Table {
    /// Refuses (on `file`) a table lacking any of `required` headers.
    pub fn require(&self, required: &[&str]) -> Result<(), ApiError> {
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|h| !self.headers.iter().any(|have| have == h))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(file_error(format!(
                "The file is missing the column(s): {}.",
                missing.join(", ")
            )))
        }
    }
}

/// A field error on `file`.
pub(crate) fn file_error(message: impl Into<String>) -> ApiError {
    ApiError::field(FILE_FIELD, message)
}

/// Reads the `file` upload of a multipart body: missing, empty, too large,
/// not a spreadsheet, no header, no data rows or too many rows are 400s on
/// `file`.
pub(crate) fn read_upload(file: Option<&UploadedFile>) -> Result<Table, ApiError> {
    let file = file.ok_or_else(|| file_error("No file was submitted."))?;
    read(&file.bytes).map_err(file_error)
}

/// Reads a table from the bytes of an XLSX workbook or a UTF-8 CSV file.
pub(crate) fn read(bytes: &[u8]) -> Result<Table, String> {
    if bytes.is_empty() {
        return Err("The submitted file is empty.".into());
    }
    if bytes.len() > MAX_BYTES {
        return Err(format!(
            "File size must not exceed {} MB.",
            MAX_BYTES / (1024 * 1024)
        ));
    }
    let grid = if bytes.starts_with(b"PK\x03\x04") {
        xlsx_grid(bytes)?
    } else {
        csv_grid(bytes)?
    };
    table(grid)
}

const NOT_A_TABLE: &str = "Upload an .xlsx workbook or a UTF-8 .csv file.";

/// The first sheet of a workbook, as (row number, cell texts).
fn xlsx_grid(bytes: &[u8]) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut book = calamine::Xlsx::new(Cursor::new(bytes)).map_err(|_| NOT_A_TABLE.to_owned())?;
    let range = match book.worksheet_range_at(0) {
        Some(Ok(range)) => range,
        Some(Err(_)) => return Err(NOT_A_TABLE.into()),
        None => return Err("The workbook has no sheet.".into()),
    };
    let first = range.start().map_or(0, |(row, _)| row as usize);
    let offset = range.start().map_or(0, |(_, col)| col as usize);
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, cells)| {
            let mut texts = vec![String::new(); offset];
            texts.extend(cells.iter().map(cell_text));
            (first + i + 1, texts)
        })
        .collect())
}

/// A cell as text: whole numbers without `.0` (phone and id numbers typed
/// as numbers), dates as `YYYY-MM-DD`.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number_text(*f),
        Data::Bool(b) => if *b { "true" } else { "false" }.to_owned(),
        Data::DateTime(dt) if dt.is_datetime() => {
            let (y, m, d, ..) = dt.to_ymd_hms_milli();
            format!("{y:04}-{m:02}-{d:02}")
        }
        Data::DateTime(dt) => number_text(dt.as_f64()),
    }
}

fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else {
        f.to_string()
    }
}

/// A UTF-8 CSV file (a byte-order mark is allowed), as (row number, cells).
fn csv_grid(bytes: &[u8]) -> Result<Vec<(usize, Vec<String>)>, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.contains(&0) || std::str::from_utf8(bytes).is_err() {
        return Err(NOT_A_TABLE.into());
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut grid = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let before = usize::try_from(reader.position().byte()).unwrap_or(0);
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(_) => {
                let line = line_at(bytes, before);
                return Err(format!("The CSV file is malformed near line {line}."));
            }
        }
        let start = record
            .position()
            .and_then(|p| usize::try_from(p.byte()).ok())
            .unwrap_or(before);
        grid.push((
            line_at(bytes, start),
            record.iter().map(str::to_owned).collect(),
        ));
    }
    Ok(grid)
}

/// The 1-based line of the first character at or after `offset` that is
/// not a line end (where a record starting at `offset` really begins).
fn line_at(bytes: &[u8], offset: usize) -> usize {
    let offset = offset.min(bytes.len());
    let start = bytes[offset..]
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .map_or(bytes.len(), |skip| offset + skip);
    1 + bytes[..start].iter().filter(|b| **b == b'\n').count()
}

/// `First Name` → `first_name`.
fn header_key(raw: &str) -> String {
    raw.trim()
        .to_lowercase()
        .split(|c: char| c.is_whitespace() || c == '-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

fn is_blank(cells: &[String]) -> bool {
    cells.iter().all(|c| c.trim().is_empty())
}

/// The first non-blank row is the header; the rest are data.
fn table(grid: Vec<(usize, Vec<String>)>) -> Result<Table, String> {
    let mut rows = grid.into_iter().filter(|(_, cells)| !is_blank(cells));
    let (_, header) = rows
        .next()
        .ok_or_else(|| "The file has no header row.".to_owned())?;
    let headers: Vec<String> = header.iter().map(|h| header_key(h)).collect();
    let mut seen = std::collections::BTreeSet::new();
    for h in headers.iter().filter(|h| !h.is_empty()) {
        if !seen.insert(h.as_str()) {
            return Err(format!("The column \"{h}\" appears more than once."));
        }
    }
    let mut out = Vec::new();
    for (number, cells) in rows {
        if out.len() == MAX_ROWS {
            return Err(format!("The file has more than {MAX_ROWS} rows."));
        }
        let cells = headers
            .iter()
            .zip(cells)
            .filter(|(h, _)| !h.is_empty())
            .map(|(h, v)| (h.clone(), v))
            .collect();
        out.push(Row { number, cells });
    }
    if out.is_empty() {
        return Err("The file has no data rows.".into());
    }
    Ok(Table {
        headers: headers.into_iter().filter(|h| !h.is_empty()).collect(),
        rows: out,
    })
}

/// One cell to write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Text(String),
    Number(f64),
    Empty,
}

impl From<&str> for Cell {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

impl From<String> for Cell {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<f64> for Cell {
    fn from(v: f64) -> Self {
        Self::Number(v)
    }
}

impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        #[allow(clippy::cast_precision_loss)]
        Self::Number(v as f64)
    }
}

impl From<i32> for Cell {
    fn from(v: i32) -> Self {
        Self::Number(f64::from(v))
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Empty, Into::into)
    }
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Number(n) => number_text(*n),
            Self::Empty => String::new(),
        }
    }
}

/// One sheet to write: a header row and data rows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sheet {
    /// The XLSX sheet's name (at most 31 characters); unused in CSV.
    pub name: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Sheet {
    pub fn new(name: &str, header: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn push(&mut self, row: Vec<Cell>) -> &mut Self {
        self.rows.push(row);
        self
    }
}

/// The download formats of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// `csv` or `xlsx` (any case); anything else is `None`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "xlsx" => Some(Self::Xlsx),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// The first sheet as RFC 4180 CSV (CRLF line ends, quoted where needed).
pub(crate) fn csv(sheet: &Sheet) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .from_writer(Vec::new());
    // Writing into memory cannot fail.
    let _ = writer.write_record(&sheet.header);
    for row in &sheet.rows {
        let _ = writer.write_record(row.iter().map(Cell::text));
    }
    writer.into_inner().unwrap_or_default()
}

/// The sheets as one XLSX workbook: a bold, frozen header row, numbers as
/// numbers, columns fitted to their content.
pub(crate) fn xlsx(sheets: &[Sheet]) -> Result<Vec<u8>, ApiError> {
    use rust_xlsxwriter::{Format as Style, Workbook};
    let bold = Style::new().set_bold();
    let mut book = Workbook::new();
    for sheet in sheets {
        let ws = book.add_worksheet();
        let name: String = sheet
            .name
            .chars()
            .filter(|c| !"[]:*?/\\".contains(*c))
            .take(31)
            .collect();
        if !name.is_empty() {
            ws.set_name(name).map_err(ApiError::internal)?;
        }
        for (col, title) in (0u16..).zip(&sheet.header) {
            ws.write_string_with_format(0, col, title, &bold)
                .map_err(ApiError::internal)?;
        }
        for (row, cells) in (1u32..).zip(&sheet.rows) {
            for (col, cell) in (0u16..).zip(cells) {
                match cell {
                    Cell::Text(s) => {
                        ws.write_string(row, col, fit(s))
                            .map_err(ApiError::internal)?;
                    }
                    Cell::Number(n) if n.is_finite() => {
                        ws.write_number(row, col, *n).map_err(ApiError::internal)?;
                    }
                    Cell::Number(_) | Cell::Empty => {}
                }
            }
        }
        if !sheet.header.is_empty() {
            ws.set_freeze_panes(1, 0).map_err(ApiError::internal)?;
        }
        ws.autofit();
    }
    if sheets.is_empty() {
        book.add_worksheet();
    }
    book.save_to_buffer().map_err(ApiError::internal)
}

/// The sheets as an attachment `<stem>.<ext>`: CSV carries the first sheet
/// only, XLSX all of them.
pub(crate) fn download(format: Format, sheets: &[Sheet], stem: &str) -> Result<Response, ApiError> {
    let bytes = match format {
        Format::Csv => sheets.first().map(csv).unwrap_or_default(),
        Format::Xlsx => xlsx(sheets)?,
    };
    let filename = format!("{stem}.{}", format.extension());
    Ok(kernel::upload::attachment_as(
        bytes,
        format.content_type(),
        &filename,
    ))
}

kernel::choices!(
    /// A template's file format.
    pub TemplateFormat = &["xlsx", "csv"]
);

/// `?format=` of a template download.
#[derive(Debug, Deserialize, IntoParams)]
pub struct TemplateQuery {
    /// `xlsx` (default) or `csv`.
    #[serde(default)]
    #[param(value_type = Option<TemplateFormat>, inline)]
    pub format: Option<String>,
}

impl TemplateQuery {
    /// XLSX when absent; anything but `csv`/`xlsx` is a 400 on `format`.
    pub fn format(&self) -> Result<Format, ApiError> {
        match self.format.as_deref() {
            None => Ok(Format::Xlsx),
            Some(raw) => Format::parse(raw).ok_or_else(|| {
                ApiError::field("format", format!("\"{raw}\" is not a valid choice."))
            }),
        }
    }
}

/// A bulk upload's template `<stem>.<ext>`: an empty sheet `name` with the
/// `columns` and, in XLSX, an instructions sheet of `help` rows (column,
/// required, description).
pub(crate) fn template(
    query: &TemplateQuery,
    name: &str,
    columns: &[&str],
    help: &[(&str, &str, &str)],
    stem: &str,
) -> Result<Response, ApiError> {
    let format = query.format()?;
    let mut instructions = Sheet::new("Instructions", &["column", "required", "description"]);
    for (column, required, about) in help {
        instructions.push(vec![
            Cell::from(*column),
            Cell::from(*required),
            Cell::from(*about),
        ]);
    }
    download(format, &[Sheet::new(name, columns), instructions], stem)
}

kernel::choices!(
    /// `?dry_run=`: `true` or `1` validates only (any case).
    pub DryRun = &["true", "false", "1", "0"]
);

/// `?dry_run=` of a bulk upload.
#[derive(Debug, Deserialize, IntoParams)]
pub struct UploadQuery {
    /// `true`: validate only, write nothing.
    #[serde(default)]
    #[param(value_type = Option<DryRun>, inline)]
    pub dry_run: Option<String>,
}

/// A bulk upload's `multipart/form-data` body.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code, reason = "documents the multipart body")]
pub struct SheetUpload {
    /// The `.xlsx` workbook or UTF-8 `.csv` file (at most 5 MB, 5 000 rows,
    /// columns as the template's).
    #[schema(schema_with = file_schema, required = true)]
    file: Vec<u8>,
}

/// OpenAPI: a file part.
pub(crate) fn file_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
        .into()
}

impl UploadQuery {
    /// Whether to validate only (`true`/`1`; `false`/`0` or absent: no);
    /// anything else is a 400 on `dry_run`.
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.dry_run.as_deref().map(str::to_lowercase).as_deref() {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(_) => Err(ApiError::field("dry_run", "Must be a valid boolean.")),
        }
    }
}

/// The per-row answers of an all-or-nothing bulk upload whose rows are
/// named by their `key` column and create `noun`s.
pub(crate) struct Report {
    pub key: &'static str,
    pub noun: &'static str,
}

impl Report {
    /// 400 `{"detail":"2 rows have errors; no user was created.","rows":
    /// [{row, <key>, status:"error", errors}]}`, rows in file order, each
    /// named by its cell as uploaded.
    pub fn errors(&self, table: &Table, mut bad: Vec<(usize, FieldErrors)>) -> ApiError {
        bad.sort_by_key(|(n, _)| *n);
        let count = bad.len();
        let rows: Vec<Value> = bad
            .into_iter()
            .map(|(number, errors)| {
                let name = table
                    .rows
                    .iter()
                    .find(|r| r.number == number)
                    .and_then(|r| r.get(self.key))
                    .unwrap_or_default();
                let mut row = self.row(number, name, "error");
                row.insert("errors".into(), errors.to_json());
                Value::Object(row)
            })
            .collect();
        let mut fields = Map::new();
        fields.insert("rows".into(), Value::Array(rows));
        let noun = self.noun;
        ApiError::Detailed {
            status: StatusCode::BAD_REQUEST,
            detail: if count == 1 {
                format!("1 row has errors; no {noun} was created.").into()
            } else {
                format!("{count} rows have errors; no {noun} was created.").into()
            },
            code: "invalid_rows",
            fields,
        }
    }

    /// A dry run's 200 `{created: 0, dry_run: true, valid, rows: [{row,
    /// <key>, status: "valid"}]}`.
    pub fn valid(&self, rows: impl IntoIterator<Item = (usize, String)>) -> Response {
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|(number, name)| Value::Object(self.row(number, &name, "valid")))
            .collect();
        Json(json!({"created": 0, "dry_run": true, "valid": rows.len(), "rows": rows}))
            .into_response()
    }

    /// 201 `{created, rows: [{row, <key>, status: "created", id}]}`.
    pub fn created(&self, rows: impl IntoIterator<Item = (usize, String, Uuid)>) -> Response {
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|(number, name, id)| {
                let mut row = self.row(number, &name, "created");
                row.insert("id".into(), json!(id));
                Value::Object(row)
            })
            .collect();
        (
            StatusCode::CREATED,
            Json(json!({"created": rows.len(), "rows": rows})),
        )
            .into_response()
    }

    fn row(&self, number: usize, name: &str, status: &str) -> Map<String, Value> {
        let mut row = Map::new();
        row.insert("row".into(), json!(number));
        row.insert(self.key.into(), json!(name));
        row.insert("status".into(), json!(status));
        row
    }
}

/// The most characters one XLSX cell holds.
pub const XLSX_CELL_MAX: usize = 32_767;

/// `text` cut to what one XLSX cell holds (longer text is an error in
/// `rust_xlsxwriter`, never a reason to fail a download).
pub fn fit(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(XLSX_CELL_MAX) {
        Some((at, _)) => std::borrow::Cow::Owned(text[..at].to_owned()),
        None => std::borrow::Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_keyed_by_normalised_headers() {
        let table =
            read(b"\xEF\xBB\xBFEmail , First Name\r\na@x.org,Ann\r\n,\r\n\"b@x.org\",\"B, b\"\r\n")
                .expect("table");
        assert_eq!(table.headers, ["email", "first_name"]);
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.rows[0].number, 2);
        assert_eq!(table.rows[1].number, 4);
        assert_eq!(table.rows[1].get("first_name"), Some("B, b"));
        assert_eq!(table.rows[1].get("phone"), None);
    }

    #[test]
    fn xlsx_round_trips() {
        let mut sheet = Sheet::new("Users", &["Email", "Phone", "Hours"]);
        sheet.push(vec![
            "a@x.org".into(),
            Cell::from(712_345_678_i64),
            2.5.into(),
        ]);
        let bytes = xlsx(&[sheet, Sheet::new("Instructions", &["Column"])]).expect("xlsx");
        let table = read(&bytes).expect("table");
        assert_eq!(table.headers, ["email", "phone", "hours"]);
        assert_eq!(table.rows[0].number, 2);
        assert_eq!(table.rows[0].get("phone"), Some("712345678"));
        assert_eq!(table.rows[0].get("hours"), Some("2.5"));
    }

    #[test]
    fn bad_files_are_refused() {
        assert!(read(b"").is_err());
        assert!(read(b"%PDF-1.4 \x00\x01").is_err());
        assert!(read(b"PK\x03\x04garbage").is_err());
        assert!(read(b"email\n").is_err());
        assert!(read(b"a,a\n1,2\n").is_err());
        let many = format!("email\n{}", "x\n".repeat(MAX_ROWS + 1));
        assert!(read(many.as_bytes()).is_err());
    }

    #[test]
    fn csv_quotes_per_rfc_4180() {
        let mut sheet = Sheet::new("R", &["a", "b"]);
        sheet.push(vec!["x,\"y\"".into(), 3.into()]);
        assert_eq!(csv(&sheet), b"a,b\r\n\"x,\"\"y\"\"\",3\r\n");
    }
}
