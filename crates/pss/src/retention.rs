//! The retention policy (POPIA: personal data no longer than necessary).
//! Candidate accounts nobody signed in to for `CAMPUS_PSS_RETENTION_DAYS`
//! are warned by email, warned again a week before the end, and erased 30
//! days after the first warning unless their owner signs in meanwhile.
//! Administrators and superusers are exempt. Off unless configured; `serve`
//! applies it hourly, and each step is its own transaction with its audit row
//! and email, so several nodes may run it at once.

use chrono::{DateTime, TimeDelta, Utc};
use kernel::ApiResult;
use kernel::audit::Action;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::json;

use crate::audit;
use crate::entities::deletion_request as deletion;
use crate::entities::retention_notice as notice;
use crate::entities::user::{self, Role};
use crate::state::AppState;

/// From the first warning to the erasure.
pub const GRACE: TimeDelta = TimeDelta::days(30);
/// The last warning goes out this long before the erasure.
pub const FINAL_WARNING: TimeDelta = TimeDelta::days(7);
/// Accounts newly warned per run.
const BATCH: u64 = 200;

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetentionReport {
    pub warned: u64,
    pub final_warnings: u64,
    pub cancelled: u64,
    pub erased: u64,
}

/// When the account was last used: its last sign-in, or its joining.
fn last_seen(account: &user::Model) -> DateTime<Utc> {
    account.last_login.unwrap_or(account.created_at)
}

/// Whether the policy still applies to an account with a notice.
fn still_due(account: &user::Model, notice: &notice::Model) -> bool {
    account.role == Role::Candidate && account.is_active && last_seen(account) <= notice.last_seen
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// Applies the policy as of `now` to accounts unused for `inactive_after`.
pub async fn enforce(
    state: &AppState,
    inactive_after: TimeDelta,
    now: DateTime<Utc>,
) -> ApiResult<RetentionReport> {
    let mut report = RetentionReport::default();
    let notices = notice::Entity::find()
        .order_by_asc(notice::Column::Id)
        .all(&state.db)
        .await?;
    for notice in notices {
        follow_up(state, notice, now, &mut report).await?;
    }
    warn_newly_inactive(state, inactive_after, now, &mut report).await?;
    Ok(report)
}

/// What a notice calls for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Cancel,
    Erase,
    FinalWarning,
    Wait,
}

fn step(account: &user::Model, notice: &notice::Model, now: DateTime<Utc>) -> Step {
    if !still_due(account, notice) {
        Step::Cancel
    } else if notice.scheduled_for <= now {
        Step::Erase
    } else if notice.final_warning_at.is_none() && notice.scheduled_for - now <= FINAL_WARNING {
        Step::FinalWarning
    } else {
        Step::Wait
    }
}

