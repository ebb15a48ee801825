//! The clearance rules: which approvals may be decided, what a decision does,
//! and how a request's status follows from its approvals.

use kernel::Scoped;
use sea_orm::Condition;
use std::collections::HashMap;

use kernel::{ApiError, ApiResult, FieldErrors, Money};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect, QueryTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::entities::user::{self, Role};
use crate::entities::{approval, clearance, department, finance_record, student};
use crate::notify::{Effects, Note};
use crate::state::AppState;

/// What a set of approvals means for their request: any rejected → rejected;
/// all approved → completed; any approved → in progress; else pending.
pub fn derive_status(statuses: &[&str]) -> &'static str {
    if statuses.contains(&"rejected") {
        "rejected"
    } else if !statuses.is_empty() && statuses.iter().all(|s| *s == "approved") {
        "completed"
    } else if statuses.contains(&"approved") {
        "in_progress"
    } else {
        "pending"
    }
}

/// approved ÷ total × 100, to two decimals.
pub fn completion_percentage(approved: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (approved as f64 * 10_000.0 / total as f64).round() / 100.0
    }
}

/// `(approved, total)` approvals per request, for a page of requests, in one query.
pub async fn completion_counts<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> ApiResult<HashMap<Uuid, (u64, u64)>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, i64, i64)> = approval::Entity::find()
        .select_only()
        .column(approval::Column::ClearanceRequestId)
        .column_as(
            Expr::cust("COUNT(CASE WHEN status = 'approved' THEN 1 END)"),
            "approved",
        )
        .column_as(Expr::cust("COUNT(*)"), "total")
        .filter(approval::Column::ClearanceRequestId.is_in(ids.iter().copied()))
        .group_by(approval::Column::ClearanceRequestId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, a, t)| (id, (Ord::max(a, 0) as u64, Ord::max(t, 0) as u64)))
        .collect())
}

/// A decision an office takes.
#[derive(Debug, Clone)]
pub enum Decision {
    Approve {
        notes: Option<String>,
    },
    Reject {
        reason: String,
        notes: Option<String>,
    },
}

impl Decision {
    fn action(&self) -> kernel::audit::Action {
        match self {
            Decision::Approve { .. } => crate::audit::APPROVE,
            Decision::Reject { .. } => crate::audit::REJECT,
        }
    }
}

/// The approvals `me` may see and act on: all for administrators, their own
/// office's for staff (none without an office), none for students.
impl kernel::Scoped for approval::Entity {
    type Caller = user::Model;

    fn scope(me: &user::Model) -> Condition {
        match (me.role, me.department_id) {
            (Role::Admin, _) => Condition::all(),
            (Role::DepartmentStaff, Some(office)) => {
                Condition::all().add(approval::Column::DepartmentId.eq(office))
            }
            (Role::DepartmentStaff, None) | (Role::Student, _) => kernel::scope::none(),
        }
    }

    fn not_found() -> ApiError {
        ApiError::not_found_msg("No ClearanceApproval matches the given query.")
    }
}

/// Whether `me` decides approvals at all (the `Approver` gate): students
/// do not.
pub fn may_approve(me: &user::Model) -> ApiResult<()> {
    match me.role {
        Role::Student => Err(ApiError::forbidden(
            "You do not have permission to approve this clearance.",
        )),
        Role::Admin | Role::DepartmentStaff => Ok(()),
    }
}

/// The graduation-fee rule for finance offices: no outstanding tuition and a
/// verified graduation fee.
async fn finance_gate<C: ConnectionTrait>(db: &C, student_id: Uuid) -> ApiResult<()> {
    let record = finance_record::Entity::find()
        .filter(finance_record::Column::StudentId.eq(student_id))
        .one(db)
        .await?;
    let Some(record) = record else {
        return Err(ApiError::bad_request(
            "Cannot approve: the student has no finance record.",
        ));
    };
    if record.tuition_balance > 0 {
        return Err(ApiError::bad_request(format!(
            "Cannot approve: the student has an outstanding tuition balance of KES {}.",
            Money(record.tuition_balance)
        )));
    }
    if record.graduation_fee_status != "verified" {
        return Err(ApiError::bad_request(
            "Cannot approve: the graduation fee has not been paid and verified.",
        ));
    }
    Ok(())
}

/// Outcome of one decision.
pub struct Decided {
    pub approval: approval::Model,
    pub clearance: clearance::Model,
    pub remaining: usize,
    /// The deciding office.
    pub office: department::Model,
    /// The request's student and their account.
    pub student: Option<(student::Model, user::Model)>,
}

