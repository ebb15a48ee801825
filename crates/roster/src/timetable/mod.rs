//! The timetable (contract §4): the conflict engine every write and the
//! generator check against, the entries API with conflicts and
//! suggestions, drafts and publishing, personal and class-group schedules
//! and the weekly grid export.
//!
//! This file holds what those parts share: who sees which entries (the
//! scoping table), who may change them, and an entry's API shape.

pub mod drafts;
pub mod engine;
pub mod entries;
pub mod export;
pub mod generate;
pub mod generation_api;
pub mod schedule;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::access::{self, Role, headed_department};
use crate::entities::{class_group, course, enrollment, programme, room, timetable_entry, user};
use crate::rest::{clock, weekday};
use crate::state::AppState;

kernel::choices!(
    /// A weekday as entries take and show it: `monday` … `sunday`.
    pub DayName = &crate::rest::WEEKDAYS
);

kernel::choices!(
    /// An entry's session type.
    pub SessionType = &engine::SESSION_TYPES
);

/// Every documented timetable path of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(entries::router())
        .merge(drafts::router())
        .merge(schedule::router())
        .merge(export::router())
}

/// The hyphenated forms of the action names.
pub fn aliases() -> axum::Router<AppState> {
    drafts::aliases().merge(entries::aliases())
}

/// The enrollments of a department: its courses' and its programmes'
/// class groups'.
pub(crate) async fn department_enrollments(
    db: &impl ConnectionTrait,
    department: Uuid,
) -> Result<Vec<Uuid>, DbErr> {
    let courses: Vec<Uuid> = course::Entity::find()
        .select_only()
        .column(course::Column::Id)
        .filter(course::Column::DepartmentId.eq(department))
        .into_tuple()
        .all(db)
        .await?;
    let programmes: Vec<Uuid> = programme::Entity::find()
        .select_only()
        .column(programme::Column::Id)
        .filter(programme::Column::DepartmentId.eq(department))
        .into_tuple()
        .all(db)
        .await?;
    let groups: Vec<Uuid> = class_group::Entity::find()
        .select_only()
        .column(class_group::Column::Id)
        .filter(class_group::Column::ProgrammeId.is_in(programmes))
        .into_tuple()
        .all(db)
        .await?;
    enrollment::Entity::find()
        .select_only()
        .column(enrollment::Column::Id)
        .filter(
            Condition::any()
                .add(enrollment::Column::CourseId.is_in(courses))
                .add(enrollment::Column::ClassGroupId.is_in(groups)),
        )
        .into_tuple()
        .all(db)
        .await
}

/// The entries `me` may read, as a condition on `roster_timetable_entries`
/// (None: every entry). Trainers and trainees see published entries of
/// their own enrollments / class groups; a HOD every entry of the
/// department, drafts too.
pub(crate) async fn read_scope(
    db: &impl ConnectionTrait,
    me: &user::Model,
) -> Result<Option<Condition>, DbErr> {
    let published = timetable_entry::Column::IsDraft.eq(false);
    Ok(match me.role() {
        Role::Admin | Role::DpAcademics => None,
        Role::Hod => {
            let ids = match headed_department(db, me).await? {
                Some(d) => department_enrollments(db, d).await?,
                None => Vec::new(),
            };
            Some(Condition::all().add(timetable_entry::Column::EnrollmentId.is_in(ids)))
        }
        Role::Trainer => {
            let ids = access::trainer_enrollments(db, me.id).await?;
            Some(
                Condition::all()
                    .add(published)
                    .add(timetable_entry::Column::EnrollmentId.is_in(ids)),
            )
        }
        Role::Trainee => {
            let groups = access::trainee_class_groups(db, me.id).await?;
            let ids: Vec<Uuid> = enrollment::Entity::find()
                .select_only()
                .column(enrollment::Column::Id)
                .filter(enrollment::Column::ClassGroupId.is_in(groups))
                .into_tuple()
                .all(db)
                .await?;
            Some(
                Condition::all()
                    .add(published)
                    .add(timetable_entry::Column::EnrollmentId.is_in(ids)),
            )
        }
    })
}

/// The enrollments whose entries `me` may write (None: all; a HOD the
/// department's; other roles none).
pub(crate) async fn write_scope(
    db: &impl ConnectionTrait,
    me: &user::Model,
) -> Result<Option<HashSet<Uuid>>, DbErr> {
    Ok(match me.role() {
        Role::Admin | Role::DpAcademics => None,
        Role::Hod => Some(match headed_department(db, me).await? {
            Some(d) => department_enrollments(db, d).await?.into_iter().collect(),
            None => HashSet::new(),
        }),
        Role::Trainer | Role::Trainee => Some(HashSet::new()),
    })
}

