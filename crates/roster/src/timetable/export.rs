//! The weekly grid export (contract §4): `GET /api/timetable/export/?term&
//! (class_group|trainer|room)&format=pdf|xlsx|csv` — one class group's,
//! trainer's or room's week as a time × weekday grid.
//!
//! Rows are the school day cut at every hour from `day_start`, at every
//! break and at every session's start and end, so each session fills whole
//! rows; a session spanning several rows is written in full in its first
//! and marked "(cont.)" below (merged into one cell in XLSX). Who may
//! export what follows the read scope: a trainee their class groups, a
//! trainer their own week and their class groups, a HOD their department,
//! the academic leads everything; trainees and trainers see published
//! entries only, and `draft_version=` lets the leads and HODs review a
//! generated version before publishing it.

use std::collections::BTreeSet;

use axum::response::Response;
use kernel::extract::Query;
use kernel::pdf::{self, Cell, Column, Document};
use kernel::{ApiError, Current, Db};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::schedule::{readable_groups, term_of};
use super::{EntryOut, read_scope, weekday_order};
use crate::access::{self, Me, Role, forbidden, headed_department};
use crate::entities::{class_group, enrollment, room, school, term, timetable_entry, user};
use crate::rest::{self, clock, weekday_title};
use crate::sheets::{self, Sheet};
use crate::state::AppState;
use crate::timetable_settings::{self, Grid};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export))
}

/// The grid's file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Pdf,
    Xlsx,
    Csv,
}

impl Format {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        match raw.map(|r| r.trim().to_ascii_lowercase()).as_deref() {
            None | Some("" | "pdf") => Ok(Self::Pdf),
            Some("xlsx") => Ok(Self::Xlsx),
            Some("csv") => Ok(Self::Csv),
            Some(_) => Err(ApiError::field("format", "Choose one of: pdf, xlsx, csv.")),
        }
    }
}

kernel::choices!(
    /// The grid's file formats, as `?format=` names them.
    pub ExportFormat = &["pdf", "xlsx", "csv"]
);

/// `?term&class_group|trainer|room&format&draft_version`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// The term (default: the term containing today, else the latest).
    #[param(value_type = Option<Uuid>)]
    pub term: Option<String>,
    /// Whose week: exactly one of `class_group`, `trainer` and `room`.
    #[param(value_type = Option<Uuid>)]
    pub class_group: Option<String>,
    #[param(value_type = Option<Uuid>)]
    pub trainer: Option<String>,
    #[param(value_type = Option<Uuid>)]
    pub room: Option<String>,
    /// `pdf` (default), `xlsx` or `csv`.
    #[param(value_type = Option<ExportFormat>, inline)]
    pub format: Option<String>,
    /// A generated version to review instead of the published timetable
    /// (administrators, deputy principals, HODs).
    pub draft_version: Option<String>,
}

/// Whose week is exported.
enum Subject {
    ClassGroup(class_group::Model),
    Trainer(user::Model),
    Room(room::Model),
}

impl Subject {
    fn name(&self) -> String {
        match self {
            Self::ClassGroup(g) => g.name.clone(),
            Self::Trainer(u) => u.full_name(),
            Self::Room(r) => r.name.clone(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::ClassGroup(_) => "Class group",
            Self::Trainer(_) => "Trainer",
            Self::Room(_) => "Room",
        }
    }

    /// What a session shows in this subject's grid: what the subject is
    /// not (a class group's grid names trainer and room, …).
    fn label(&self, e: &EntryOut) -> String {
        let mut lines = vec![format!("{} {}", e.course_code, e.course_name)];
        let room = match &e.room_building {
            Some(b) if !b.is_empty() => format!("{} ({b})", e.room_name),
            _ => e.room_name.clone(),
        };
        lines.push(match self {
            Self::ClassGroup(_) => format!("{room} · {}", e.trainer_name),
            Self::Trainer(_) => format!("{} · {room}", e.class_group_name),
            Self::Room(_) => format!("{} · {}", e.class_group_name, e.trainer_name),
        });
        let mut note = e.session_type.clone();
        if let (false, Some(date)) = (e.is_recurring, e.specific_date) {
            note = format!("{note}, on {date} only");
        }
        if e.is_makeup {
            note = format!("{note}, makeup");
        }
        lines.push(format!("({note})"));
        lines.join("\n")
    }
}

/// Reads one `?class_group=`-style id: unknown, malformed and out-of-scope
/// ids are all "does not exist".
fn subject_id(field: &str, raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim()).map_err(|_| ApiError::field(field, rest::invalid_pk(raw)))
}