/// Decides one approval inside `txn`: authorisation, order and finance gates,
/// the decision, the request's derived status, audit and notifications.
pub async fn decide<C: ConnectionTrait>(
    txn: &C,
    state: &AppState,
    effects: &mut Effects,
    me: &user::Model,
    ip: Option<std::net::IpAddr>,
    approval_id: Uuid,
    decision: Decision,
) -> ApiResult<Decided> {
    let not_found = || ApiError::not_found_msg("No ClearanceApproval matches the given query.");
    may_approve(me)?;
    // Lock the request of the approval, if `me` may act on it: decisions on
    // one request are applied one at a time.
    let of_visible_approval = approval::Entity::visible(me)
        .filter(approval::Column::Id.eq(approval_id))
        .select_only()
        .column(approval::Column::ClearanceRequestId)
        .into_query();
    let request = clearance::Entity::find()
        .filter(clearance::Column::Id.in_subquery(of_visible_approval))
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(not_found)?;
    // Its approvals and their offices, read under the lock: a concurrent
    // decision may have landed since the approval was found.
    let mut approvals = approval::Entity::find()
        .filter(approval::Column::ClearanceRequestId.eq(request.id))
        .find_also_related(department::Entity)
        .all(txn)
        .await?;
    let (target, office) = approvals
        .iter()
        .find(|(a, _)| a.id == approval_id)
        .and_then(|(a, d)| Some((a.clone(), d.clone()?)))
        .ok_or_else(not_found)?;

    match (&decision, target.status.as_str()) {
        (_, "approved") => return Err(ApiError::bad_request("This approval is already approved.")),
        (Decision::Reject { .. }, "rejected") => {
            return Err(ApiError::bad_request("This approval is already rejected."));
        }
        _ => {}
    }
    // Offices that still block it: lower order, not yet approved.
    let blocking: Vec<&str> = approvals
        .iter()
        .filter(|(a, _)| a.status != "approved")
        .filter_map(|(_, d)| d.as_ref())
        .filter(|d| d.approval_order < office.approval_order)
        .map(|d| d.name.as_str())
        .collect();
    if !blocking.is_empty() {
        return Err(ApiError::bad_request(format!(
            "This approval cannot be decided yet: waiting for {} to approve first.",
            blocking.join(", ")
        )));
    }
    if matches!(decision, Decision::Approve { .. }) && office.department_type == "finance" {
        finance_gate(txn, request.student_id).await?;
    }

    let now = kernel::time::now();
    let before = json!({"status": target.status, "notes": target.notes, "rejection_reason": target.rejection_reason});
    let mut model: approval::ActiveModel = target.clone().into();
    model.approved_by_id = Set(Some(me.id));
    model.approval_date = Set(Some(now));
    model.updated_at = Set(now);
    match &decision {
        Decision::Approve { notes } => {
            model.status = Set("approved".into());
            model.notes = Set(notes.clone().unwrap_or_else(|| "Approved".into()));
            model.rejection_reason = Set(None);
        }
        Decision::Reject { reason, notes } => {
            model.status = Set("rejected".into());
            model.rejection_reason = Set(Some(reason.clone()));
            if let Some(notes) = notes {
                model.notes = Set(notes.clone());
            }
        }
    }
    let decided = model.update(txn).await?;
    let after = json!({"status": decided.status, "notes": decided.notes, "rejection_reason": decided.rejection_reason});
    audit::record(
        txn,
        Actor::user(me.id, ip),
        decision.action(),
        "ClearanceApproval",
        decided.id,
        &format!("{} approval for clearance {}", office.name, request.id),
        kernel::audit::diff(&before, &after),
    )
    .await?;

    if let Some(slot) = approvals.iter_mut().find(|(a, _)| a.id == decided.id) {
        slot.0 = decided.clone();
    }
    let (clearance, remaining) =
        apply_approvals(txn, state, effects, request, approvals, Some(&decided)).await?;
    let (student, account) = student::Entity::find_by_id(clearance.student_id)
        .find_also_related(user::Entity)
        .one(txn)
        .await?
        .ok_or_else(not_found)?;
    let note = match &decision {
        Decision::Approve { .. } => Note {
            title: "Department Approval: Approved",
            message: format!("The {} has approved your clearance request.", office.name),
            kind: "approval",
            related: Some(("approval", decided.id)),
        },
        Decision::Reject { reason, .. } => Note {
            title: "Department Approval: Rejected",
            message: format!(
                "The {} has rejected your clearance request: {reason}",
                office.name
            ),
            kind: "rejection",
            related: Some(("approval", decided.id)),
        },
    };
    effects.notify(txn, state, student.user_id, &note).await?;
    Ok(Decided {
        approval: decided,
        clearance,
        remaining,
        office,
        student: account.map(|account| (student, account)),
    })
}

/// Recomputes a request's status from its approvals and applies what follows:
/// completion date, copied rejection reason, the student's eligibility, the
/// completion/rejection notifications, and the newly decidable offices.
pub async fn refresh_request<C: ConnectionTrait>(
    txn: &C,
    state: &AppState,
    effects: &mut Effects,
    request: clearance::Model,
    decided: Option<&approval::Model>,
) -> ApiResult<(clearance::Model, usize)> {
    let approvals = approval::Entity::find()
        .filter(approval::Column::ClearanceRequestId.eq(request.id))
        .find_also_related(department::Entity)
        .all(txn)
        .await?;
    apply_approvals(txn, state, effects, request, approvals, decided).await
}

