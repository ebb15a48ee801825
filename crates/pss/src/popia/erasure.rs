//! Erasure: deleting everything held about a person in one transaction,
//! anonymising the account and keeping a proof record without personal data.

use chrono::Days;
use kernel::audit::Action;
use kernel::{ApiError, ApiResult};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::{self, Actor};
use crate::entities::deletion_request::{self as deletion};
use crate::entities::{
    admin_note, backup_code, consent, intake_form, journal_entry, password_history,
    password_reset_token, profile, session, two_factor, user,
};
use crate::state::AppState;

/// Proof records are kept this long after an erasure.
const PROOF_RETENTION_DAYS: u64 = 730;

/// The answer to an executed erasure.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasedOut {
    pub message: String,
    /// The proof record, as JSON text: `{user_id, email, email_sha256,
    /// deleted_at, items_deleted, user_anonymized}`.
    pub deletion_summary: String,
}

/// Rows erased per kind.
#[derive(Debug, Default, Serialize)]
struct Erased {
    journal_entries: u64,
    admin_notes: u64,
    profile: u64,
    consents: u64,
    intake_forms: u64,
    sessions: u64,
    password_history: u64,
    password_reset_tokens: u64,
    two_factor: u64,
    backup_codes: u64,
}

/// Erases everything held about `owner` and anonymises the account, inside
/// the caller's transaction. The account row stays (as `deleted_<id>@deleted.local`,
/// inactive, no usable password) so the proof and the audit log keep pointing
/// at something.
async fn erase<C: ConnectionTrait>(txn: &C, owner: &user::Model) -> ApiResult<Erased> {
    let id = owner.id;
    let erased = Erased {
        journal_entries: delete_rows(txn, journal_entry::Column::UserId, id).await?,
        admin_notes: delete_rows(txn, admin_note::Column::CandidateId, id).await?,
        consents: delete_rows(txn, consent::Column::UserId, id).await?,
        intake_forms: delete_rows(txn, intake_form::Column::UserId, id).await?,
        sessions: delete_rows(txn, session::Column::UserId, id).await?,
        password_history: delete_rows(txn, password_history::Column::UserId, id).await?,
        password_reset_tokens: delete_rows(txn, password_reset_token::Column::UserId, id).await?,
        two_factor: delete_rows(txn, two_factor::Column::UserId, id).await?,
        backup_codes: delete_rows(txn, backup_code::Column::UserId, id).await?,
        profile: empty_profile(txn, id).await?,
    };
    let mut account: user::ActiveModel = owner.clone().into();
    account.email = Set(anonymised_email(id));
    account.first_name = Set("[DELETED]".to_owned());
    account.last_name = Set("[DELETED]".to_owned());
    account.is_active = Set(false);
    // No password verifies against this, and every token ends.
    account.password = Set(format!("!{}", crate::totp::random_token()));
    account.token_epoch = Set(owner.token_epoch + 1);
    account.last_login = Set(None);
    account.updated_at = Set(kernel::time::now());
    account.update(txn).await?;
    Ok(erased)
}

/// Deletes the rows whose `column` is `id`; returns how many.
async fn delete_rows<C, Col>(db: &C, column: Col, id: i64) -> ApiResult<u64>
where
    C: ConnectionTrait,
    Col: ColumnTrait,
    Col::EntityName: EntityTrait,
{
    delete_where::<C, Col::EntityName>(db, column.eq(id)).await
}

/// Deletes the rows whose `column` is among the ids `ids` selects.
async fn delete_in<C, Col>(
    db: &C,
    column: Col,
    ids: sea_orm::sea_query::SelectStatement,
) -> ApiResult<u64>
where
    C: ConnectionTrait,
    Col: ColumnTrait,
    Col::EntityName: EntityTrait,
{
    delete_where::<C, Col::EntityName>(db, column.in_subquery(ids)).await
}

/// Deletes the rows of `E` meeting `condition`; returns how many.
async fn delete_where<C, E>(
    db: &C,
    condition: impl sea_orm::sea_query::IntoCondition,
) -> ApiResult<u64>
where
    C: ConnectionTrait,
    E: EntityTrait,
{
    Ok(E::delete_many()
        .filter(condition)
        .exec(db)
        .await?
        .rows_affected)
}

/// Clears every sealed field of a user's profile (every account keeps a
/// profile row); returns 1 when there was one.
async fn empty_profile<C: ConnectionTrait>(db: &C, user_id: i64) -> ApiResult<u64> {
    use std::str::FromStr;
    let mut update = profile::Entity::update_many()
        .col_expr(profile::Column::HasCompletedIntake, Expr::value(false))
        .col_expr(profile::Column::UpdatedAt, Expr::value(kernel::time::now()));
    for name in crate::seal::PROFILE_SEALED {
        let column = profile::Column::from_str(name).map_err(ApiError::internal)?;
        update = update.col_expr(column, Expr::value(Option::<String>::None));
    }
    Ok(update
        .filter(profile::Column::UserId.eq(user_id))
        .exec(db)
        .await?
        .rows_affected)
}