async fn subject_of(
    db: &impl ConnectionTrait,
    me: &user::Model,
    params: &ExportParams,
) -> Result<Subject, ApiError> {
    let given: Vec<(&str, &str)> = [
        ("class_group", params.class_group.as_deref()),
        ("trainer", params.trainer.as_deref()),
        ("room", params.room.as_deref()),
    ]
    .into_iter()
    .filter_map(|(field, raw)| raw.filter(|r| !r.trim().is_empty()).map(|r| (field, r)))
    .collect();
    let [(field, raw)] = given[..] else {
        return Err(ApiError::non_field(
            "Give exactly one of class_group, trainer or room.",
        ));
    };
    let id = subject_id(field, raw)?;
    let missing = || ApiError::field(field, rest::invalid_pk(raw));
    match field {
        "class_group" => {
            let group = class_group::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or_else(missing)?;
            if readable_groups(db, me)
                .await?
                .is_some_and(|g| !g.contains(&id))
            {
                return Err(missing());
            }
            Ok(Subject::ClassGroup(group))
        }
        "trainer" => {
            let readable = match me.role() {
                Role::Admin | Role::DpAcademics => true,
                Role::Hod => match headed_department(db, me).await? {
                    Some(d) => {
                        id == me.id || access::trainer_departments(db, id).await?.contains(&d)
                    }
                    None => id == me.id,
                },
                Role::Trainer => id == me.id,
                Role::Trainee => return Err(forbidden()),
            };
            let trainer = user::Entity::find_by_id(id)
                .one(db)
                .await?
                .filter(|u| readable && matches!(u.role(), Role::Trainer | Role::Hod))
                .ok_or_else(missing)?;
            Ok(Subject::Trainer(trainer))
        }
        _ => {
            if me.role() == Role::Trainee {
                return Err(forbidden());
            }
            let room = room::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or_else(missing)?;
            Ok(Subject::Room(room))
        }
    }
}

/// The subject's entries of `term` that `me` may read: published ones, or
/// those of `draft_version`.
async fn entries_of(
    db: &impl ConnectionTrait,
    me: &user::Model,
    subject: &Subject,
    term: Uuid,
    draft_version: Option<&str>,
) -> Result<Vec<EntryOut>, DbErr> {
    let mut query =
        timetable_entry::Entity::find().filter(timetable_entry::Column::TermId.eq(term));
    query = match subject {
        Subject::Room(r) => query.filter(timetable_entry::Column::RoomId.eq(r.id)),
        Subject::ClassGroup(_) | Subject::Trainer(_) => {
            let column = if matches!(subject, Subject::ClassGroup(_)) {
                enrollment::Column::ClassGroupId
            } else {
                enrollment::Column::TrainerId
            };
            let id = match subject {
                Subject::ClassGroup(g) => g.id,
                Subject::Trainer(u) => u.id,
                Subject::Room(r) => r.id,
            };
            let enrollments: Vec<Uuid> = enrollment::Entity::find()
                .select_only()
                .column(enrollment::Column::Id)
                .filter(column.eq(id))
                .filter(enrollment::Column::TermId.eq(term))
                .into_tuple()
                .all(db)
                .await?;
            query.filter(timetable_entry::Column::EnrollmentId.is_in(enrollments))
        }
    };
    query = match draft_version {
        Some(version) => query.filter(timetable_entry::Column::DraftVersion.eq(version)),
        None => query.filter(timetable_entry::Column::IsDraft.eq(false)),
    };
    if let Some(scope) = read_scope(db, me).await? {
        query = query.filter(scope);
    }
    let mut rows = query.all(db).await?;
    weekday_order(&mut rows);
    EntryOut::many(db, rows).await
}

/// The week laid out: the weekday columns, the row bounds and, per row and
/// day, the entries (indexes into `entries`) that occur in it.
struct Week {
    days: Vec<i32>,
    rows: Vec<(i32, i32)>,
    breaks: Vec<Option<String>>,
    cells: Vec<Vec<Vec<usize>>>,
}