/// A timetable entry as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntryOut {
    pub id: Uuid,
    pub enrollment: Uuid,
    pub term: Uuid,
    pub course: Option<Uuid>,
    pub course_code: String,
    pub course_name: String,
    pub class_group: Option<Uuid>,
    pub class_group_name: String,
    pub trainer: Option<Uuid>,
    pub trainer_name: String,
    /// `monday` … `sunday`.
    pub day_of_week: String,
    /// `HH:MM`.
    pub start_time: String,
    pub end_time: String,
    pub duration_minutes: i32,
    pub room: Uuid,
    pub room_name: String,
    #[serde(skip)]
    pub room_building: Option<String>,
    /// `theory` or `practical`.
    pub session_type: String,
    pub is_recurring: bool,
    pub specific_date: Option<chrono::NaiveDate>,
    pub is_makeup: bool,
    pub is_draft: bool,
    pub draft_version: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl EntryOut {
    /// The API shape of `rows`, reading their enrollments, courses, class
    /// groups, trainers and rooms in a few queries.
    pub async fn many(
        db: &impl ConnectionTrait,
        rows: Vec<timetable_entry::Model>,
    ) -> Result<Vec<Self>, DbErr> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let enrollment_ids: HashSet<Uuid> = rows.iter().map(|r| r.enrollment_id).collect();
        let room_ids: HashSet<Uuid> = rows.iter().map(|r| r.room_id).collect();
        let enrollments: HashMap<Uuid, enrollment::Model> = enrollment::Entity::find()
            .filter(enrollment::Column::Id.is_in(enrollment_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        let courses: HashMap<Uuid, course::Model> = course::Entity::find()
            .filter(course::Column::Id.is_in(enrollments.values().map(|e| e.course_id)))
            .all(db)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let groups: HashMap<Uuid, String> = class_group::Entity::find()
            .filter(class_group::Column::Id.is_in(enrollments.values().map(|e| e.class_group_id)))
            .all(db)
            .await?
            .into_iter()
            .map(|g| (g.id, g.name))
            .collect();
        let trainers: HashMap<Uuid, String> = user::Entity::find()
            .filter(user::Column::Id.is_in(enrollments.values().filter_map(|e| e.trainer_id)))
            .all(db)
            .await?
            .into_iter()
            .map(|u| (u.id, u.full_name()))
            .collect();
        let rooms: HashMap<Uuid, room::Model> = room::Entity::find()
            .filter(room::Column::Id.is_in(room_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        Ok(rows
            .into_iter()
            .map(|r| {
                let en = enrollments.get(&r.enrollment_id);
                let c = en.and_then(|e| courses.get(&e.course_id));
                let rm = rooms.get(&r.room_id);
                Self {
                    id: r.id,
                    enrollment: r.enrollment_id,
                    term: r.term_id,
                    course: en.map(|e| e.course_id),
                    course_code: c.map(|c| c.code.clone()).unwrap_or_default(),
                    course_name: c.map(|c| c.name.clone()).unwrap_or_default(),
                    class_group: en.map(|e| e.class_group_id),
                    class_group_name: en
                        .and_then(|e| groups.get(&e.class_group_id).cloned())
                        .unwrap_or_default(),
                    trainer: en.and_then(|e| e.trainer_id),
                    trainer_name: en
                        .and_then(|e| e.trainer_id)
                        .and_then(|t| trainers.get(&t).cloned())
                        .unwrap_or_default(),
                    day_of_week: weekday(r.day).to_owned(),
                    start_time: clock(r.start_minute),
                    end_time: clock(r.end_minute),
                    duration_minutes: r.end_minute - r.start_minute,
                    room: r.room_id,
                    room_name: rm.map(|r| r.name.clone()).unwrap_or_default(),
                    room_building: rm.and_then(|r| r.building.clone()),
                    session_type: r.session_type,
                    is_recurring: r.is_recurring,
                    specific_date: r.specific_date,
                    is_makeup: r.is_makeup,
                    is_draft: r.is_draft,
                    draft_version: r.draft_version,
                    created_at: r.created_at,
                }
            })
            .collect())
    }

    /// The API shape of one entry.
    pub async fn one(
        db: &impl ConnectionTrait,
        row: timetable_entry::Model,
    ) -> Result<Self, DbErr> {
        Ok(Self::many(db, vec![row]).await?.remove(0))
    }
}

/// Sorts entries in weekday order, then by start time.
pub(crate) fn weekday_order(rows: &mut [timetable_entry::Model]) {
    rows.sort_by_key(|r| (r.day, r.start_minute, r.end_minute, r.id));
}