/// [`refresh_request`] with the request's approvals (and offices) already
/// read under its lock.
async fn apply_approvals<C: ConnectionTrait>(
    txn: &C,
    state: &AppState,
    effects: &mut Effects,
    request: clearance::Model,
    approvals: Vec<(approval::Model, Option<department::Model>)>,
    decided: Option<&approval::Model>,
) -> ApiResult<(clearance::Model, usize)> {
    let statuses: Vec<&str> = approvals.iter().map(|(a, _)| a.status.as_str()).collect();
    let status = derive_status(&statuses);
    let remaining = statuses.iter().filter(|s| **s != "approved").count();
    let updated = if status == request.status {
        request
    } else {
        apply_status(txn, state, effects, request, status, &approvals).await?
    };

    // Offices whose turn has just come are told they can act.
    if let Some(decided) = decided
        && decided.status == "approved"
    {
        let decided_order = approvals
            .iter()
            .find(|(a, _)| a.id == decided.id)
            .and_then(|(_, d)| d.as_ref())
            .map(|d| d.approval_order);
        let pending_orders: Vec<i32> = approvals
            .iter()
            .filter(|(a, _)| a.status != "approved")
            .filter_map(|(_, d)| d.as_ref().map(|d| d.approval_order))
            .collect();
        let next = pending_orders.iter().min().copied();
        let same_level_done = decided_order.is_some_and(|o| !pending_orders.contains(&o));
        if let (Some(next), true) = (next, same_level_done) {
            for (a, d) in &approvals {
                if a.status == "pending" && d.as_ref().is_some_and(|d| d.approval_order == next) {
                    let note = Note {
                        title: "Clearance Awaiting Approval",
                        message: "A clearance request is now awaiting your office's decision."
                            .into(),
                        kind: "status_update",
                        related: Some(("approval", a.id)),
                    };
                    effects
                        .notify_office(txn, state, a.department_id, &note)
                        .await?;
                }
            }
        }
    }
    Ok((updated, remaining))
}

/// Stores a request's new derived status and what follows from it.
async fn apply_status<C: ConnectionTrait>(
    txn: &C,
    state: &AppState,
    effects: &mut Effects,
    request: clearance::Model,
    status: &str,
    approvals: &[(approval::Model, Option<department::Model>)],
) -> ApiResult<clearance::Model> {
    let now = kernel::time::now();
    let student = student::Entity::find_by_id(request.student_id)
        .one(txn)
        .await?;
    let mut model: clearance::ActiveModel = request.clone().into();
    model.status = Set(status.to_owned());
    model.updated_at = Set(now);
    match status {
        "completed" => {
            model.completion_date = Set(Some(now));
            model.rejection_reason = Set(None);
        }
        "rejected" => {
            model.completion_date = Set(Some(now));
            let reason = approvals
                .iter()
                .find(|(a, _)| a.status == "rejected")
                .and_then(|(a, _)| a.rejection_reason.clone());
            model.rejection_reason = Set(reason);
        }
        _ => {
            model.completion_date = Set(None);
            model.rejection_reason = Set(None);
        }
    }
    let updated = model.update(txn).await?;

    if let Some(student) = student {
        match status {
            "completed" => {
                if student.eligibility_status != "eligible" {
                    let mut s: student::ActiveModel = student.clone().into();
                    s.eligibility_status = Set("eligible".into());
                    s.updated_at = Set(now);
                    s.update(txn).await?;
                }
                let note = Note {
                    title: "Clearance Request Approved",
                    message: "All departments have cleared you. You are eligible to graduate."
                        .into(),
                    kind: "status_update",
                    related: Some(("clearance", updated.id)),
                };
                effects.notify(txn, state, student.user_id, &note).await?;
            }
            "rejected" => {
                let note = Note {
                    title: "Clearance Request Rejected",
                    message: format!(
                        "Your clearance request was rejected: {}",
                        updated.rejection_reason.clone().unwrap_or_default()
                    ),
                    kind: "rejection",
                    related: Some(("clearance", updated.id)),
                };
                effects.notify(txn, state, student.user_id, &note).await?;
            }
            _ => {}
        }
    }

    Ok(updated)
}

/// The rejection reason of a reject request (`rejection_reason`, or the
/// original frontend's `reason`).
pub fn rejection_reason(reason: Option<String>, alias: Option<String>) -> ApiResult<String> {
    match reason
        .or(alias)
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
    {
        Some(reason) => Ok(reason),
        None => Err(ApiError::Validation(FieldErrors::single(
            "rejection_reason",
            "Rejection reason is required when rejecting",
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_the_approvals() {
        assert_eq!(derive_status(&["pending", "pending"]), "pending");
        assert_eq!(derive_status(&["approved", "pending"]), "in_progress");
        assert_eq!(derive_status(&["approved", "approved"]), "completed");
        assert_eq!(derive_status(&["approved", "rejected"]), "rejected");
        assert_eq!(derive_status(&[]), "pending");
        assert_eq!(completion_percentage(3, 8), 37.5);
        assert_eq!(completion_percentage(1, 3), 33.33);
        assert_eq!(completion_percentage(0, 0), 0.0);
    }
}
