//! Setting a password: the policy, the history of the last passwords (which
//! cannot be reused), ending every earlier token, and the confirmation email.

use chrono::Utc;
use kernel::{ApiResult, Checker};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::entities::password_history::{self as history, KEPT};
use crate::entities::user;
use crate::state::AppState;

pub const SAME_AS_OLD: &str = "New password cannot be the same as your old password.";
pub const REUSED: &str = "Cannot reuse your last 5 passwords. Please choose a different password.";

/// Adds the policy's and the history's objections to `new` under `field`.
pub async fn check_new(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    c: &mut Checker,
    field: &str,
    user: &user::Model,
    new: &str,
) -> ApiResult<()> {
    if new.is_empty() {
        c.error(field, kernel::form::NOT_BLANK);
        return Ok(());
    }
    let problems =
        crate::users::password_problems(new, &user.email, &user.first_name, &user.last_name);
    if !problems.is_empty() {
        for problem in problems {
            c.error(field, problem);
        }
        return Ok(());
    }
    if state.hasher.verify(new, &user.password).await?.matches {
        c.error(field, SAME_AS_OLD);
        return Ok(());
    }
    let earlier = history::Entity::find()
        .filter(history::Column::UserId.eq(user.id))
        .order_by_desc(history::Column::Id)
        .limit(KEPT as u64)
        .all(db)
        .await?;
    for row in earlier {
        if state.hasher.verify(new, &row.password_hash).await?.matches {
            c.error(field, REUSED);
            return Ok(());
        }
    }
    Ok(())
}

/// Stores `hash` as `user`'s password (in `db`, the caller's transaction),
/// ends every earlier token of the account, records the history (keeping the
/// newest [`KEPT`]) and returns the updated user.
pub async fn set<C: ConnectionTrait>(
    db: &C,
    user: &user::Model,
    hash: String,
) -> ApiResult<user::Model> {
    let now = kernel::time::now();
    let has_history = history::Entity::find()
        .filter(history::Column::UserId.eq(user.id))
        .one(db)
        .await?
        .is_some();
    if !has_history {
        // Accounts from before the history existed: remember the current one too.
        remember(db, user.id, user.password.clone(), now).await?;
    }
    remember(db, user.id, hash.clone(), now).await?;
    let stale: Vec<i64> = history::Entity::find()
        .select_only()
        .column(history::Column::Id)
        .filter(history::Column::UserId.eq(user.id))
        .order_by_desc(history::Column::Id)
        .offset(KEPT as u64)
        .limit(1000)
        .into_tuple()
        .all(db)
        .await?;
    if !stale.is_empty() {
        history::Entity::delete_many()
            .filter(history::Column::Id.is_in(stale))
            .exec(db)
            .await?;
    }
    let mut model: user::ActiveModel = user.clone().into();
    model.password = Set(hash);
    model.token_epoch = Set(user.token_epoch + 1);
    model.updated_at = Set(now);
    Ok(model.update(db).await?)
}

async fn remember<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    password_hash: String,
    created_at: chrono::DateTime<Utc>,
) -> ApiResult<()> {
    history::ActiveModel {
        user_id: Set(user_id),
        password_hash: Set(password_hash),
        created_at: Set(created_at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The text of the email confirming a changed password.
pub fn confirmation(user: &user::Model, how: &str) -> (String, String) {
    let name = if user.first_name.is_empty() {
        "there"
    } else {
        &user.first_name
    };
    (
        "Your PSS password was changed".to_owned(),
        format!(
            "Hello {name},\n\nThe password of your PSS account was {how} at {} UTC. \
             Every device signed in to the account has been signed out.\n\n\
             If you did not do this, reset your password at once and contact an administrator.\n\n\
             -- PSS Backend",
            kernel::time::now().format("%Y-%m-%d %H:%M")
        ),
    )
}
