//! In-app notifications (contract §6), written in the transaction of the
//! change they tell about. Part 2 of roster adds preferences, email, push,
//! broadcasts and the live stream on top of [`send`].

use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use crate::entities::notification;

/// The contract's notification types sent so far (attendance, session,
/// report and system notices come with part 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Timetable,
    Account,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timetable => "timetable",
            Self::Account => "account",
        }
    }
}

/// One message to tell some users.
#[derive(Debug, Clone)]
pub struct Note<'a> {
    pub kind: Kind,
    /// `low`, `medium` or `high`.
    pub priority: &'static str,
    pub title: &'a str,
    pub message: &'a str,
    /// What it is about: (`timetable_entry`, its id), for example.
    pub related: Option<(&'static str, String)>,
    pub action_url: Option<String>,
}

impl<'a> Note<'a> {
    pub fn new(kind: Kind, title: &'a str, message: &'a str) -> Self {
        Self {
            kind,
            priority: "medium",
            title,
            message,
            related: None,
            action_url: None,
        }
    }

    pub fn about(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.related = Some((kind, id.to_string()));
        self
    }
}

/// Notifies each of `users` (duplicates once) in `db`'s transaction.
pub async fn send(
    db: &impl ConnectionTrait,
    users: impl IntoIterator<Item = Uuid>,
    note: &Note<'_>,
) -> Result<usize, sea_orm::DbErr> {
    let mut seen = std::collections::BTreeSet::new();
    let now = kernel::time::now();
    let rows: Vec<notification::ActiveModel> = users
        .into_iter()
        .filter(|id| seen.insert(*id))
        .map(|user_id| notification::ActiveModel {
            id: sea_orm::ActiveValue::Set(Uuid::new_v4()),
            user_id: sea_orm::ActiveValue::Set(user_id),
            notification_type: sea_orm::ActiveValue::Set(note.kind.as_str().to_owned()),
            priority: sea_orm::ActiveValue::Set(note.priority.to_owned()),
            title: sea_orm::ActiveValue::Set(note.title.chars().take(200).collect()),
            message: sea_orm::ActiveValue::Set(note.message.to_owned()),
            is_read: sea_orm::ActiveValue::Set(false),
            read_at: sea_orm::ActiveValue::Set(None),
            related_object_type: sea_orm::ActiveValue::Set(
                note.related.as_ref().map(|(kind, _)| (*kind).to_owned()),
            ),
            related_object_id: sea_orm::ActiveValue::Set(
                note.related.as_ref().map(|(_, id)| id.clone()),
            ),
            action_url: sea_orm::ActiveValue::Set(note.action_url.clone()),
            channels: sea_orm::ActiveValue::Set("[\"in_app\"]".to_owned()),
            is_deleted: sea_orm::ActiveValue::Set(false),
            created_at: sea_orm::ActiveValue::Set(now),
        })
        .collect();
    let count = rows.len();
    for chunk in rows.chunks(500) {
        notification::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(count)
}
