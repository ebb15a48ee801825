//! The conflict engine of the timetable (contract §4, "Conflict rules
//! (exact)"): one term's rooms, enrollments, entries, availability,
//! maintenance, settings and draft scopes, loaded once into memory and
//! checked without touching the database again.
//!
//! The entries API asks it whether a candidate entry may be saved (and for
//! suggestions when it may not); publishing re-checks every entry of a
//! version with it; the generator [`TermPlan::place`]s its sessions into it
//! and prunes with the per-rule predicates ([`TermPlan::room_suitable`],
//! [`TermPlan::fits_grid`], [`TermPlan::trainer_available`],
//! [`TermPlan::room_free`], [`TermPlan::trainer_free`],
//! [`TermPlan::class_group_free`]).
//!
//! Semantics, exactly as the contract states them:
//! - Time ranges are half-open: `08:00–10:00` and `10:00–12:00` do not meet.
//! - Two entries can occur on the same date when both are recurring on the
//!   same weekday, when a one-off's date falls on a recurring entry's weekday
//!   (inside the term), or when two one-offs share the date.
//! - The *scope* of a candidate: a hand-made one (`draft_version` null) is
//!   checked against every other entry of the term that is published or
//!   hand-made; one of generated version V against V's other entries plus
//!   the term's published and hand-made entries whose enrollment V does not
//!   cover ([`TermPlan::visible`]).
//!
//! Entries are indexed per (room, weekday), (trainer, weekday) and (class
//! group, weekday), so a check costs the entries of those few buckets, not
//! the term.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use kernel::ApiError;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use uuid::Uuid;

use crate::entities::{
    class_group, class_group_trainee, course, course_mapping, draft_scope, draft_version,
    enrollment, room, room_maintenance, school, term, timetable_entry, user,
};
use crate::rest::{clock, weekday_of, weekday_title};

/// The two kinds of session a course offers.
pub const SESSION_TYPES: [&str; 2] = ["theory", "practical"];

/// The room type only an online session may use (and that only it may).
pub const ONLINE: &str = "online";

/// One rule of the contract's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    RoomConflict,
    TrainerConflict,
    ClassGroupConflict,
    TrainerUnavailable,
    RoomMaintenance,
    RoomInactive,
    RoomCapacity,
    RoomTypeMismatch,
    RoomBookingLimit,
    OutsideSchoolHours,
    BreakOverlap,
    ClassGroupDailyLimit,
}

impl ConflictKind {
    /// The rules that depend on the room (a room suggestion must pass them).
    pub fn is_about_room(self) -> bool {
        matches!(
            self,
            Self::RoomConflict
                | Self::RoomMaintenance
                | Self::RoomInactive
                | Self::RoomCapacity
                | Self::RoomTypeMismatch
                | Self::RoomBookingLimit
        )
    }
}

/// A failed rule: serialises as `{type, message, entry}`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Conflict {
    #[serde(rename = "type")]
    pub kind: ConflictKind,
    pub message: String,
    /// The entry it clashes with, when there is one.
    pub entry: Option<Uuid>,
}

impl Conflict {
    fn new(kind: ConflictKind, message: String, entry: Option<Uuid>) -> Self {
        Self {
            kind,
            message,
            entry,
        }
    }
}

/// A configured break of the school day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub name: String,
    pub start: i32,
    pub end: i32,
}

/// The timetable settings in force for a term (contract §4
/// TimetableSettings), in minutes and weekday numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    pub working_days: Vec<i32>,
    pub day_start: i32,
    pub day_end: i32,
    pub slot_minutes: i32,
    pub breaks: Vec<Break>,
    pub max_sessions_per_day_per_class_group: i32,
}

impl Default for Hours {
    /// Monday–Friday, 08:00–17:00, a 30-minute grid, no breaks, 6 a day.
    fn default() -> Self {
        Self {
            working_days: (0..5).collect(),
            day_start: 8 * 60,
            day_end: 17 * 60,
            slot_minutes: 30,
            breaks: Vec::new(),
            max_sessions_per_day_per_class_group: 6,
        }
    }
}

/// The term a plan is about.
#[allow(
    dead_code,
    reason = "the engine's API: the generator and the exports read these"
)]
#[derive(Debug, Clone)]
pub struct TermInfo {
    pub id: Uuid,
    pub name: String,
    pub number: i32,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
}

impl TermInfo {
    /// Whether `date` lies inside the term (both ends included).
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start_date <= date && date <= self.end_date
    }
}

/// What the rules need of a room.
#[allow(
    dead_code,
    reason = "the engine's API: the generator and the exports read these"
)]
#[derive(Debug, Clone)]
pub struct RoomInfo {
    pub id: Uuid,
    pub name: String,
    pub room_type: String,
    pub capacity: i32,
    pub is_active: bool,
    pub max_sessions_per_day: Option<i32>,
    pub department: Option<Uuid>,
    pub building: Option<String>,
}

/// What the rules need of an enrollment of the term.
#[allow(
    dead_code,
    reason = "the engine's API: the generator and the exports read these"
)]
#[derive(Debug, Clone)]
pub struct EnrollmentInfo {
    pub id: Uuid,
    pub status: String,
    pub class_group: Uuid,
    pub class_group_name: String,
    pub trainee_count: i32,
    pub trainer: Option<Uuid>,
    pub trainer_name: String,
    pub course: Uuid,
    pub course_code: String,
    pub course_name: String,
    pub department: Uuid,
    pub theory_sessions: i32,
    pub practical_sessions: i32,
    pub session_minutes: i32,
    /// The mapping's room type per session type (None: no mapping found).
    pub theory_room_type: Option<String>,
    pub practical_room_type: Option<String>,
}

#[allow(
    dead_code,
    reason = "the engine's API: the generator and the exports read these"
)]
impl EnrollmentInfo {
    /// Whether the course has sessions of `session_type` each week.
    pub fn offers(&self, session_type: &str) -> bool {
        match session_type {
            "theory" => self.theory_sessions > 0,
            "practical" => self.practical_sessions > 0,
            _ => false,
        }
    }

    /// The room type the mapping asks for `session_type`.
    pub fn room_type_for(&self, session_type: &str) -> Option<&str> {
        match session_type {
            "theory" => self.theory_room_type.as_deref(),
            "practical" => self.practical_room_type.as_deref(),
            _ => None,
        }
    }

    /// Whether the enrollment still takes sessions.
    pub fn is_open(&self) -> bool {
        !matches!(self.status.as_str(), "cancelled" | "completed")
    }
}

/// An entry as the engine holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanEntry {
    pub id: Uuid,
    pub enrollment: Uuid,
    pub room: Uuid,
    pub session_type: String,
    /// Weekday, 0 = Monday (for a one-off, its date's weekday).
    pub day: i32,
    pub start: i32,
    pub end: i32,
    /// The date of a one-off (not recurring, or a makeup); None = weekly.
    pub date: Option<NaiveDate>,
    pub is_draft: bool,
    pub draft_version: Option<String>,
}

impl PlanEntry {
    /// The engine's view of a stored entry.
    pub fn from_model(m: &timetable_entry::Model) -> Self {
        let date = one_off_date(m.is_recurring, m.is_makeup, m.specific_date);
        Self {
            id: m.id,
            enrollment: m.enrollment_id,
            room: m.room_id,
            session_type: m.session_type.clone(),
            day: date.map_or(m.day, weekday_of),
            start: m.start_minute,
            end: m.end_minute,
            date,
            is_draft: m.is_draft,
            draft_version: m.draft_version.clone(),
        }
    }

