//! A report as a file (contract §7, export): JSON, RFC 4180 CSV (header =
//! `columns`, one line per row), XLSX (sheet "Report" with rates as
//! numbers, sheet "Summary") or a landscape PDF (title, school name and
//! logo, filters, summary table, rows table with its header repeated on
//! every page, page numbers, generated time), named
//! `<kind>-attendance-<YYYY-MM-DD>.<ext>`.

use axum::response::{IntoResponse, Response};
use kernel::ApiError;
use kernel::pdf::{self, Column, Document};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::Value;

use super::build::{Report, SUMMARY_ORDER};
use crate::entities::school;
use crate::sheets::{self, Cell, Sheet};
use crate::state::AppState;

/// A report's file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
    Pdf,
}

kernel::choices!(
    /// A report's file formats, as `?format=` (or `?export=`) names them.
    pub ReportFormat = &["json", "csv", "xlsx", "pdf"]
);

impl Format {
    pub const CHOICES: &'static [&'static str] = &["json", "csv", "xlsx", "pdf"];

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "csv" => Some(Self::Csv),
            "xlsx" => Some(Self::Xlsx),
            "pdf" => Some(Self::Pdf),
            _ => None,
        }
    }

    /// `?format=` (or its alias `?export=`); `default` when neither is
    /// given; anything else is a 400 on the parameter.
    pub fn of_query(
        format: Option<&str>,
        export: Option<&str>,
        default: Option<Self>,
    ) -> Result<Option<Self>, ApiError> {
        let given = [("format", format), ("export", export)]
            .into_iter()
            .find_map(|(name, raw)| raw.filter(|r| !r.trim().is_empty()).map(|r| (name, r)));
        match given {
            None => Ok(default),
            Some((name, raw)) => Self::parse(raw).map(Some).ok_or_else(|| {
                ApiError::field(
                    name,
                    format!(
                        "\"{raw}\" is not a valid choice. Choose one of: json, csv, xlsx, pdf."
                    ),
                )
            }),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
            Self::Pdf => "pdf",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Self::Pdf => "application/pdf",
        }
    }
}