fn lay_out(grid: &Grid, entries: &[EntryOut], raw: &[(i32, i32, i32)]) -> Week {
    let mut days: BTreeSet<i32> = grid.working_days.iter().copied().collect();
    days.extend(raw.iter().map(|(day, _, _)| *day));
    let days: Vec<i32> = days.into_iter().collect();
    let first = raw
        .iter()
        .map(|(_, start, _)| *start)
        .chain([grid.day_start])
        .min()
        .unwrap_or(grid.day_start);
    let last = raw
        .iter()
        .map(|(_, _, end)| *end)
        .chain([grid.day_end])
        .max()
        .unwrap_or(grid.day_end);
    let mut cuts: BTreeSet<i32> = BTreeSet::from([first, last]);
    let mut hour = grid.day_start;
    while hour > first {
        hour -= 60;
    }
    while hour < last {
        if hour > first {
            cuts.insert(hour);
        }
        hour += 60;
    }
    for (start, end, _) in &grid.breaks {
        cuts.insert((*start).clamp(first, last));
        cuts.insert((*end).clamp(first, last));
    }
    for (_, start, end) in raw {
        cuts.insert(*start);
        cuts.insert(*end);
    }
    let cuts: Vec<i32> = cuts.into_iter().collect();
    let rows: Vec<(i32, i32)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    let breaks = rows
        .iter()
        .map(|(start, end)| {
            grid.breaks
                .iter()
                .find(|(bs, be, _)| bs <= start && end <= be)
                .map(|(_, _, name)| name.clone())
        })
        .collect();
    let cells = rows
        .iter()
        .map(|(start, end)| {
            days.iter()
                .map(|day| {
                    (0..entries.len())
                        .filter(|i| {
                            let (d, s, e) = raw[*i];
                            d == *day && s < *end && *start < e
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    Week {
        days,
        rows,
        breaks,
        cells,
    }
}

impl Week {
    /// The text of cell (`row`, `col`) and whether it only continues the
    /// sessions begun above it.
    fn cell(
        &self,
        subject: &Subject,
        entries: &[EntryOut],
        raw: &[(i32, i32, i32)],
        row: usize,
        col: usize,
    ) -> (String, bool) {
        let list = &self.cells[row][col];
        if list.is_empty() {
            return (
                self.breaks[row].clone().unwrap_or_default(),
                self.breaks[row].is_some(),
            );
        }
        let start = self.rows[row].0;
        let continuing = list.iter().all(|i| raw[*i].1 < start);
        let text = list
            .iter()
            .map(|i| {
                if raw[*i].1 < start {
                    format!("{} (cont.)", entries[*i].course_code)
                } else {
                    subject.label(&entries[*i])
                }
            })
            .collect::<Vec<_>>()
            .join("\n\n");
        (text, continuing)
    }

    fn time(&self, row: usize) -> String {
        let (start, end) = self.rows[row];
        format!("{}–{}", clock(start), clock(end))
    }
}

#[utoipa::path(get, path = "/api/timetable/export/", tag = "timetable", security(("jwt" = [])),
    params(ExportParams),
    responses(
        (status = 200, description = "The weekly grid as a PDF, XLSX or CSV attachment.",
            content(("application/pdf"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("text/csv"))),
        (status = 400, body = Object), (status = 401, body = Object), (status = 403, body = Object)))]
/// A class group's, trainer's or room's weekly timetable grid as a file.
pub async fn export(
    Db(db): Db,
    Current(me): Me,
    Query(params): Query<ExportParams>,
) -> Result<Response, ApiError> {
    let format = Format::parse(params.format.as_deref())?;
    let draft_version = params
        .draft_version
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty());
    if draft_version.is_some() && !matches!(me.role(), Role::Admin | Role::DpAcademics | Role::Hod)
    {
        return Err(forbidden());
    }
    let subject = subject_of(&db, &me, &params).await?;
    let term = term_of(&db, params.term.as_deref()).await?;
    let grid = timetable_settings::effective(&db, term.id).await?;
    let entries = entries_of(&db, &me, &subject, term.id, draft_version).await?;
    let raw: Vec<(i32, i32, i32)> = entries
        .iter()
        .map(|e| {
            (
                rest::parse_weekday(&e.day_of_week).unwrap_or(0),
                rest::parse_clock(&e.start_time).unwrap_or(0),
                rest::parse_clock(&e.end_time).unwrap_or(0),
            )
        })
        .collect();
    let week = lay_out(&grid, &entries, &raw);
    let school = school::Entity::find().one(&db).await?;
    let tz = super::engine::school_timezone(&db).await?;
    let generated = kernel::time::now()
        .with_timezone(&tz)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string();
    let sheet = Export {
        subject: &subject,
        term: &term,
        school: school.as_ref(),
        draft_version,
        entries: &entries,
        raw: &raw,
        week: &week,
        generated: &generated,
    };
    let stem = format!("timetable-{}-{}", slug(&subject.name()), slug(&term.name));
    Ok(match format {
        Format::Pdf => {
            kernel::upload::attachment_as(sheet.pdf(), "application/pdf", &format!("{stem}.pdf"))
        }
        Format::Csv => sheets::download(sheets::Format::Csv, &[sheet.grid_sheet(" / ")], &stem)?,
        Format::Xlsx => kernel::upload::attachment_as(
            sheet.xlsx()?,
            sheets::Format::Xlsx.content_type(),
            &format!("{stem}.xlsx"),
        ),
    })
}

/// `Term 1 2026` → `term-1-2026`.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// Everything one export writes.
struct Export<'a> {
    subject: &'a Subject,
    term: &'a term::Model,
    school: Option<&'a school::Model>,
    draft_version: Option<&'a str>,
    entries: &'a [EntryOut],
    raw: &'a [(i32, i32, i32)],
    week: &'a Week,
    generated: &'a str,
}

impl Export<'_> {
    fn title(&self) -> String {
        format!("Timetable: {} ({})", self.subject.name(), self.term.name)
    }

    fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(s) = self.school {
            lines.push(s.name.clone());
        }
        lines.push(format!(
            "{} {} · {} from {} to {}",
            self.subject.kind(),
            self.subject.name(),
            self.term.name,
            self.term.start_date,
            self.term.end_date
        ));
        lines.push(match self.draft_version {
            Some(v) => format!("Draft version {v} (not published)"),
            None => "Published timetable".to_owned(),
        });
        let sessions = self.entries.len();
        let minutes: i32 = self.entries.iter().map(|e| e.duration_minutes).sum();
        lines.push(format!(
            "{sessions} weekly session{} · {}h{:02} a week",
            if sessions == 1 { "" } else { "s" },
            minutes / 60,
            minutes % 60
        ));
        lines
    }

    fn header(&self) -> Vec<String> {
        std::iter::once("Time".to_owned())
            .chain(self.week.days.iter().map(|d| weekday_title(*d)))
            .collect()
    }

    fn pdf(&self) -> Vec<u8> {
        let mut columns = vec![Column::new("Time", 0.8)];
        columns.extend(
            self.week
                .days
                .iter()
                .map(|d| Column::new(weekday_title(*d), 2.0)),
        );
        let mut table = pdf::Table::new(columns);
        for row in 0..self.week.rows.len() {
            let mut cells = vec![Cell::from(self.week.time(row))];
            for col in 0..self.week.days.len() {
                let (text, muted) = self
                    .week
                    .cell(self.subject, self.entries, self.raw, row, col);
                cells.push(if muted {
                    Cell::muted(text)
                } else {
                    text.into()
                });
            }
            if self.week.breaks[row].is_some() {
                table.shaded_row(cells);
            } else {
                table.row(cells);
            }
        }
        let mut doc = Document::landscape(self.title());
        for line in self.lines() {
            doc = doc.line(line);
        }
        doc.table(table)
            .render(&format!("Generated {}", self.generated))
    }

    /// The grid as a sheet, a cell's lines joined by `join`.
    fn grid_sheet(&self, join: &str) -> Sheet {
        let mut sheet = Sheet {
            name: "Timetable".to_owned(),
            header: self.header(),
            rows: Vec::new(),
        };
        for row in 0..self.week.rows.len() {
            let mut cells = vec![sheets::Cell::from(self.week.time(row))];
            for col in 0..self.week.days.len() {
                let (text, _) = self
                    .week
                    .cell(self.subject, self.entries, self.raw, row, col);
                cells.push(text.replace("\n\n", "\n").replace('\n', join).into());
            }
            sheet.rows.push(cells);
        }
        sheet
    }

    /// A workbook: the titled grid with merged multi-row sessions, and the
    /// sessions as a plain list.
    fn xlsx(&self) -> Result<Vec<u8>, ApiError> {
        use rust_xlsxwriter::{Color, Format as Style, FormatAlign, FormatBorder, Workbook};
        let err = ApiError::internal;
        let mut book = Workbook::new();
        let title = Style::new().set_bold().set_font_size(14);
        let muted = Style::new().set_font_color(Color::Gray);
        let head = Style::new()
            .set_bold()
            .set_background_color(Color::RGB(0x00D9_D9D9))
            .set_border(FormatBorder::Thin);
        let cell = Style::new()
            .set_text_wrap()
            .set_align(FormatAlign::Top)
            .set_border(FormatBorder::Thin);
        let pause = cell
            .clone()
            .set_background_color(Color::RGB(0x00F0_F0F0))
            .set_font_color(Color::Gray);

        let ws = book.add_worksheet();
        ws.set_name("Timetable").map_err(err)?;
        ws.write_string_with_format(0, 0, self.title(), &title)
            .map_err(err)?;
        let mut r: u32 = 1;
        for line in self.lines() {
            ws.write_string_with_format(r, 0, line, &muted)
                .map_err(err)?;
            r += 1;
        }
        r += 1;
        let header_row = r;
        for (col, name) in (0u16..).zip(self.header()) {
            ws.write_string_with_format(header_row, col, name, &head)
                .map_err(err)?;
        }
        ws.set_column_width(0, 13).map_err(err)?;
        for col in 1..=self.week.days.len() {
            ws.set_column_width(u16::try_from(col).unwrap_or(u16::MAX), 30)
                .map_err(err)?;
        }
        let first = header_row + 1;
        let rows = self.week.rows.len();
        for row in 0..rows {
            let at = first + u32::try_from(row).unwrap_or(u32::MAX);
            let style = if self.week.breaks[row].is_some() {
                &pause
            } else {
                &cell
            };
            ws.write_string_with_format(at, 0, self.week.time(row), style)
                .map_err(err)?;
        }
        for col in 0..self.week.days.len() {
            let c = u16::try_from(col + 1).unwrap_or(u16::MAX);
            let mut row = 0;
            while row < rows {
                let at = first + u32::try_from(row).unwrap_or(u32::MAX);
                let style = if self.week.breaks[row].is_some() {
                    &pause
                } else {
                    &cell
                };
                let list = &self.week.cells[row][col];
                // One session alone in a run of rows: one merged cell.
                let mut end = row;
                if let [only] = list[..] {
                    while end + 1 < rows && self.week.cells[end + 1][col] == [only] {
                        end += 1;
                    }
                }
                let (text, _) = self
                    .week
                    .cell(self.subject, self.entries, self.raw, row, col);
                if end > row {
                    let last = first + u32::try_from(end).unwrap_or(u32::MAX);
                    ws.merge_range(at, c, last, c, &crate::sheets::fit(&text), style)
                        .map_err(err)?;
                } else {
                    ws.write_string_with_format(at, c, crate::sheets::fit(&text), style)
                        .map_err(err)?;
                }
                row = end + 1;
            }
        }
        ws.set_freeze_panes(first, 1).map_err(err)?;
        ws.set_landscape();

        let list = book.add_worksheet();
        list.set_name("Sessions").map_err(err)?;
        let columns = [
            "Day",
            "Start",
            "End",
            "Course code",
            "Course",
            "Class group",
            "Trainer",
            "Room",
            "Session type",
            "Date (one-off)",
            "Makeup",
        ];
        for (col, name) in (0u16..).zip(columns) {
            list.write_string_with_format(0, col, name, &head)
                .map_err(err)?;
        }
        for (r, e) in (1u32..).zip(self.entries) {
            let values = [
                weekday_title(rest::parse_weekday(&e.day_of_week).unwrap_or(0)),
                e.start_time.clone(),
                e.end_time.clone(),
                e.course_code.clone(),
                e.course_name.clone(),
                e.class_group_name.clone(),
                e.trainer_name.clone(),
                e.room_name.clone(),
                e.session_type.clone(),
                e.specific_date.map(|d| d.to_string()).unwrap_or_default(),
                if e.is_makeup { "yes" } else { "no" }.to_owned(),
            ];
            for (col, value) in (0u16..).zip(values) {
                list.write_string(r, col, crate::sheets::fit(&value))
                    .map_err(err)?;
            }
        }
        list.autofit();
        book.save_to_buffer().map_err(err)
    }
}
