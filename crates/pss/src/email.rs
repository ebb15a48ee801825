//! Email sent by PSS: queued as a job in the transaction of the change that
//! causes it (so none is lost or sent twice), sent by the job worker. The
//! message is sealed in the job row: a reset link is never stored readable.

use kernel::ApiResult;
use kernel::crypto::Aad;
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::state::AppState;

pub const EMAIL_JOB: &str = "pss.email";

/// Binds the sealed message to the queue (named `jobs` when the binding was
/// chosen; kept so that messages queued before remain readable).
const AAD: Aad<'static> = Aad {
    table: "jobs",
    column: "payload",
    row: EMAIL_JOB,
};

/// Queues one message to `to` when mail is configured; `true` when queued
/// (wake the worker after the commit with [`wake`]).
pub async fn queue<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    to: &str,
    subject: &str,
    body: &str,
) -> ApiResult<bool> {
    if state.mailer.is_none() {
        return Ok(false);
    }
    let sealed = state.keys.encrypt(
        &json!({"to": to, "subject": subject, "body": body}).to_string(),
        AAD,
    );
    kernel::jobs::enqueue(db, EMAIL_JOB, json!({"sealed": sealed})).await?;
    Ok(true)
}

/// Wakes the job worker (call after the transaction committed).
pub fn wake(state: &AppState, queued: bool) {
    if queued {
        state.jobs_wake.notify_one();
    }
}

/// The job that sends one queued message.
pub async fn send(state: AppState, payload: serde_json::Value) -> Result<(), String> {
    let Some(mailer) = &state.mailer else {
        return Ok(());
    };
    let sealed = payload["sealed"].as_str().ok_or("bad payload")?;
    let message: serde_json::Value = state
        .keys
        .decrypt(sealed, AAD)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))?;
    let field = |name: &str| message[name].as_str().unwrap_or_default().to_owned();
    mailer
        .send(&field("to"), &field("subject"), &field("body"))
        .await
}
