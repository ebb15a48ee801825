//! The attendance jobs (contract §10): `roster.sessions.materialize` (daily,
//! the next 7 days), `roster.sessions.mark_missed` and
//! `roster.sessions.auto_close` (every minute), `roster.images.purge`
//! (daily). Each is idempotent and safe with several workers: every change
//! is a conditional update (or an insert-if-absent) that only one worker
//! wins, audited by the system in the same transaction.

use chrono::Duration;
use kernel::audit::{Action, Actor, AuditSink, Entry};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};
use uuid::Uuid;

use super::SessionStatus;
use super::sessions::{RESOURCE, course_code, local};
use crate::audit::Log;
use crate::entities::{attendance_record, attendance_session};
use crate::notify::{self, Kind, Note};
use crate::state::AppState;
use crate::timetable::engine::school_timezone;

pub const MATERIALIZE: &str = "roster.sessions.materialize";
pub const MARK_MISSED: &str = "roster.sessions.mark_missed";
pub const AUTO_CLOSE: &str = "roster.sessions.auto_close";
pub const PURGE_IMAGES: &str = "roster.images.purge";

/// Sessions handled per run (the next run takes the rest).
const BATCH: u64 = 500;

fn fault(error: DbErr) -> String {
    tracing::error!(%error, "attendance job");
    "database error".to_owned()
}

fn api_fault(error: kernel::ApiError) -> String {
    tracing::error!(?error, "attendance job");
    "audit error".to_owned()
}

/// The sessions of the published timetable for today and the next 6 days
/// (school dates), made as `generate/` makes them, except occurrences that
/// could no longer be started (they would only be marked missed).
pub async fn materialize(state: AppState, _payload: Value) -> Result<(), String> {
    let db = &state.db;
    let today = crate::timetable::schedule::school_today(db)
        .await
        .map_err(fault)?;
    let last = today + Duration::days(6);
    let settings = super::settings::load(db).await.map_err(fault)?;
    let startable =
        kernel::time::now() - Duration::minutes(i64::from(settings.start_window_after_minutes));
    let txn = kernel::db::begin_write(db).await.map_err(fault)?;
    let out = super::sessions::materialize(&*txn, today, last, None, None, Some(startable), None)
        .await
        .map_err(fault)?;
    if out.created > 0 {
        let actor = Actor::system();
        let entry = Entry::new(&actor, Action("generate"), RESOURCE, out.created);
        Log::write(
            &*txn,
            entry.changes(json!({
                "date_from": today, "date_to": last, "created": out.created, "skipped": out.skipped,
            })),
        )
        .await
        .map_err(api_fault)?;
    }
    txn.commit().await.map_err(fault)?;
    Ok(())
}

/// Scheduled sessions not started by `scheduled_start +
/// start_window_after_minutes` become `missed`; their trainer is told.
pub async fn mark_missed(state: AppState, _payload: Value) -> Result<(), String> {
    let db = &state.db;
    let settings = super::settings::load(db).await.map_err(fault)?;
    let cutoff =
        kernel::time::now() - Duration::minutes(i64::from(settings.start_window_after_minutes));
    let due = attendance_session::Entity::find()
        .filter(attendance_session::Column::Status.eq(SessionStatus::Scheduled.as_str()))
        .filter(attendance_session::Column::ScheduledStart.lt(cutoff))
        .order_by_asc(attendance_session::Column::ScheduledStart)
        .limit(BATCH)
        .all(db)
        .await
        .map_err(fault)?;
    let tz = school_timezone(db).await.map_err(fault)?;
    let actor = Actor::system();
    for s in due {
        let txn = kernel::db::begin_write(db).await.map_err(fault)?;
        let now = kernel::time::now();
        let done = attendance_session::Entity::update_many()
            .col_expr(
                attendance_session::Column::Status,
                Expr::value(SessionStatus::Missed.as_str()),
            )
            .col_expr(attendance_session::Column::UpdatedAt, Expr::value(now))
            .filter(attendance_session::Column::Id.eq(s.id))
            .filter(attendance_session::Column::Status.eq(SessionStatus::Scheduled.as_str()))
            .exec(&*txn)
            .await
            .map_err(fault)?;
        if done.rows_affected == 0 {
            continue;
        }
        let entry = Entry::new(&actor, Action("mark_missed"), RESOURCE, s.id);
        Log::write(
            &*txn,
            entry.changes(json!({"status": ["scheduled", "missed"]})),
        )
        .await
        .map_err(api_fault)?;
        if let Some(trainer) = s.trainer_id {
            let code = course_code(&*txn, s.course_id).await.map_err(fault)?;
            let message = format!(
                "{code} on {} was not started and is marked missed; you can schedule a makeup session.",
                local(tz, s.scheduled_start)
            );
            let note = Note::new(Kind::Session, "Session missed", &message).about(RESOURCE, s.id);
            notify::send(&*txn, [trainer], &note).await.map_err(fault)?;
        }
        txn.commit().await.map_err(fault)?;
        notify::wake(&state, s.trainer_id);
    }
    Ok(())
}

