//! The report kinds (contract §7) and what they are asked for: the kind,
//! its subject (a class group, course, trainer, programme or department)
//! and the filters `term`, `date_from`, `date_to`, `trainee`, `class_group`,
//! `course`.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use kernel::{ApiError, FieldErrors};
use sea_orm::EntityTrait;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::entities::term;
use crate::rest;

/// A report kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Trainee,
    ClassGroup,
    Course,
    Trainer,
    Programme,
    Department,
    School,
}

kernel::choices!(
    /// A report kind.
    pub ReportTypeChoice = Kind::CHOICES
);

impl Kind {
    pub const CHOICES: &'static [&'static str] = &[
        "trainee",
        "class_group",
        "course",
        "trainer",
        "programme",
        "department",
        "school",
    ];

    const ALL: [Kind; 7] = [
        Self::Trainee,
        Self::ClassGroup,
        Self::Course,
        Self::Trainer,
        Self::Programme,
        Self::Department,
        Self::School,
    ];

    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim().to_ascii_lowercase().replace('-', "_");
        let raw = raw.strip_suffix("_attendance").unwrap_or(&raw);
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trainee => "trainee",
            Self::ClassGroup => "class_group",
            Self::Course => "course",
            Self::Trainer => "trainer",
            Self::Programme => "programme",
            Self::Department => "department",
            Self::School => "school",
        }
    }

    /// `class-group` in `class-group-attendance-2026-11-30.csv`.
    pub fn slug(self) -> &'static str {
        match self {
            Self::ClassGroup => "class-group",
            other => other.as_str(),
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Trainee => "Trainee attendance report",
            Self::ClassGroup => "Class group attendance report",
            Self::Course => "Course attendance report",
            Self::Trainer => "Trainer attendance report",
            Self::Programme => "Programme attendance report",
            Self::Department => "Department attendance report",
            Self::School => "School attendance report",
        }
    }

    /// The filter naming the report's subject (stored and scheduled reports
    /// give it among the filters).
    pub fn subject_field(self) -> Option<&'static str> {
        match self {
            Self::Trainee | Self::School => None,
            Self::ClassGroup => Some("class_group"),
            Self::Course => Some("course"),
            Self::Trainer => Some("trainer"),
            Self::Programme => Some("programme"),
            Self::Department => Some("department"),
        }
    }

    /// The filters the kind takes beside `term`, `date_from`, `date_to`.
    fn extra_filters(self) -> &'static [&'static str] {
        match self {
            Self::Trainee => &["trainee", "class_group", "course"],
            Self::ClassGroup | Self::Trainer => &["course"],
            Self::Course => &["class_group"],
            Self::Programme | Self::Department | Self::School => &[],
        }
    }

    /// The columns of the rows, in order.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Self::Trainee => &[
                "trainee_id",
                "admission_number",
                "trainee_name",
                "class_group",
                "course_code",
                "course_name",
                "sessions",
                "present",
                "late",
                "absent",
                "excused",
                "attendance_rate",
                "punctuality_rate",
            ],
            Self::ClassGroup => &[
                "course_code",
                "course_name",
                "trainer_name",
                "sessions_held",
                "present",
                "late",
                "absent",
                "excused",
                "attendance_rate",
                "punctuality_rate",
                "feedback_overall_avg",
            ],
            Self::Course => &[
                "class_group",
                "trainer_name",
                "sessions_held",
                "attendance_rate",
                "punctuality_rate",
                "feedback_overall_avg",
            ],
            Self::Trainer => &[
                "date",
                "course_code",
                "class_group",
                "room",
                "scheduled_start",
                "started_at",
                "start_delay_minutes",
                "ended_at",
                "duration_minutes",
                "status",
                "present",
                "late",
                "absent",
                "attendance_rate",
                "feedback_overall_avg",
            ],
            Self::Programme | Self::Department | Self::School => &[
                "name",
                "sessions_held",
                "attendance_rate",
                "punctuality_rate",
                "on_time_start_rate",
                "missed_sessions",
            ],
        }
    }
}