fn anonymised_email(id: i64) -> String {
    format!("deleted_{id}@deleted.local")
}

/// Inside `txn`: emails `farewell` to the owner's address (the job row holds
/// it sealed until it is sent), erases everything held about them, and
/// completes `request` with its proof record. `by` is who executed it (none
/// for the retention policy). The erasure's one audit row (a `delete` of the
/// account) also records the request it completed. Returns the request, the
/// proof text and whether mail was queued.
pub(crate) async fn complete_erasure<C: ConnectionTrait>(
    txn: &C,
    state: &AppState,
    request: deletion::Model,
    owner: &user::Model,
    by: Option<Actor>,
    farewell: &str,
) -> ApiResult<(deletion::Model, String, bool)> {
    let queued = crate::email::queue(
        txn,
        state,
        &owner.email,
        "Your personal data has been deleted",
        farewell,
    )
    .await?;
    let erased = erase(txn, owner).await?;
    let now = kernel::time::now();
    let proof = json!({
        "user_id": owner.id,
        "email": anonymised_email(owner.id),
        "email_sha256": crate::password_reset::digest(&owner.email),
        "deleted_at": now,
        "deleted_by": by.as_ref().and_then(|a| a.id.as_deref()?.parse::<i64>().ok()),
        "request_id": request.id,
        "items_deleted": erased,
        "user_anonymized": true,
    })
    .to_string();
    let (request_id, before) = (request.id, request.status.clone());
    let mut model: deletion::ActiveModel = request.into();
    model.status = Set(deletion::COMPLETED.to_owned());
    model.completed_at = Set(Some(now));
    model.deletion_proof = Set(Some(proof.clone()));
    model.retention_until = Set(Some(now + Days::new(PROOF_RETENTION_DAYS)));
    let saved = model.update(txn).await?;
    let mut changes = json!({
        "erased": erased,
        "user_anonymized": true,
        "deletion_request": {"id": request_id, "status": [before, deletion::COMPLETED]},
    });
    if by.is_none() {
        changes["retention_policy"] = json!(true);
    }
    audit::record(
        txn,
        by.clone().unwrap_or_default(),
        Action::DELETE,
        "User",
        owner.id,
        Some(changes),
    )
    .await?;
    Ok((saved, proof, queued))
}

/// Erases again whatever reached an erased account after its erasure (a
/// request already under way when it committed). Set-based, so cheap enough
/// for `serve` to run hourly; returns the rows it cleared.
pub async fn sweep_erased(db: &sea_orm::DatabaseConnection) -> ApiResult<u64> {
    use std::str::FromStr;
    let erased = || {
        sea_orm::sea_query::Query::select()
            .column(deletion::Column::UserId)
            .from(deletion::Entity)
            .and_where(deletion::Column::Status.eq(deletion::COMPLETED))
            .to_owned()
    };
    let txn = kernel::db::begin_write(db).await?;
    let mut swept = 0;
    swept += delete_in(&txn, journal_entry::Column::UserId, erased()).await?;
    swept += delete_in(&txn, admin_note::Column::CandidateId, erased()).await?;
    swept += delete_in(&txn, intake_form::Column::UserId, erased()).await?;
    swept += delete_in(&txn, consent::Column::UserId, erased()).await?;
    swept += delete_in(&txn, session::Column::UserId, erased()).await?;
    swept += delete_in(&txn, password_history::Column::UserId, erased()).await?;
    swept += delete_in(&txn, password_reset_token::Column::UserId, erased()).await?;
    swept += delete_in(&txn, two_factor::Column::UserId, erased()).await?;
    swept += delete_in(&txn, backup_code::Column::UserId, erased()).await?;
    let mut update = profile::Entity::update_many()
        .col_expr(profile::Column::HasCompletedIntake, Expr::value(false));
    let mut filled = sea_orm::Condition::any();
    for name in crate::seal::PROFILE_SEALED {
        let column = profile::Column::from_str(name).map_err(ApiError::internal)?;
        update = update.col_expr(column, Expr::value(Option::<String>::None));
        filled = filled.add(column.is_not_null());
    }
    swept += update
        .filter(profile::Column::UserId.in_subquery(erased()))
        .filter(filled)
        .exec(&txn)
        .await?
        .rows_affected;
    if swept > 0 {
        audit::record(
            &txn,
            Actor::system(),
            Action::DELETE,
            "ErasedAccountLeftovers",
            0,
            Some(json!({"rows": swept})),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(swept)
}