    /// Published, or made by hand: what every check sees.
    fn is_fixed(&self) -> bool {
        !self.is_draft || self.draft_version.is_none()
    }
}

/// The date an entry occurs on when it is a one-off: not recurring, or a
/// makeup, with a date.
pub fn one_off_date(
    is_recurring: bool,
    is_makeup: bool,
    date: Option<NaiveDate>,
) -> Option<NaiveDate> {
    if !is_recurring || is_makeup {
        date
    } else {
        None
    }
}

/// An entry to check (new, or an existing one with changes).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The entry itself when it already exists (never clashes with itself).
    pub id: Option<Uuid>,
    pub enrollment: Uuid,
    pub room: Uuid,
    pub session_type: String,
    pub day: i32,
    pub start: i32,
    pub end: i32,
    /// A one-off's date (None = weekly for the whole term).
    pub specific_date: Option<NaiveDate>,
    /// None for a hand-made entry; the version of a generated one.
    pub draft_version: Option<String>,
}

impl Candidate {
    /// The weekday it occurs on (a one-off's date decides).
    pub fn weekday(&self) -> i32 {
        self.specific_date.map_or(self.day, weekday_of)
    }

    /// The candidate an existing entry is.
    pub fn of_entry(e: &PlanEntry) -> Self {
        Self {
            id: Some(e.id),
            enrollment: e.enrollment,
            room: e.room,
            session_type: e.session_type.clone(),
            day: e.day,
            start: e.start,
            end: e.end,
            specific_date: e.date,
            draft_version: e.draft_version.clone(),
        }
    }
}

/// A room's maintenance window in school-local wall-clock time.
#[derive(Debug, Clone)]
pub struct Maintenance {
    pub room: Uuid,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub reason: Option<String>,
}

/// A free slot [`TermPlan::suggest_slots`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotSuggestion {
    pub day: i32,
    pub start: i32,
    pub end: i32,
    pub room: Uuid,
}

/// One term in memory: everything the conflict rules read.
#[allow(
    dead_code,
    reason = "the engine's API: the generator and the exports read these"
)]
#[derive(Debug, Clone)]
pub struct TermPlan {
    pub term: TermInfo,
    pub hours: Hours,
    pub timezone: Tz,
    rooms: HashMap<Uuid, RoomInfo>,
    /// Room ids, smallest capacity first, then by name.
    room_order: Vec<Uuid>,
    enrollments: HashMap<Uuid, EnrollmentInfo>,
    /// Per trainer with windows: (weekday, start, end) in force this term.
    availability: HashMap<Uuid, Vec<(i32, i32, i32)>>,
    maintenance: HashMap<Uuid, Vec<Maintenance>>,
    /// The enrollments each draft version covers.
    scopes: HashMap<String, HashSet<Uuid>>,
    entries: HashMap<Uuid, PlanEntry>,
    by_room: HashMap<(Uuid, i32), Vec<Uuid>>,
    by_trainer: HashMap<(Uuid, i32), Vec<Uuid>>,
    by_group: HashMap<(Uuid, i32), Vec<Uuid>>,
}

/// Whether two entries can fall on one date (the contract's occurrence
/// rule); `a_day`/`b_day` are their weekdays.
fn same_date_possible(
    a_day: i32,
    a_date: Option<NaiveDate>,
    b_day: i32,
    b_date: Option<NaiveDate>,
) -> bool {
    match (a_date, b_date) {
        (None, None) => a_day == b_day,
        (Some(d), None) => weekday_of(d) == b_day,
        (None, Some(d)) => weekday_of(d) == a_day,
        (Some(x), Some(y)) => x == y,
    }
}

/// Half-open intersection.
fn times_overlap(a_start: i32, a_end: i32, b_start: i32, b_end: i32) -> bool {
    a_start < b_end && b_start < a_end
}

/// `Monday 08:00–10:00`, or `Monday 2025-09-15 08:00–10:00` for a one-off.
fn when(day: i32, date: Option<NaiveDate>, start: i32, end: i32) -> String {
    match date {
        Some(d) => format!(
            "{} {} {}–{}",
            weekday_title(day),
            d.format("%Y-%m-%d"),
            clock(start),
            clock(end)
        ),
        None => format!("{} {}–{}", weekday_title(day), clock(start), clock(end)),
    }
}

/// A room type as words (`computer_lab` → `computer lab`).
fn type_words(room_type: &str) -> String {
    room_type.replace('_', " ")
}

impl TermPlan {
    /// An empty plan (no rooms, enrollments or entries): the start of a
    /// plan built in memory, by tests and benchmarks.
    pub fn new(term: TermInfo, hours: Hours, timezone: Tz) -> Self {
        Self {
            term,
            hours,
            timezone,
            rooms: HashMap::new(),
            room_order: Vec::new(),
            enrollments: HashMap::new(),
            availability: HashMap::new(),
            maintenance: HashMap::new(),
            scopes: HashMap::new(),
            entries: HashMap::new(),
            by_room: HashMap::new(),
            by_trainer: HashMap::new(),
            by_group: HashMap::new(),
        }
    }

    // ----- building -----

    /// Adds (or replaces) a room.
    pub fn add_room(&mut self, room: RoomInfo) {
        self.rooms.insert(room.id, room);
        let mut order: Vec<&RoomInfo> = self.rooms.values().collect();
        order.sort_by(|a, b| a.capacity.cmp(&b.capacity).then(a.name.cmp(&b.name)));
        self.room_order = order.into_iter().map(|r| r.id).collect();
    }

    /// Adds (or replaces) an enrollment. Add enrollments before entries.
    pub fn add_enrollment(&mut self, enrollment: EnrollmentInfo) {
        self.enrollments.insert(enrollment.id, enrollment);
    }

    /// Sets a trainer's windows in force this term, `(weekday, start,
    /// end)`; a trainer without any is always available.
    pub fn set_availability(&mut self, trainer: Uuid, windows: Vec<(i32, i32, i32)>) {
        if windows.is_empty() {
            self.availability.remove(&trainer);
        } else {
            self.availability.insert(trainer, windows);
        }
    }

    /// Adds a maintenance window of a room (school-local times).
    pub fn add_maintenance(&mut self, window: Maintenance) {
        self.maintenance
            .entry(window.room)
            .or_default()
            .push(window);
    }

    /// Declares the enrollments a draft version covers (its scope).
    pub fn set_scope(&mut self, version: &str, enrollments: impl IntoIterator<Item = Uuid>) {
        self.scopes
            .insert(version.to_owned(), enrollments.into_iter().collect());
    }

    /// Adds an entry (a generator's placement, or a stored entry); an
    /// entry with the same id is replaced.
    pub fn place(&mut self, entry: PlanEntry) {
        self.remove(entry.id);
        let day = entry.day;
        self.by_room
            .entry((entry.room, day))
            .or_default()
            .push(entry.id);
        if let Some(e) = self.enrollments.get(&entry.enrollment) {
            if let Some(trainer) = e.trainer {
                self.by_trainer
                    .entry((trainer, day))
                    .or_default()
                    .push(entry.id);
            }
            self.by_group
                .entry((e.class_group, day))
                .or_default()
                .push(entry.id);
        }
        self.entries.insert(entry.id, entry);
    }