/// A rendered report file.
#[derive(Debug, Clone)]
pub struct File {
    pub filename: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

impl File {
    pub fn into_response(self) -> Response {
        kernel::upload::attachment_as(self.bytes, self.content_type, &self.filename)
    }
}

/// What the PDF heads its first page with: the school's name and logo.
#[derive(Debug, Clone, Default)]
pub struct Letterhead {
    pub school: Option<String>,
    pub logo: Option<pdf::Image>,
}

impl Letterhead {
    /// The school's name, and its logo when it has one that decodes as a
    /// PNG or JPEG image (anything else is left out).
    pub async fn of(state: &AppState, db: &impl ConnectionTrait) -> Result<Self, ApiError> {
        let Some(school) = school::Entity::find().one(db).await? else {
            return Ok(Self::default());
        };
        let logo = match &school.logo {
            Some(name) => match state.storage.read(name).await {
                Ok(bytes) => tokio::task::spawn_blocking(move || logo_image(&bytes))
                    .await
                    .ok()
                    .flatten(),
                Err(_) => None,
            },
            None => None,
        };
        Ok(Self {
            school: Some(school.name),
            logo,
        })
    }
}

/// A PNG or JPEG file as a logo at most 300 px a side, alpha kept.
fn logo_image(bytes: &[u8]) -> Option<pdf::Image> {
    let format = image::guess_format(bytes).ok()?;
    if !matches!(format, image::ImageFormat::Png | image::ImageFormat::Jpeg) {
        return None;
    }
    let decoded = image::load_from_memory_with_format(bytes, format).ok()?;
    let small = if decoded.width() > 300 || decoded.height() > 300 {
        decoded.thumbnail(300, 300)
    } else {
        decoded
    };
    let rgba = small.to_rgba8();
    let (width, height) = rgba.dimensions();
    let mut rgb = Vec::with_capacity(rgba.len() / 4 * 3);
    let mut alpha = Vec::with_capacity(rgba.len() / 4);
    for px in rgba.pixels() {
        rgb.extend_from_slice(&px.0[..3]);
        alpha.push(px.0[3]);
    }
    let image = pdf::Image::rgb(width, height, rgb)?;
    if alpha.iter().all(|a| *a == 255) {
        Some(image)
    } else {
        image.with_alpha(alpha)
    }
}

/// `report` as a `format` file named for `date` (school time).
pub fn render(
    report: &Report,
    format: Format,
    letterhead: &Letterhead,
    tz: chrono_tz::Tz,
) -> Result<File, ApiError> {
    let slug = report.kind().map_or("report", |k| k.slug());
    let date = report.generated_at.with_timezone(&tz).date_naive();
    let filename = format!("{slug}-attendance-{date}.{}", format.extension());
    let bytes = match format {
        Format::Json => serde_json::to_vec_pretty(report).map_err(ApiError::internal)?,
        Format::Csv => sheets::csv(&rows_sheet(report)),
        Format::Xlsx => sheets::xlsx(&[rows_sheet(report), summary_sheet(report)])?,
        Format::Pdf => pdf_of(report, letterhead, tz),
    };
    Ok(File {
        filename,
        content_type: format.content_type(),
        bytes,
    })
}

fn cell(value: Option<&Value>) -> Cell {
    match value {
        None | Some(Value::Null) => Cell::Empty,
        Some(Value::Number(n)) => n.as_f64().map_or(Cell::Empty, Cell::Number),
        Some(Value::String(s)) => Cell::Text(s.clone()),
        Some(Value::Bool(b)) => Cell::Text(b.to_string()),
        Some(other) => Cell::Text(other.to_string()),
    }
}

fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn rows_sheet(report: &Report) -> Sheet {
    let columns: Vec<&str> = report.columns.iter().map(String::as_str).collect();
    let mut sheet = Sheet::new("Report", &columns);
    for row in &report.rows {
        sheet.push(columns.iter().map(|c| cell(row.get(*c))).collect());
    }
    sheet
}

/// The summary figures in print order (known ones first).
fn summary_pairs(report: &Report) -> Vec<(&str, &Value)> {
    let mut pairs: Vec<(&str, &Value)> = SUMMARY_ORDER
        .iter()
        .filter_map(|k| report.summary.get(*k).map(|v| (*k, v)))
        .collect();
    for (k, v) in &report.summary {
        if !SUMMARY_ORDER.contains(&k.as_str()) {
            pairs.push((k.as_str(), v));
        }
    }
    pairs
}

fn summary_sheet(report: &Report) -> Sheet {
    let mut sheet = Sheet::new("Summary", &["metric", "value"]);
    for (k, v) in summary_pairs(report) {
        sheet.push(vec![Cell::from(k), cell(Some(v))]);
    }
    sheet
}

/// `attendance_rate` → `Attendance rate`.
fn label(key: &str) -> String {
    let spaced = key.replace('_', " ");
    let mut chars = spaced.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

const NUMERIC: [&str; 17] = [
    "sessions",
    "sessions_held",
    "present",
    "late",
    "absent",
    "excused",
    "attendance_rate",
    "punctuality_rate",
    "feedback_overall_avg",
    "on_time_start_rate",
    "missed_sessions",
    "start_delay_minutes",
    "duration_minutes",
    "trainees",
    "weekly_hours",
    "max_weekly_hours",
    "sessions_scheduled",
];

fn pdf_of(report: &Report, letterhead: &Letterhead, tz: chrono_tz::Tz) -> Vec<u8> {
    let kind = report.kind();
    let mut title = kind.map_or("Attendance report", |k| k.title()).to_owned();
    if let Some(subject) = report.filters.get("subject").and_then(Value::as_str) {
        title = format!("{title}: {subject}");
    }
    let mut doc = Document::landscape(title);
    if let Some(logo) = &letterhead.logo {
        doc = doc.logo(logo.clone());
    }
    if let Some(school) = &letterhead.school {
        doc = doc.line(school.clone());
    }
    let filters: Vec<String> = report
        .filters
        .as_object()
        .map(|map| {
            map.iter()
                .filter(|(k, _)| k.as_str() != "subject")
                .map(|(k, v)| format!("{}: {}", label(k), text(Some(v))))
                .collect()
        })
        .unwrap_or_default();
    doc = doc.line(if filters.is_empty() {
        "Filters: none".to_owned()
    } else {
        format!("Filters: {}", filters.join(", "))
    });
    let mut summary = pdf::Table::new(vec![
        Column::new("Figure", 2.0),
        Column::new("Value", 1.0).right(),
    ]);
    for (k, v) in summary_pairs(report) {
        summary.row([label(k), text(Some(v))]);
    }
    doc = doc.heading("Summary").table(summary);
    let columns: Vec<Column> = report
        .columns
        .iter()
        .map(|c| {
            let column = Column::new(
                label(c),
                if NUMERIC.contains(&c.as_str()) {
                    1.0
                } else {
                    1.8
                },
            );
            if NUMERIC.contains(&c.as_str()) {
                column.right()
            } else {
                column
            }
        })
        .collect();
    let mut rows = pdf::Table::new(columns);
    for row in &report.rows {
        rows.row(report.columns.iter().map(|c| pdf_cell(c, row.get(c), tz)));
    }
    doc = doc.heading("Details").table(rows);
    if let Some(sessions) = &report.sessions {
        let mut table = pdf::Table::new(vec![
            Column::new("Date", 1.0),
            Column::new("Course code", 1.0),
            Column::new("Status", 1.0),
            Column::new("Checked in at", 1.5),
        ]);
        for s in sessions {
            table.row([
                text(s.get("date")),
                text(s.get("course_code")),
                text(s.get("status")),
                pdf_cell("checked_in_at", s.get("checked_in_at"), tz),
            ]);
        }
        doc = doc.heading("Sessions").table(table);
    }
    let generated = report
        .generated_at
        .with_timezone(&tz)
        .format("Generated %Y-%m-%d %H:%M %Z")
        .to_string();
    doc.render(&generated)
}

/// A cell of the PDF: instants in school time.
fn pdf_cell(column: &str, value: Option<&Value>, tz: chrono_tz::Tz) -> String {
    let raw = text(value);
    if matches!(
        column,
        "scheduled_start" | "started_at" | "ended_at" | "checked_in_at"
    ) && let Ok(at) = chrono::DateTime::parse_from_rfc3339(&raw)
    {
        return at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    }
    raw
}

/// The JSON answer or the file `format` asks for.
pub fn respond(
    report: Report,
    format: Option<Format>,
    letterhead: &Letterhead,
    tz: chrono_tz::Tz,
) -> Result<Response, ApiError> {
    match format {
        None => Ok(kernel::Json(report).into_response()),
        Some(format) => Ok(render(&report, format, letterhead, tz)?.into_response()),
    }
}