/// A report asked for: its kind, subject and filters, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub term: Option<Uuid>,
    pub date_from: Option<NaiveDate>,
    pub date_to: Option<NaiveDate>,
    pub trainee: Option<Uuid>,
    pub class_group: Option<Uuid>,
    pub course: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub kind: Kind,
    /// The class group, course, trainer, programme or department reported on.
    pub subject: Option<Uuid>,
    pub filters: Filters,
}

impl Spec {
    /// The filters as a report echoes and stores them (the subject under
    /// its own name).
    pub fn filters_json(&self) -> Value {
        let f = &self.filters;
        let mut out = Map::new();
        let mut put = |key: &str, value: Value| {
            if !value.is_null() {
                out.insert(key.to_owned(), value);
            }
        };
        put("term", json!(f.term));
        put("date_from", json!(f.date_from));
        put("date_to", json!(f.date_to));
        put("trainee", json!(f.trainee));
        put("class_group", json!(f.class_group));
        put("course", json!(f.course));
        if let Some(field) = self.kind.subject_field() {
            put(field, json!(self.subject));
        }
        Value::Object(out)
    }

    /// The first and last instants the dates cover, in school time (`to`
    /// exclusive).
    pub fn bounds(&self, tz: Tz) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let start = |date: NaiveDate| {
            date.and_hms_opt(0, 0, 0).map(|naive| {
                tz.from_local_datetime(&naive)
                    .earliest()
                    .map_or_else(|| naive.and_utc(), |at| at.with_timezone(&Utc))
            })
        };
        (
            self.filters.date_from.and_then(start),
            self.filters
                .date_to
                .and_then(|d| d.succ_opt())
                .and_then(start),
        )
    }
}

/// Reads a report's filters from text values (a query string, or a stored
/// report's `filters` object): ids must be UUIDs, dates `YYYY-MM-DD`,
/// `date_from` ≤ `date_to`, and the term must exist. `subject` is the id
/// from the path, if any; otherwise it is read from the filters.
pub async fn parse(
    db: &impl sea_orm::ConnectionTrait,
    kind: Kind,
    subject: Option<Uuid>,
    get: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Spec, ApiError> {
    let mut errors = FieldErrors::new();
    let value = |name: &str| {
        get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let uuid = |name: &str, errors: &mut FieldErrors| {
        value(name).and_then(|raw| {
            let id = Uuid::parse_str(&raw).ok();
            if id.is_none() {
                errors.add(name, "Enter a valid UUID.");
            }
            id
        })
    };
    let mut filters = Filters {
        term: uuid("term", &mut errors),
        ..Filters::default()
    };
    // A filter another kind takes is still checked: a malformed id is an
    // error wherever it is sent.
    for name in ["trainee", "class_group", "course"] {
        let subject_here = subject.is_none() && kind.subject_field() == Some(name);
        if !kind.extra_filters().contains(&name) && !subject_here {
            uuid(name, &mut errors);
        }
    }
    for name in kind.extra_filters() {
        let id = uuid(name, &mut errors);
        match *name {
            "trainee" => filters.trainee = id,
            "class_group" => filters.class_group = id,
            _ => filters.course = id,
        }
    }
    let subject = match (subject, kind.subject_field()) {
        (Some(id), _) => Some(id),
        (None, Some(field)) => {
            let id = uuid(field, &mut errors);
            if id.is_none() && !errors.has(field) {
                errors.add(
                    field,
                    format!("This field is required for a {} report.", kind.as_str()),
                );
            }
            id
        }
        (None, None) => None,
    };
    let date = |name: &str, errors: &mut FieldErrors| {
        value(name).and_then(|raw| {
            let date = rest::parse_date(&raw);
            if date.is_none() {
                errors.add(name, rest::BAD_DATE);
            }
            date
        })
    };
    filters.date_from = date("date_from", &mut errors);
    filters.date_to = date("date_to", &mut errors);
    if let (Some(from), Some(to)) = (filters.date_from, filters.date_to)
        && to < from
    {
        errors.add("date_to", "date_to must not be before date_from.");
    }
    if let Some(id) = filters.term
        && term::Entity::find_by_id(id).one(db).await?.is_none()
    {
        errors.add("term", rest::invalid_pk(&id.to_string()));
    }
    errors.into_result()?;
    Ok(Spec {
        kind,
        subject,
        filters,
    })
}