/// Cancels, finally warns or executes one notice, each in its own transaction.
async fn follow_up(
    state: &AppState,
    notice: notice::Model,
    now: DateTime<Utc>,
    report: &mut RetentionReport,
) -> ApiResult<()> {
    // Most notices just wait: no write transaction for them.
    let Some(account) = user::Entity::find_by_id(notice.user_id)
        .one(&state.db)
        .await?
    else {
        return Ok(());
    };
    if step(&account, &notice, now) == Step::Wait {
        return Ok(());
    }
    let txn = kernel::db::begin_write(&state.db).await?;
    let Some(current) = notice::Entity::find_by_id(notice.id)
        .lock_exclusive()
        .one(&txn)
        .await?
    else {
        return Ok(()); // Another node dealt with it.
    };
    let Some(account) = user::Entity::find_by_id(current.user_id)
        .lock_exclusive()
        .one(&txn)
        .await?
    else {
        return Ok(());
    };
    let mut queued = false;
    let next = step(&account, &current, now);
    if next == Step::Cancel {
        notice::Entity::delete_by_id(current.id).exec(&txn).await?;
        audit::record(
            &txn,
            audit::Actor::system(),
            Action::DELETE,
            "RetentionNotice",
            current.id,
            Some(json!({"cancelled": "changed"})),
        )
        .await?;
        report.cancelled += 1;
    } else if next == Step::Erase {
        // A request of the owner's still open is the one this completes.
        let open = deletion::Entity::find()
            .filter(deletion::Column::UserId.eq(account.id))
            .filter(deletion::Column::Status.is_in([deletion::PENDING, deletion::APPROVED]))
            .lock_exclusive()
            .one(&txn)
            .await?;
        let request = match open {
            Some(open) => open,
            None => {
                deletion::ActiveModel {
                    id: sea_orm::ActiveValue::NotSet,
                    user_id: Set(account.id),
                    status: Set(deletion::APPROVED.to_owned()),
                    reason: Set(format!(
                        "Unused since {}: erased under the retention policy.",
                        day(current.last_seen)
                    )),
                    requested_at: Set(current.created_at),
                    reviewed_by: Set(None),
                    reviewed_at: Set(None),
                    admin_notes: Set(String::new()),
                    completed_at: Set(None),
                    deletion_proof: Set(None),
                    retention_until: Set(None),
                }
                .insert(&txn)
                .await?
            }
        };
        let mut reviewed: deletion::ActiveModel = request.into();
        reviewed.reviewed_at = Set(Some(now));
        reviewed.admin_notes = Set("Retention policy".to_owned());
        let request = reviewed.update(&txn).await?;
        let farewell = format!(
            "Hello {},\n\nNobody has signed in to your PSS account since {}. As we wrote on {}, \
             unused accounts are not kept: your personal data has now been erased and the \
             account closed. A record that the erasure took place (without your personal \
             data) is kept for two years, as the law requires.\n",
            account.first_name.trim(),
            day(current.last_seen),
            day(current.created_at),
        );
        // The erasure's one audit row names the request and the policy.
        let (_, _, sent) =
            crate::popia::complete_erasure(&txn, state, request, &account, None, &farewell).await?;
        notice::Entity::delete_by_id(current.id).exec(&txn).await?;
        queued = sent;
        report.erased += 1;
    } else if next == Step::FinalWarning {
        queued = crate::email::queue(
            &txn,
            state,
            &account.email,
            "Last reminder: your PSS account will be deleted",
            &warning(state, &account, &current),
        )
        .await?;
        let mut model: notice::ActiveModel = current.into();
        model.final_warning_at = Set(Some(now));
        let saved = model.update(&txn).await?;
        audit::record(
            &txn,
            audit::Actor::system(),
            Action::UPDATE,
            "RetentionNotice",
            saved.id,
            Some(json!({"final_warning": "changed"})),
        )
        .await?;
        report.final_warnings += 1;
    }
    txn.commit().await?;
    crate::email::wake(state, queued);
    Ok(())
}

fn warning(state: &AppState, account: &user::Model, notice: &notice::Model) -> String {
    format!(
        "Hello {},\n\nNobody has signed in to your PSS account since {}. To protect your \
         personal information, accounts that are not used are not kept: unless you sign in \
         before {}, your account and everything in it (profile, intake, journal) will be \
         erased.\n\nSign in at {} to keep your account.\n",
        account.first_name.trim(),
        day(notice.last_seen),
        day(notice.scheduled_for),
        state.frontend_url,
    )
}

/// Opens a notice, and sends the first warning, for candidates unused for
/// `inactive_after` that have none yet.
async fn warn_newly_inactive(
    state: &AppState,
    inactive_after: TimeDelta,
    now: DateTime<Utc>,
    report: &mut RetentionReport,
) -> ApiResult<()> {
    let cutoff = now - inactive_after;
    let noticed = Query::select()
        .column(notice::Column::UserId)
        .from(notice::Entity)
        .to_owned();
    let accounts = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Candidate))
        .filter(user::Column::IsActive.eq(true))
        .filter(
            Condition::any()
                .add(user::Column::LastLogin.lt(cutoff))
                .add(
                    Condition::all()
                        .add(user::Column::LastLogin.is_null())
                        .add(user::Column::CreatedAt.lt(cutoff)),
                ),
        )
        .filter(Expr::col((user::Entity, user::Column::Id)).not_in_subquery(noticed))
        .order_by_asc(user::Column::Id)
        .limit(BATCH)
        .all(&state.db)
        .await?;
    for account in accounts {
        let txn = kernel::db::begin_write(&state.db).await?;
        let inserted = notice::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            user_id: Set(account.id),
            last_seen: Set(last_seen(&account)),
            scheduled_for: Set(now + GRACE),
            created_at: Set(now),
            final_warning_at: Set(None),
        }
        .insert(&txn)
        .await;
        let created = match inserted {
            Ok(created) => created,
            // Another node noticed it first.
            Err(error) if kernel::error::is_unique_violation(&error, "user_id") => continue,
            Err(error) => return Err(error.into()),
        };
        let queued = crate::email::queue(
            &txn,
            state,
            &account.email,
            "Your PSS account will be deleted",
            &warning(state, &account, &created),
        )
        .await?;
        audit::record(
            &txn,
            audit::Actor::system(),
            Action::CREATE,
            "RetentionNotice",
            created.id,
            Some(json!({"user": account.id, "scheduled_for": day(created.scheduled_for)})),
        )
        .await?;
        txn.commit().await?;
        crate::email::wake(state, queued);
        report.warned += 1;
    }
    Ok(())
}