    /// Takes an entry out of the plan.
    pub fn remove(&mut self, id: Uuid) -> Option<PlanEntry> {
        let entry = self.entries.remove(&id)?;
        let day = entry.day;
        let drop = |index: &mut HashMap<(Uuid, i32), Vec<Uuid>>, key| {
            if let Some(ids) = index.get_mut(&key) {
                ids.retain(|x| *x != id);
            }
        };
        drop(&mut self.by_room, (entry.room, day));
        if let Some(e) = self.enrollments.get(&entry.enrollment) {
            if let Some(trainer) = e.trainer {
                drop(&mut self.by_trainer, (trainer, day));
            }
            drop(&mut self.by_group, (e.class_group, day));
        }
        Some(entry)
    }

    // ----- reading -----

    pub fn room(&self, id: Uuid) -> Option<&RoomInfo> {
        self.rooms.get(&id)
    }

    /// Every room, smallest capacity first.
    pub fn rooms(&self) -> impl Iterator<Item = &RoomInfo> {
        self.room_order.iter().filter_map(|id| self.rooms.get(id))
    }

    pub fn enrollment(&self, id: Uuid) -> Option<&EnrollmentInfo> {
        self.enrollments.get(&id)
    }

    pub fn enrollments(&self) -> impl Iterator<Item = &EnrollmentInfo> {
        self.enrollments.values()
    }

    pub fn entry(&self, id: Uuid) -> Option<&PlanEntry> {
        self.entries.get(&id)
    }

    pub fn entries(&self) -> impl Iterator<Item = &PlanEntry> {
        self.entries.values()
    }

    /// The enrollments a version covers (None when unknown).
    #[allow(dead_code, reason = "the engine's API")]
    pub fn scope(&self, version: &str) -> Option<&HashSet<Uuid>> {
        self.scopes.get(version)
    }

    /// The scope rule: whether `other` counts against a candidate of
    /// `version` (None = hand-made).
    pub fn visible(&self, version: Option<&str>, other: &PlanEntry) -> bool {
        match version {
            None => other.is_fixed(),
            Some(v) => {
                other.draft_version.as_deref() == Some(v)
                    || (other.is_fixed()
                        && !self
                            .scopes
                            .get(v)
                            .is_some_and(|s| s.contains(&other.enrollment)))
            }
        }
    }

