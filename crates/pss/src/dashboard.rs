//! `/api/dashboard/`: statistics for administrators (`stats/`) and for a
//! candidate about themselves (`candidate-stats/`), computed with aggregate
//! queries.

use chrono::{Days, Duration, NaiveDate};
use kernel::Db;
use kernel::{ApiResult, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, PaginatorTrait, QueryFilter, QuerySelect,
    RelationTrait,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::entities::user::{self, Role};
use crate::entities::{admin_note, journal_entry, profile};
use crate::journal::{MoodCount, aggregate};
use crate::principal::{Candidate, Staff};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(admin_stats))
        .routes(routes!(candidate_stats))
}

/// The original's `admin-stats/`.
pub fn aliases() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/api/dashboard/admin-stats/",
        axum::routing::get(admin_stats),
    )
}

/// The administrators' overview.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminStatsOut {
    pub total_candidates: u64,
    /// Candidates who completed their intake.
    pub active_candidates: u64,
    /// Candidates who have not.
    pub pending_intake: u64,
    /// Barriers counted in journal entries dated within the last 7 days.
    pub recent_barriers: i64,
    /// Journal entries written in the last 7 days.
    pub recent_entries: u64,
    pub total_journal_entries: u64,
    pub total_admin_notes: u64,
    /// Notes written in the last 7 days.
    pub recent_admin_notes: u64,
}

/// Barriers counted in every journal entry dated `since` or later.
async fn sum_barriers<C: ConnectionTrait>(db: &C, since: NaiveDate) -> ApiResult<i64> {
    let query = journal_entry::Entity::find().filter(journal_entry::Column::Date.gte(since));
    let total: Option<i64> = query
        .select_only()
        .column_as(
            Expr::cust(kernel::db::sum_int(
                db.get_database_backend(),
                "pss_journal_entries.barrier_count",
            )),
            "total",
        )
        .into_tuple()
        .one(db)
        .await?;
    Ok(total.unwrap_or(0))
}

/// Counts over candidates, journal entries and notes (administrators and
/// superusers).
#[utoipa::path(get, path = "/api/dashboard/stats/", tag = "dashboard", security(("jwt" = [])),
    responses((status = 200, body = AdminStatsOut), (status = 401), (status = 403)))]
pub async fn admin_stats(Db(db): Db, _staff: Staff) -> ApiResult<Json<AdminStatsOut>> {
    let db = &db;
    let now = kernel::time::now();
    let week_ago = now - Duration::days(7);
    let candidates = user::Entity::find().filter(user::Column::Role.eq(Role::Candidate));
    let total_candidates = candidates.clone().count(db).await?;
    let active_candidates = candidates
        .join(JoinType::InnerJoin, user::Relation::Profile.def())
        .filter(profile::Column::HasCompletedIntake.eq(true))
        .count(db)
        .await?;
    let recent_barriers = sum_barriers(db, now.date_naive() - Days::new(7)).await?;
    let recent_entries = journal_entry::Entity::find()
        .filter(journal_entry::Column::CreatedAt.gte(week_ago))
        .count(db)
        .await?;
    let total_journal_entries = journal_entry::Entity::find().count(db).await?;
    let total_admin_notes = admin_note::Entity::find().count(db).await?;
    let recent_admin_notes = admin_note::Entity::find()
        .filter(admin_note::Column::CreatedAt.gte(week_ago))
        .count(db)
        .await?;
    Ok(Json(AdminStatsOut {
        total_candidates,
        active_candidates,
        pending_intake: total_candidates.saturating_sub(active_candidates),
        recent_barriers,
        recent_entries,
        total_journal_entries,
        total_admin_notes,
        recent_admin_notes,
    }))
}

/// A candidate's own overview.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidateStatsOut {
    pub total_entries: u64,
    pub last_entry_date: Option<NaiveDate>,
    /// Mean energy level (one decimal; 0 without entries).
    pub avg_energy_level: f64,
    /// Barriers counted in own entries dated within the last 30 days.
    pub recent_barriers: i64,
    /// Notes administrators wrote about the candidate.
    pub admin_notes_count: u64,
    pub mood_distribution: Vec<MoodCount>,
    pub has_completed_intake: bool,
}

/// The caller's own statistics (candidates only).
#[utoipa::path(get, path = "/api/dashboard/candidate-stats/", tag = "dashboard", security(("jwt" = [])),
    responses((status = 200, body = CandidateStatsOut), (status = 401), (status = 403)))]
pub async fn candidate_stats(
    Db(db): Db,
    Candidate(me): Candidate,
) -> ApiResult<Json<CandidateStatsOut>> {
    let db = &db;
    let since = kernel::time::now().date_naive() - Days::new(30);
    let own = journal_entry::Entity::find().filter(journal_entry::Column::UserId.eq(me.id()));
    let (total_entries, last_entry_date, recent_barriers, avg_energy_level, mood_distribution) =
        aggregate(db, own, since).await?;
    let admin_notes_count = admin_note::Entity::find()
        .filter(admin_note::Column::CandidateId.eq(me.id()))
        .count(db)
        .await?;
    let profile = crate::profiles::profile_of(db, me.id()).await?;
    Ok(Json(CandidateStatsOut {
        total_entries,
        last_entry_date,
        avg_energy_level,
        recent_barriers,
        admin_notes_count,
        mood_distribution,
        has_completed_intake: profile.has_completed_intake,
    }))
}
