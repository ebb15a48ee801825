//! Creating notifications inside the transaction of the change that causes
//! them, queueing their email in the same transaction, and waking live streams
//! once the transaction has committed.

use kernel::ApiResult;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde_json::json;
use uuid::Uuid;

use crate::entities::notification;
use crate::entities::user::{self, Role};
use crate::state::AppState;

pub const EMAIL_JOB: &str = "clearance.notification_email";

/// Side effects to publish after commit.
#[derive(Debug, Default)]
#[must_use = "publish the effects after the transaction commits"]
pub struct Effects {
    wake: Vec<Uuid>,
    queued: bool,
}

/// One notification to create.
pub struct Note<'a> {
    pub title: &'a str,
    pub message: String,
    pub kind: &'a str,
    pub related: Option<(&'a str, Uuid)>,
}

impl Effects {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores a notification for `user` (and its email job when mail is on).
    pub async fn notify<C: ConnectionTrait>(
        &mut self,
        db: &C,
        state: &AppState,
        user: Uuid,
        note: &Note<'_>,
    ) -> ApiResult<notification::Model> {
        let id = Uuid::new_v4();
        let created = notification::ActiveModel {
            id: Set(id),
            user_id: Set(user),
            title: Set(note.title.to_owned()),
            message: Set(note.message.clone()),
            notification_type: Set(note.kind.to_owned()),
            related_object_type: Set(note.related.map(|(t, _)| t.to_owned())),
            related_object_id: Set(note.related.map(|(_, id)| id)),
            is_read: Set(false),
            read_at: Set(None),
            created_at: Set(kernel::time::now()),
        }
        .insert(db)
        .await?;
        if state.mailer.is_some() {
            kernel::jobs::enqueue(db, EMAIL_JOB, json!({"notification_id": id})).await?;
            self.queued = true;
        }
        self.wake.push(user);
        Ok(created)
    }

    /// Notifies every active administrator.
    pub async fn notify_admins<C: ConnectionTrait>(
        &mut self,
        db: &C,
        state: &AppState,
        note: &Note<'_>,
    ) -> ApiResult<()> {
        let admins = user::Entity::find()
            .filter(user::Column::Role.eq(Role::Admin))
            .filter(user::Column::IsActive.eq(true))
            .all(db)
            .await?;
        for admin in admins {
            self.notify(db, state, admin.id, note).await?;
        }
        Ok(())
    }

    /// Notifies the active staff of an office.
    pub async fn notify_office<C: ConnectionTrait>(
        &mut self,
        db: &C,
        state: &AppState,
        department: Uuid,
        note: &Note<'_>,
    ) -> ApiResult<()> {
        let staff = user::Entity::find()
            .filter(user::Column::Role.eq(Role::DepartmentStaff))
            .filter(user::Column::DepartmentId.eq(department))
            .filter(user::Column::IsActive.eq(true))
            .all(db)
            .await?;
        for member in staff {
            self.notify(db, state, member.id, note).await?;
        }
        Ok(())
    }

    /// Call after the transaction committed: wakes streams and the mail worker.
    pub fn publish(self, state: &AppState) {
        for user in self.wake {
            state.hub.notify(user);
        }
        if self.queued {
            state.jobs_wake.notify_one();
        }
    }
}

/// The job that emails one notification to its recipient.
pub async fn send_email(state: AppState, payload: serde_json::Value) -> Result<(), String> {
    let Some(mailer) = &state.mailer else {
        return Ok(());
    };
    let id = payload["notification_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or("bad payload")?;
    let Some((note, Some(recipient))) = notification::Entity::find_by_id(id)
        .find_also_related(user::Entity)
        .one(&state.db)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(()); // deleted since: nothing to send
    };
    let body = format!(
        "Dear {},\n\n{}\n\n— MksU Clearance System",
        recipient.full_name, note.message
    );
    mailer.send(&recipient.email, &note.title, &body).await
}