    /// The visible entries of one index bucket that can occur on the
    /// candidate's date (any time of day), itself excluded.
    fn same_day<'a>(
        &'a self,
        index: &'a HashMap<(Uuid, i32), Vec<Uuid>>,
        key: Uuid,
        c: &'a Candidate,
    ) -> impl Iterator<Item = &'a PlanEntry> + 'a {
        let day = c.weekday();
        index
            .get(&(key, day))
            .into_iter()
            .flatten()
            .filter_map(|id| self.entries.get(id))
            .filter(move |e| Some(e.id) != c.id)
            .filter(move |e| same_date_possible(day, c.specific_date, e.day, e.date))
            .filter(move |e| self.visible(c.draft_version.as_deref(), e))
    }

    /// Those of [`Self::same_day`] whose time overlaps the candidate's.
    fn overlapping<'a>(
        &'a self,
        index: &'a HashMap<(Uuid, i32), Vec<Uuid>>,
        key: Uuid,
        c: &'a Candidate,
    ) -> impl Iterator<Item = &'a PlanEntry> + 'a {
        self.same_day(index, key, c)
            .filter(move |e| times_overlap(c.start, c.end, e.start, e.end))
    }

    /// How many of `entries` fall on one date at most: for a one-off
    /// candidate the weekly ones plus the one-offs of its date; for a weekly
    /// one the weekly ones plus the busiest date's one-offs.
    fn daily_count<'a>(
        entries: impl Iterator<Item = &'a PlanEntry>,
        date: Option<NaiveDate>,
    ) -> usize {
        let mut weekly = 0;
        let mut dated: HashMap<NaiveDate, usize> = HashMap::new();
        for e in entries {
            match e.date {
                None => weekly += 1,
                Some(d) => *dated.entry(d).or_default() += 1,
            }
        }
        let one_offs = match date {
            Some(d) => dated.get(&d).copied().unwrap_or(0),
            None => dated.values().copied().max().unwrap_or(0),
        };
        weekly + one_offs
    }

    /// `COMP101, CS-1A` of an entry.
    fn course_and_group(&self, e: &PlanEntry) -> String {
        match self.enrollments.get(&e.enrollment) {
            Some(en) => format!("{}, {}", en.course_code, en.class_group_name),
            None => "another course".to_owned(),
        }
    }

    // ----- the rules -----

    /// Every failed rule of the contract's table for `c`, in the table's
    /// order; clashes with other entries are one conflict per entry. An
    /// enrollment or room the plan does not know fails nothing it cannot
    /// judge (the API checks references first).
    pub fn check(&self, c: &Candidate) -> Vec<Conflict> {
        let mut out = Vec::new();
        self.check_clashes(c, &mut out);
        self.check_trainer_available(c, &mut out);
        self.check_room(c, &mut out);
        self.check_grid(c, &mut out);
        self.check_group_limit(c, &mut out);
        out
    }

    fn check_clashes(&self, c: &Candidate, out: &mut Vec<Conflict>) {
        let room_name = self
            .rooms
            .get(&c.room)
            .map_or_else(String::new, |r| r.name.clone());
        for e in self.overlapping(&self.by_room, c.room, c) {
            out.push(Conflict::new(
                ConflictKind::RoomConflict,
                format!(
                    "Room {room_name} is already booked on {} ({}).",
                    when(e.day, e.date, e.start, e.end),
                    self.course_and_group(e)
                ),
                Some(e.id),
            ));
        }
        let Some(en) = self.enrollments.get(&c.enrollment) else {
            return;
        };
        if let Some(trainer) = en.trainer {
            for e in self.overlapping(&self.by_trainer, trainer, c) {
                out.push(Conflict::new(
                    ConflictKind::TrainerConflict,
                    format!(
                        "Trainer {} is already teaching on {} ({}).",
                        en.trainer_name,
                        when(e.day, e.date, e.start, e.end),
                        self.course_and_group(e)
                    ),
                    Some(e.id),
                ));
            }
        }
        for e in self.overlapping(&self.by_group, en.class_group, c) {
            let other_room = self
                .rooms
                .get(&e.room)
                .map_or_else(String::new, |r| r.name.clone());
            let other_course = self
                .enrollments
                .get(&e.enrollment)
                .map_or_else(String::new, |o| o.course_code.clone());
            out.push(Conflict::new(
                ConflictKind::ClassGroupConflict,
                format!(
                    "Class group {} already has a session on {} ({other_course}, room {other_room}).",
                    en.class_group_name,
                    when(e.day, e.date, e.start, e.end),
                ),
                Some(e.id),
            ));
        }
    }

    fn check_trainer_available(&self, c: &Candidate, out: &mut Vec<Conflict>) {
        let Some(en) = self.enrollments.get(&c.enrollment) else {
            return;
        };
        let Some(trainer) = en.trainer else {
            return;
        };
        if !self.trainer_available(trainer, c.weekday(), c.start, c.end) {
            out.push(Conflict::new(
                ConflictKind::TrainerUnavailable,
                format!(
                    "Trainer {} is not available on {}.",
                    en.trainer_name,
                    when(c.weekday(), c.specific_date, c.start, c.end)
                ),
                None,
            ));
        }
    }

    fn check_room(&self, c: &Candidate, out: &mut Vec<Conflict>) {
        let Some(room) = self.rooms.get(&c.room) else {
            return;
        };
        if let Some((date, reason)) = self.maintenance_clash(c) {
            let why = reason.map(|r| format!(" ({r})")).unwrap_or_default();
            out.push(Conflict::new(
                ConflictKind::RoomMaintenance,
                format!(
                    "Room {} is under maintenance on {}{why}.",
                    room.name,
                    date.format("%Y-%m-%d")
                ),
                None,
            ));
        }
        if !room.is_active {
            out.push(Conflict::new(
                ConflictKind::RoomInactive,
                format!("Room {} is inactive.", room.name),
                None,
            ));
        }
        if let Some(en) = self.enrollments.get(&c.enrollment) {
            if room.capacity < en.trainee_count {
                out.push(Conflict::new(
                    ConflictKind::RoomCapacity,
                    format!(
                        "Room {} holds {}; {} has {} trainees.",
                        room.name, room.capacity, en.class_group_name, en.trainee_count
                    ),
                    None,
                ));
            }
            if !type_fits(en.room_type_for(&c.session_type), &room.room_type) {
                let wanted = en.room_type_for(&c.session_type).unwrap_or("non-online");
                out.push(Conflict::new(
                    ConflictKind::RoomTypeMismatch,
                    format!(
                        "{} {} sessions need a {} room; {} is a {}.",
                        en.course_code,
                        c.session_type,
                        type_words(wanted),
                        room.name,
                        type_words(&room.room_type)
                    ),
                    None,
                ));
            }
        }
        if let Some(limit) = room.max_sessions_per_day {
            let booked =
                Self::daily_count(self.same_day(&self.by_room, c.room, c), c.specific_date);
            if booked >= usize::try_from(limit).unwrap_or(0) {
                out.push(Conflict::new(
                    ConflictKind::RoomBookingLimit,
                    format!(
                        "Room {} already has its limit of {limit} sessions on {}.",
                        room.name,
                        weekday_title(c.weekday())
                    ),
                    None,
                ));
            }
        }
    }

    fn check_grid(&self, c: &Candidate, out: &mut Vec<Conflict>) {
        let day = c.weekday();
        let h = &self.hours;
        if !h.working_days.contains(&day) {
            out.push(Conflict::new(
                ConflictKind::OutsideSchoolHours,
                format!("{} is not a working day.", weekday_title(day)),
                None,
            ));
        } else if c.start < h.day_start || c.end > h.day_end {
            out.push(Conflict::new(
                ConflictKind::OutsideSchoolHours,
                format!(
                    "{}–{} is outside school hours ({}–{}).",
                    clock(c.start),
                    clock(c.end),
                    clock(h.day_start),
                    clock(h.day_end)
                ),
                None,
            ));
        }
        for b in &h.breaks {
            if times_overlap(c.start, c.end, b.start, b.end) {
                out.push(Conflict::new(
                    ConflictKind::BreakOverlap,
                    format!(
                        "{}–{} overlaps the {} break ({}–{}).",
                        clock(c.start),
                        clock(c.end),
                        b.name,
                        clock(b.start),
                        clock(b.end)
                    ),
                    None,
                ));
            }
        }
    }

    fn check_group_limit(&self, c: &Candidate, out: &mut Vec<Conflict>) {
        let Some(en) = self.enrollments.get(&c.enrollment) else {
            return;
        };
        let limit = self.hours.max_sessions_per_day_per_class_group;
        let count = Self::daily_count(
            self.same_day(&self.by_group, en.class_group, c),
            c.specific_date,
        );
        if count >= usize::try_from(limit).unwrap_or(0) {
            out.push(Conflict::new(
                ConflictKind::ClassGroupDailyLimit,
                format!(
                    "{} already has its limit of {limit} sessions on {}.",
                    en.class_group_name,
                    weekday_title(c.weekday())
                ),
                None,
            ));
        }
    }

    /// The first date (and reason) a maintenance window of the candidate's
    /// room intersects one of its occurrences in the term.
    fn maintenance_clash(&self, c: &Candidate) -> Option<(NaiveDate, Option<String>)> {
        let windows = self.maintenance.get(&c.room)?;
        let day = c.weekday();
        for w in windows {
            let first = w.start.date().max(self.term.start_date);
            let last = w.end.date().min(self.term.end_date);
            let mut date = first;
            while date <= last {
                let occurs = match c.specific_date {
                    Some(d) => d == date,
                    None => weekday_of(date) == day,
                };
                if occurs {
                    let midnight = date.and_hms_opt(0, 0, 0)?;
                    let from = midnight + Duration::minutes(i64::from(c.start));
                    let to = midnight + Duration::minutes(i64::from(c.end));
                    if from < w.end && w.start < to {
                        return Some((date, w.reason.clone()));
                    }
                }
                date = date.succ_opt()?;
            }
        }
        None
    }

    // ----- predicates for a generator -----

    /// Active, large enough and of the type the mapping asks for.
    pub fn room_suitable(&self, enrollment: Uuid, session_type: &str, room: Uuid) -> bool {
        let (Some(en), Some(r)) = (self.enrollments.get(&enrollment), self.rooms.get(&room)) else {
            return false;
        };
        r.is_active
            && r.capacity >= en.trainee_count
            && type_fits(en.room_type_for(session_type), &r.room_type)
    }

    /// A working day, inside school hours and clear of every break.
    pub fn fits_grid(&self, day: i32, start: i32, end: i32) -> bool {
        let h = &self.hours;
        h.working_days.contains(&day)
            && start >= h.day_start
            && end <= h.day_end
            && !h
                .breaks
                .iter()
                .any(|b| times_overlap(start, end, b.start, b.end))
    }

    /// Wholly inside one of the trainer's windows of that weekday (a
    /// trainer with no window at all is always available).
    pub fn trainer_available(&self, trainer: Uuid, day: i32, start: i32, end: i32) -> bool {
        crate::availability::covers(
            self.availability.get(&trainer).map(Vec::as_slice),
            day,
            start,
            end,
        )
    }

    /// No visible overlapping entry in the room, no maintenance, and the
    /// room's daily booking limit not reached.
    pub fn room_free(&self, c: &Candidate) -> bool {
        if self.overlapping(&self.by_room, c.room, c).next().is_some()
            || self.maintenance_clash(c).is_some()
        {
            return false;
        }
        match self.rooms.get(&c.room).and_then(|r| r.max_sessions_per_day) {
            Some(limit) => {
                Self::daily_count(self.same_day(&self.by_room, c.room, c), c.specific_date)
                    < usize::try_from(limit).unwrap_or(0)
            }
            None => true,
        }
    }

    /// The enrollment's trainer has no visible overlapping entry.
    pub fn trainer_free(&self, c: &Candidate) -> bool {
        match self.enrollments.get(&c.enrollment).and_then(|e| e.trainer) {
            Some(trainer) => self
                .overlapping(&self.by_trainer, trainer, c)
                .next()
                .is_none(),
            None => true,
        }
    }

    /// The class group has no visible overlapping entry and is below its
    /// daily limit.
    pub fn class_group_free(&self, c: &Candidate) -> bool {
        let Some(en) = self.enrollments.get(&c.enrollment) else {
            return true;
        };
        self.overlapping(&self.by_group, en.class_group, c)
            .next()
            .is_none()
            && Self::daily_count(
                self.same_day(&self.by_group, en.class_group, c),
                c.specific_date,
            ) < usize::try_from(self.hours.max_sessions_per_day_per_class_group).unwrap_or(0)
    }

    // ----- suggestions -----

    /// Rooms that pass every room rule at the candidate's slot: suitable
    /// and free, smallest adequate first.
    pub fn suggest_rooms(&self, c: &Candidate) -> Vec<&RoomInfo> {
        self.rooms()
            .filter(|r| {
                let mut probe = c.clone();
                probe.room = r.id;
                self.room_suitable(c.enrollment, &c.session_type, r.id) && self.room_free(&probe)
            })
            .collect()
    }

    /// Up to `limit` conflict-free slots of the candidate's duration for
    /// its enrollment: its own weekday first, then the following weekdays;
    /// within a day the starts on the grid nearest the candidate's first.
    /// Each keeps the candidate's room when it can, else takes the
    /// smallest adequate free room.
    pub fn suggest_slots(&self, c: &Candidate, limit: usize) -> Vec<SlotSuggestion> {
        let mut out = Vec::new();
        let duration = c.end - c.start;
        let step = self.hours.slot_minutes.max(5);
        if duration <= 0 {
            return out;
        }
        let own_day = c.weekday();
        for offset in 0..7 {
            let day = (own_day + offset) % 7;
            if !self.hours.working_days.contains(&day) {
                continue;
            }
            let date = match c.specific_date {
                Some(d) => match d.checked_add_signed(Duration::days(i64::from(offset))) {
                    Some(moved) if self.term.contains(moved) => Some(moved),
                    _ => continue,
                },
                None => None,
            };
            let mut starts: Vec<i32> = (0..)
                .map(|k| self.hours.day_start + k * step)
                .take_while(|s| s + duration <= self.hours.day_end)
                .collect();
            starts.sort_by_key(|s| ((s - c.start).abs(), *s));
            for start in starts {
                let mut probe = c.clone();
                probe.day = day;
                probe.specific_date = date;
                probe.start = start;
                probe.end = start + duration;
                if let Some(room) = self.free_room_for(&probe) {
                    out.push(SlotSuggestion {
                        day,
                        start,
                        end: start + duration,
                        room,
                    });
                    if out.len() >= limit {
                        return out;
                    }
                }
            }
        }
        out
    }

    /// A room for a candidate that passes every rule: its own room when it
    /// does, else the smallest adequate one.
    fn free_room_for(&self, probe: &Candidate) -> Option<Uuid> {
        let others = self.check(probe);
        if others.is_empty() {
            return Some(probe.room);
        }
        if others.iter().any(|k| !k.kind.is_about_room()) {
            return None;
        }
        self.room_order.iter().copied().find(|&room| {
            let mut moved = probe.clone();
            moved.room = room;
            self.room_suitable(probe.enrollment, &probe.session_type, room)
                && self.room_free(&moved)
        })
    }
}