/// Active sessions not ended by `scheduled_end + auto_close_after_minutes`
/// are ended as the trainer would (`auto_closed: true`).
pub async fn auto_close(state: AppState, _payload: Value) -> Result<(), String> {
    let db = &state.db;
    let settings = super::settings::load(db).await.map_err(fault)?;
    let cutoff =
        kernel::time::now() - Duration::minutes(i64::from(settings.auto_close_after_minutes));
    let due = attendance_session::Entity::find()
        .filter(attendance_session::Column::Status.eq(SessionStatus::Active.as_str()))
        .filter(attendance_session::Column::ScheduledEnd.lt(cutoff))
        .order_by_asc(attendance_session::Column::ScheduledEnd)
        .limit(BATCH)
        .all(db)
        .await
        .map_err(fault)?;
    let actor = Actor::system();
    for s in due {
        let txn = kernel::db::begin_write(db).await.map_err(fault)?;
        let Some(summary) = super::checks::close(&*txn, &s, true).await.map_err(fault)? else {
            continue;
        };
        let entry = Entry::new(&actor, Action("auto_close"), RESOURCE, s.id);
        Log::write(
            &*txn,
            entry.changes(
                json!({"status": ["active", "completed"], "auto_closed": true, "summary": summary}),
            ),
        )
        .await
        .map_err(api_fault)?;
        txn.commit().await.map_err(fault)?;
        let mut people = super::sessions::trainees_of(db, s.class_group_id)
            .await
            .map_err(fault)?;
        people.extend(s.trainer_id);
        notify::wake(&state, people);
    }
    Ok(())
}

/// Check-in photos of sessions ended more than `image_retention_days` ago:
/// the column is cleared (once, by whichever worker wins) and the file
/// deleted.
pub async fn purge_images(state: AppState, _payload: Value) -> Result<(), String> {
    let db = &state.db;
    let settings = super::settings::load(db).await.map_err(fault)?;
    let cutoff = kernel::time::now() - Duration::days(i64::from(settings.image_retention_days));
    let ended = sea_orm::sea_query::Query::select()
        .column(attendance_session::Column::Id)
        .from(attendance_session::Entity)
        .and_where(attendance_session::Column::EndedAt.lt(cutoff))
        .to_owned();
    let due: Vec<(Uuid, String)> = attendance_record::Entity::find()
        .select_only()
        .column(attendance_record::Column::Id)
        .column(attendance_record::Column::Image)
        .filter(attendance_record::Column::Image.is_not_null())
        .filter(attendance_record::Column::SessionId.in_subquery(ended))
        .limit(BATCH)
        .into_tuple()
        .all(db)
        .await
        .map_err(fault)?;
    let actor = Actor::system();
    for (id, name) in due {
        let txn = kernel::db::begin_write(db).await.map_err(fault)?;
        let done = attendance_record::Entity::update_many()
            .col_expr(
                attendance_record::Column::Image,
                Expr::value(Option::<String>::None),
            )
            .filter(attendance_record::Column::Id.eq(id))
            .filter(attendance_record::Column::Image.eq(name.clone()))
            .exec(&*txn)
            .await
            .map_err(fault)?;
        if done.rows_affected == 0 {
            continue;
        }
        let entry = Entry::new(&actor, Action("purge_image"), "attendance_record", id);
        Log::write(&*txn, entry.changes(json!({"image": "purged"})))
            .await
            .map_err(api_fault)?;
        txn.commit().await.map_err(fault)?;
        state.storage.delete(&name).await;
    }
    Ok(())
}