/// Whether a room of `room_type` satisfies the mapping's `wanted` type:
/// equal types; an online room only an online session; no type asked,
/// any room but an online one.
fn type_fits(wanted: Option<&str>, room_type: &str) -> bool {
    match wanted {
        Some(w) => w == room_type,
        None => room_type != ONLINE,
    }
}

// ----- loading -----

impl TermPlan {
    /// Loads term `term_id` (unknown → 404): its settings, every room,
    /// every enrollment of the term, its entries, the availability of its
    /// trainers, room maintenance around its dates and its draft scopes.
    pub async fn load(db: &impl ConnectionTrait, term_id: Uuid) -> Result<Self, ApiError> {
        let term = term::Entity::find_by_id(term_id)
            .one(db)
            .await?
            .ok_or_else(ApiError::not_found)?;
        let timezone = school_timezone(db).await?;
        let mut plan = Self::new(
            TermInfo {
                id: term.id,
                name: term.name.clone(),
                number: term.number,
                start_date: term.start_date,
                end_date: term.end_date,
            },
            load_hours(db, term_id).await?,
            timezone,
        );
        for r in room::Entity::find().all(db).await? {
            plan.add_room(RoomInfo {
                id: r.id,
                name: r.name,
                room_type: r.room_type,
                capacity: r.capacity,
                is_active: r.is_active,
                max_sessions_per_day: r.max_sessions_per_day,
                department: r.department_id,
                building: r.building,
            });
        }
        let enrollments = load_enrollments(db, &term).await?;
        let mut trainers: Vec<Uuid> = enrollments.iter().filter_map(|e| e.trainer).collect();
        trainers.sort_unstable();
        trainers.dedup();
        for e in enrollments {
            plan.add_enrollment(e);
        }
        for (trainer, windows) in
            crate::availability::windows_for_term(db, term_id, &trainers).await?
        {
            if let Some(windows) = windows {
                plan.set_availability(trainer, windows);
            }
        }
        for w in load_maintenance(db, &plan.term, timezone).await? {
            plan.add_maintenance(w);
        }
        let versions: Vec<String> = draft_version::Entity::find()
            .select_only()
            .column(draft_version::Column::Version)
            .filter(draft_version::Column::TermId.eq(term_id))
            .into_tuple()
            .all(db)
            .await?;
        if !versions.is_empty() {
            let rows: Vec<(String, Uuid)> = draft_scope::Entity::find()
                .select_only()
                .column(draft_scope::Column::DraftVersion)
                .column(draft_scope::Column::EnrollmentId)
                .filter(draft_scope::Column::DraftVersion.is_in(versions.clone()))
                .into_tuple()
                .all(db)
                .await?;
            let mut scopes: HashMap<String, HashSet<Uuid>> =
                versions.into_iter().map(|v| (v, HashSet::new())).collect();
            for (version, enrollment) in rows {
                scopes.entry(version).or_default().insert(enrollment);
            }
            plan.scopes = scopes;
        }
        for m in timetable_entry::Entity::find()
            .filter(timetable_entry::Column::TermId.eq(term_id))
            .all(db)
            .await?
        {
            plan.place(PlanEntry::from_model(&m));
        }
        Ok(plan)
    }
}

/// The school's IANA timezone (UTC before setup or when unknown).
pub async fn school_timezone(db: &impl ConnectionTrait) -> Result<Tz, sea_orm::DbErr> {
    let zone: Option<String> = school::Entity::find()
        .select_only()
        .column(school::Column::Timezone)
        .into_tuple()
        .one(db)
        .await?;
    Ok(zone
        .and_then(|z| z.parse::<Tz>().ok())
        .unwrap_or(chrono_tz::UTC))
}

/// The settings in force for a term (`timetable_settings::effective`:
/// its own row, else the default row, else the contract's defaults).
async fn load_hours(db: &impl ConnectionTrait, term_id: Uuid) -> Result<Hours, sea_orm::DbErr> {
    let grid = crate::timetable_settings::effective(db, term_id).await?;
    Ok(Hours {
        working_days: grid.working_days,
        day_start: grid.day_start,
        day_end: grid.day_end,
        slot_minutes: grid.slot_minutes,
        breaks: grid
            .breaks
            .into_iter()
            .map(|(start, end, name)| Break { name, start, end })
            .collect(),
        max_sessions_per_day_per_class_group: grid.max_sessions_per_day_per_class_group,
    })
}

/// Every enrollment of the term with its class group, course, trainer and
/// mapping.
async fn load_enrollments(
    db: &impl ConnectionTrait,
    term: &term::Model,
) -> Result<Vec<EnrollmentInfo>, sea_orm::DbErr> {
    let rows = enrollment::Entity::find()
        .filter(enrollment::Column::TermId.eq(term.id))
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let group_ids: HashSet<Uuid> = rows.iter().map(|e| e.class_group_id).collect();
    let course_ids: HashSet<Uuid> = rows.iter().map(|e| e.course_id).collect();
    let trainer_ids: HashSet<Uuid> = rows.iter().filter_map(|e| e.trainer_id).collect();
    let groups: HashMap<Uuid, class_group::Model> = class_group::Entity::find()
        .filter(class_group::Column::Id.is_in(group_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|g| (g.id, g))
        .collect();
    let mut counts: HashMap<Uuid, i32> = HashMap::new();
    let members: Vec<Uuid> = class_group_trainee::Entity::find()
        .select_only()
        .column(class_group_trainee::Column::ClassGroupId)
        .filter(class_group_trainee::Column::ClassGroupId.is_in(group_ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    for g in members {
        *counts.entry(g).or_default() += 1;
    }
    let courses: HashMap<Uuid, course::Model> = course::Entity::find()
        .filter(course::Column::Id.is_in(course_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let mappings = course_mapping::Entity::find()
        .filter(course_mapping::Column::CourseId.is_in(course_ids.iter().copied()))
        .filter(course_mapping::Column::TermNumber.eq(term.number))
        .all(db)
        .await?;
    let trainers: HashMap<Uuid, String> = if trainer_ids.is_empty() {
        HashMap::new()
    } else {
        user::Entity::find()
            .filter(user::Column::Id.is_in(trainer_ids.iter().copied()))
            .all(db)
            .await?
            .into_iter()
            .map(|u| (u.id, u.full_name()))
            .collect()
    };
    Ok(rows
        .into_iter()
        .filter_map(|e| {
            let group = groups.get(&e.class_group_id)?;
            let c = courses.get(&e.course_id)?;
            let mapping = mappings.iter().find(|m| {
                m.course_id == c.id
                    && m.programme_id == group.programme_id
                    && m.year_of_study == group.year_of_study
            });
            Some(EnrollmentInfo {
                id: e.id,
                status: e.status,
                class_group: group.id,
                class_group_name: group.name.clone(),
                trainee_count: counts.get(&group.id).copied().unwrap_or(0),
                trainer: e.trainer_id,
                trainer_name: e
                    .trainer_id
                    .and_then(|t| trainers.get(&t).cloned())
                    .unwrap_or_default(),
                course: c.id,
                course_code: c.code.clone(),
                course_name: c.name.clone(),
                department: c.department_id,
                theory_sessions: c.theory_sessions_per_week,
                practical_sessions: c.practical_sessions_per_week,
                session_minutes: c.session_duration_minutes,
                theory_room_type: mapping.and_then(|m| m.theory_room_type.clone()),
                practical_room_type: mapping.and_then(|m| m.practical_room_type.clone()),
            })
        })
        .collect())
}

/// Maintenance windows that can touch the term, in school-local time.
async fn load_maintenance(
    db: &impl ConnectionTrait,
    term: &TermInfo,
    timezone: Tz,
) -> Result<Vec<Maintenance>, sea_orm::DbErr> {
    let margin = Duration::days(2);
    let from = term
        .start_date
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc() - margin);
    let to = term
        .end_date
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc() + margin);
    let mut query = room_maintenance::Entity::find();
    if let (Some(from), Some(to)) = (from, to) {
        query = query
            .filter(room_maintenance::Column::EndsAt.gt(from))
            .filter(room_maintenance::Column::StartsAt.lt(to));
    }
    let local =
        |t: chrono::DateTime<chrono::Utc>| timezone.from_utc_datetime(&t.naive_utc()).naive_local();
    Ok(query
        .all(db)
        .await?
        .into_iter()
        .map(|m| Maintenance {
            room: m.room_id,
            start: local(m.starts_at),
            end: local(m.ends_at),
            reason: m.reason.filter(|r| !r.trim().is_empty()),
        })
        .collect())
}

/// The ISO weekday of a date as the contract's `day_name` (`Monday`).
pub fn day_name(date: NaiveDate) -> String {
    weekday_title(weekday_of(date))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    const B12: u128 = 1;
    const LAB: u128 = 2;
    const BIG: u128 = 3;
    const COMP101: u128 = 10; // CS-1A, trainer Jane
    const COMP102: u128 = 11; // CS-1A, trainer John
    const MATH: u128 = 12; // CS-1B, trainer Jane
    const OTHER: u128 = 13; // CS-1B, trainer John
    const JANE: u128 = 20;
    const JOHN: u128 = 21;
    const CS1A: u128 = 30;
    const CS1B: u128 = 31;

    fn d(s: &str) -> NaiveDate {
        crate::rest::parse_date(s).expect("date")
    }

    fn room(n: u128, name: &str, kind: &str, capacity: i32) -> RoomInfo {
        RoomInfo {
            id: id(n),
            name: name.into(),
            room_type: kind.into(),
            capacity,
            is_active: true,
            max_sessions_per_day: None,
            department: None,
            building: None,
        }
    }

    fn enrollment(n: u128, code: &str, group: u128, trainer: u128) -> EnrollmentInfo {
        EnrollmentInfo {
            id: id(n),
            status: "scheduled".into(),
            class_group: id(group),
            class_group_name: if group == CS1A { "CS-1A" } else { "CS-1B" }.into(),
            trainee_count: 25,
            trainer: Some(id(trainer)),
            trainer_name: if trainer == JANE {
                "Jane Doe"
            } else {
                "John Roe"
            }
            .into(),
            course: id(n + 100),
            course_code: code.into(),
            course_name: code.into(),
            department: id(99),
            theory_sessions: 2,
            practical_sessions: 1,
            session_minutes: 120,
            theory_room_type: Some("classroom".into()),
            practical_room_type: Some("lab".into()),
        }
    }

    /// Term 2025-09-01 (a Monday) – 2025-12-05, rooms B12 (classroom 30),
    /// LAB (lab 30), BIG (classroom 100), four enrollments.
    fn plan() -> TermPlan {
        let mut p = TermPlan::new(
            TermInfo {
                id: id(500),
                name: "Term 1".into(),
                number: 1,
                start_date: d("2025-09-01"),
                end_date: d("2025-12-05"),
            },
            Hours::default(),
            chrono_tz::UTC,
        );
        p.add_room(room(B12, "B12", "classroom", 30));
        p.add_room(room(LAB, "LAB", "lab", 30));
        p.add_room(room(BIG, "BIG", "classroom", 100));
        p.add_enrollment(enrollment(COMP101, "COMP101", CS1A, JANE));
        p.add_enrollment(enrollment(COMP102, "COMP102", CS1A, JOHN));
        p.add_enrollment(enrollment(MATH, "MATH101", CS1B, JANE));
        p.add_enrollment(enrollment(OTHER, "ENG101", CS1B, JOHN));
        p
    }

    fn entry(n: u128, en: u128, rm: u128, day: i32, start: &str, end: &str) -> PlanEntry {
        PlanEntry {
            id: id(n),
            enrollment: id(en),
            room: id(rm),
            session_type: "theory".into(),
            day,
            start: crate::rest::parse_clock(start).expect("clock"),
            end: crate::rest::parse_clock(end).expect("clock"),
            date: None,
            is_draft: false,
            draft_version: None,
        }
    }

    fn cand(en: u128, rm: u128, day: i32, start: &str, end: &str) -> Candidate {
        Candidate {
            id: None,
            ..Candidate::of_entry(&entry(999, en, rm, day, start, end))
        }
    }

    fn kinds(conflicts: &[Conflict]) -> Vec<ConflictKind> {
        conflicts.iter().map(|c| c.kind).collect()
    }

    #[test]
    fn room_conflict_names_the_booking() {
        let mut p = plan();
        p.place(entry(1, COMP101, B12, 0, "08:00", "10:00"));
        let out = p.check(&cand(OTHER, B12, 0, "09:00", "11:00"));
        assert_eq!(kinds(&out), vec![ConflictKind::RoomConflict]);
        assert_eq!(
            out[0].message,
            "Room B12 is already booked on Monday 08:00–10:00 (COMP101, CS-1A)."
        );
        assert_eq!(out[0].entry, Some(id(1)));
        let json = serde_json::to_value(&out[0]).expect("json");
        assert_eq!(json["type"], "room_conflict");
        assert_eq!(json["entry"], id(1).to_string());
    }

    #[test]
    fn trainer_and_class_group_conflicts() {
        let mut p = plan();
        p.place(entry(1, COMP101, B12, 0, "08:00", "10:00"));
        // Jane teaches MATH too: trainer conflict only.
        let out = p.check(&cand(MATH, BIG, 0, "08:30", "09:30"));
        assert_eq!(kinds(&out), vec![ConflictKind::TrainerConflict]);
        assert!(
            out[0]
                .message
                .starts_with("Trainer Jane Doe is already teaching on Monday")
        );
        // CS-1A has COMP102 too: class group conflict only.
        let out = p.check(&cand(COMP102, BIG, 0, "09:00", "10:00"));
        assert_eq!(kinds(&out), vec![ConflictKind::ClassGroupConflict]);
        assert_eq!(out[0].entry, Some(id(1)));
        // All three at once.
        let out = p.check(&cand(COMP101, B12, 0, "08:00", "10:00"));
        assert_eq!(
            kinds(&out),
            vec![
                ConflictKind::RoomConflict,
                ConflictKind::TrainerConflict,
                ConflictKind::ClassGroupConflict
            ]
        );
    }

    #[test]
    fn touching_ends_and_other_weekdays_do_not_clash() {
        let mut p = plan();
        p.place(entry(1, COMP101, B12, 0, "08:00", "10:00"));
        assert!(p.check(&cand(COMP101, B12, 0, "10:00", "12:00")).is_empty());
        assert!(p.check(&cand(COMP101, B12, 0, "06:00", "08:00")).len() == 1); // only hours
        assert!(p.check(&cand(COMP101, B12, 1, "08:00", "10:00")).is_empty());
    }

    #[test]
    fn an_entry_never_clashes_with_itself() {
        let mut p = plan();
        let e = entry(1, COMP101, B12, 0, "08:00", "10:00");
        p.place(e.clone());
        assert!(p.check(&Candidate::of_entry(&e)).is_empty());
    }

    #[test]
    fn one_offs_against_recurring_and_each_other() {
        let mut p = plan();
        p.place(entry(1, COMP101, B12, 0, "08:00", "10:00"));
        // 2025-09-08 is a Monday: clashes with the weekly Monday entry.
        let mut c = cand(OTHER, B12, 0, "08:00", "10:00");
        c.specific_date = Some(d("2025-09-08"));
        assert_eq!(kinds(&p.check(&c)), vec![ConflictKind::RoomConflict]);
        // 2025-09-09 is a Tuesday: no clash, whatever `day` says.
        c.specific_date = Some(d("2025-09-09"));
        assert!(p.check(&c).is_empty());
        // Two one-offs: only the same date clashes.
        let mut one = entry(2, COMP102, LAB, 1, "13:00", "14:00");
        one.date = Some(d("2025-09-09"));
        p.place(one);
        let mut c = cand(MATH, LAB, 1, "13:00", "14:00");
        c.session_type = "practical".into();
        c.specific_date = Some(d("2025-09-16"));
        assert!(p.check(&c).is_empty());
        c.specific_date = Some(d("2025-09-09"));
        assert_eq!(kinds(&p.check(&c)), vec![ConflictKind::RoomConflict]);
        // A weekly Tuesday entry clashes with the one-off.
        let mut weekly = c.clone();
        weekly.specific_date = None;
        assert_eq!(kinds(&p.check(&weekly)), vec![ConflictKind::RoomConflict]);
        assert!(
            p.check(&weekly)[0]
                .message
                .contains("Tuesday 2025-09-09 13:00–14:00")
        );
    }

    #[test]
    fn scope_rule() {
        let mut p = plan();
        p.set_scope("T1-A", [id(COMP101), id(COMP102)]);
        p.set_scope("T1-B", [id(MATH)]);
        // A published entry of COMP101 (covered by T1-A).
        p.place(entry(1, COMP101, B12, 0, "08:00", "10:00"));
        // A generated draft entry of T1-A.
        let mut gen_a = entry(2, COMP102, LAB, 1, "08:00", "10:00");
        gen_a.is_draft = true;
        gen_a.draft_version = Some("T1-A".into());
        p.place(gen_a);
        // A hand-made draft of ENG101 (outside both scopes).
        let mut hand = entry(3, OTHER, BIG, 2, "08:00", "10:00");
        hand.is_draft = true;
        p.place(hand);

        // Hand-made candidates see published and hand-made, not T1-A drafts.
        assert!(!p.check(&cand(OTHER, B12, 0, "08:00", "10:00")).is_empty());
        assert!(
            p.check(&cand(OTHER, LAB, 1, "08:00", "10:00"))
                .iter()
                .all(|c| c.kind != ConflictKind::RoomConflict)
        );
        assert!(!p.check(&cand(MATH, BIG, 2, "08:00", "10:00")).is_empty());

        // A T1-A candidate: sees T1-A's entries, not the published COMP101
        // (its enrollment is covered by T1-A), sees the hand-made ENG101.
        let mut c = cand(COMP102, B12, 0, "08:00", "10:00");
        c.draft_version = Some("T1-A".into());
        assert!(p.check(&c).is_empty());
        c.room = id(LAB);
        c.day = 1;
        c.session_type = "practical".into();
        assert_eq!(
            kinds(&p.check(&c)),
            vec![
                ConflictKind::RoomConflict,
                ConflictKind::TrainerConflict,
                ConflictKind::ClassGroupConflict
            ]
        );
        // The hand-made ENG101 is outside T1-A's scope, so it counts: same
        // room, and John teaches both.
        c.room = id(BIG);
        c.day = 2;
        c.session_type = "theory".into();
        assert_eq!(
            kinds(&p.check(&c)),
            vec![ConflictKind::RoomConflict, ConflictKind::TrainerConflict]
        );

        // A T1-B candidate sees the published COMP101 (outside T1-B) but not
        // T1-A's drafts.
        let mut c = cand(MATH, B12, 0, "08:00", "10:00");
        c.draft_version = Some("T1-B".into());
        assert_eq!(
            kinds(&p.check(&c)),
            vec![ConflictKind::RoomConflict, ConflictKind::TrainerConflict]
        );
        c.room = id(LAB);
        c.day = 1;
        c.session_type = "practical".into();
        assert!(p.check(&c).is_empty());
    }

    #[test]
    fn trainer_availability() {
        let mut p = plan();
        p.set_availability(id(JANE), vec![(0, 8 * 60, 12 * 60), (0, 13 * 60, 17 * 60)]);
        assert!(p.check(&cand(COMP101, B12, 0, "08:00", "12:00")).is_empty());
        let out = p.check(&cand(COMP101, B12, 0, "11:00", "14:00"));
        assert_eq!(kinds(&out), vec![ConflictKind::TrainerUnavailable]);
        assert_eq!(
            out[0].message,
            "Trainer Jane Doe is not available on Monday 11:00–14:00."
        );
        assert_eq!(
            kinds(&p.check(&cand(COMP101, B12, 1, "08:00", "09:00"))),
            vec![ConflictKind::TrainerUnavailable]
        );
        // John has no window: always available.
        assert!(p.check(&cand(COMP102, B12, 3, "08:00", "09:00")).is_empty());
    }

    #[test]
    fn room_rules() {
        let mut p = plan();
        let mut closed = room(4, "OLD", "classroom", 10);
        closed.is_active = false;
        p.add_room(closed);
        assert_eq!(
            kinds(&p.check(&cand(COMP101, 4, 0, "08:00", "10:00"))),
            vec![ConflictKind::RoomInactive, ConflictKind::RoomCapacity]
        );
        let out = p.check(&cand(COMP101, LAB, 0, "08:00", "10:00"));
        assert_eq!(kinds(&out), vec![ConflictKind::RoomTypeMismatch]);
        assert_eq!(
            out[0].message,
            "COMP101 theory sessions need a classroom room; LAB is a lab."
        );
        p.add_room(room(5, "ZOOM", ONLINE, 500));
        assert_eq!(
            kinds(&p.check(&cand(COMP101, 5, 0, "08:00", "10:00"))),
            vec![ConflictKind::RoomTypeMismatch]
        );
    }

    #[test]
    fn room_booking_limit_counts_the_day() {
        let mut p = plan();
        let mut limited = room(4, "C1", "classroom", 40);
        limited.max_sessions_per_day = Some(2);
        p.add_room(limited);
        p.place(entry(1, COMP101, 4, 0, "08:00", "09:00"));
        p.place(entry(2, MATH, 4, 0, "10:00", "11:00"));
        let out = p.check(&cand(COMP102, 4, 0, "12:00", "13:00"));
        assert_eq!(kinds(&out), vec![ConflictKind::RoomBookingLimit]);
        assert!(p.check(&cand(COMP102, 4, 1, "12:00", "13:00")).is_empty());
        // Updating one of the two does not count itself.
        let mut again = Candidate::of_entry(p.entry(id(2)).expect("entry"));
        again.start = 14 * 60;
        again.end = 15 * 60;
        assert!(p.check(&again).is_empty());
    }

    #[test]
    fn school_hours_breaks_and_daily_limit() {
        let mut p = plan();
        p.hours.breaks.push(Break {
            name: "Lunch".into(),
            start: 12 * 60,
            end: 13 * 60,
        });
        p.hours.max_sessions_per_day_per_class_group = 2;
        assert_eq!(
            kinds(&p.check(&cand(COMP101, B12, 5, "08:00", "10:00"))),
            vec![ConflictKind::OutsideSchoolHours]
        );
        let out = p.check(&cand(COMP101, B12, 0, "16:00", "18:00"));
        assert_eq!(
            out[0].message,
            "16:00–18:00 is outside school hours (08:00–17:00)."
        );
        let out = p.check(&cand(COMP101, B12, 0, "11:00", "13:00"));
        assert_eq!(kinds(&out), vec![ConflictKind::BreakOverlap]);
        assert_eq!(
            out[0].message,
            "11:00–13:00 overlaps the Lunch break (12:00–13:00)."
        );
        assert!(p.check(&cand(COMP101, B12, 0, "13:00", "15:00")).is_empty());
        p.place(entry(1, COMP101, B12, 0, "08:00", "09:00"));
        p.place(entry(2, COMP102, B12, 0, "09:00", "10:00"));
        assert_eq!(
            kinds(&p.check(&cand(COMP101, BIG, 0, "14:00", "15:00"))),
            vec![ConflictKind::ClassGroupDailyLimit]
        );
        assert!(p.check(&cand(MATH, BIG, 0, "14:00", "15:00")).is_empty());
    }

    #[test]
    fn maintenance_intersects_an_occurrence() {
        let mut p = plan();
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time");
        p.add_maintenance(Maintenance {
            room: id(B12),
            start: at("2025-09-10 09:00"), // a Wednesday
            end: at("2025-09-10 11:00"),
            reason: Some("Painting".into()),
        });
        let out = p.check(&cand(COMP101, B12, 2, "08:00", "09:30"));
        assert_eq!(kinds(&out), vec![ConflictKind::RoomMaintenance]);
        assert_eq!(
            out[0].message,
            "Room B12 is under maintenance on 2025-09-10 (Painting)."
        );
        assert!(p.check(&cand(COMP101, B12, 2, "11:00", "12:00")).is_empty());
        assert!(p.check(&cand(COMP101, B12, 1, "09:00", "10:00")).is_empty());
        let mut one_off = cand(COMP101, B12, 2, "09:00", "10:00");
        one_off.specific_date = Some(d("2025-09-17"));
        assert!(p.check(&one_off).is_empty());
    }

    #[test]
    fn predicates_and_place_remove() {
        let mut p = plan();
        let e = entry(1, COMP101, B12, 0, "08:00", "10:00");
        p.place(e);
        let c = cand(MATH, B12, 0, "09:00", "10:00");
        assert!(!p.room_free(&c));
        assert!(!p.trainer_free(&c));
        assert!(p.class_group_free(&c));
        assert!(p.room_suitable(id(MATH), "theory", id(B12)));
        assert!(!p.room_suitable(id(MATH), "theory", id(LAB)));
        assert!(p.fits_grid(0, 8 * 60, 10 * 60));
        assert!(!p.fits_grid(6, 8 * 60, 10 * 60));
        assert!(p.remove(id(1)).is_some());
        assert!(p.room_free(&c) && p.trainer_free(&c));
        assert!(p.check(&c).is_empty());
    }

    #[test]
    fn suggestions() {
        let mut p = plan();
        p.place(entry(1, COMP101, B12, 0, "08:00", "10:00"));
        let c = cand(OTHER, B12, 0, "08:00", "10:00");
        let rooms: Vec<&str> = p
            .suggest_rooms(&c)
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(rooms, vec!["BIG"]);
        let slots = p.suggest_slots(&c, 10);
        assert_eq!(slots.len(), 10);
        assert_eq!(
            slots[0],
            SlotSuggestion {
                day: 0,
                start: 8 * 60,
                end: 10 * 60,
                room: id(BIG)
            }
        );
        assert_eq!(slots[1].start, 8 * 60 + 30);
        assert_eq!(slots[1].room, id(BIG));
        assert!(slots.iter().all(|s| s.day == 0));
        for s in &slots {
            let mut probe = c.clone();
            probe.start = s.start;
            probe.end = s.end;
            probe.room = s.room;
            assert!(p.check(&probe).is_empty());
        }
    }
}
