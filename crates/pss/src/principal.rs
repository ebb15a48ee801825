//! Who is asking: the authenticated user behind a request, and role gates.
//!
//! Candidates reach only their own data; administrators their own and every
//! candidate's; superusers everything. Role gates answer 403; an object
//! outside the caller's reach answers 404, as if it did not exist.

use kernel::ApiError;

use crate::entities::user::{self, Role};
use crate::state::AppState;

/// The user whose valid, current access token came with the request (the
/// kernel's [`kernel::Current`] over PSS's users; see `user::Model` for
/// whose data each role reaches).
pub type CurrentUser = kernel::Current<user::Model>;

pub const STAFF_ONLY: &str = "You do not have permission to perform this action.";

kernel::gate! {
    /// An administrator or superuser; anyone else authenticated gets 403.
    pub Staff(Current<user::Model>) for AppState = |me| {
        if me.is_staff() { Ok(()) } else { Err(ApiError::forbidden(STAFF_ONLY)) }
    }
}

kernel::gate! {
    /// A superuser; anyone else authenticated gets 403.
    pub Superuser(Current<user::Model>) for AppState = |me| {
        if me.is_superuser() { Ok(()) } else { Err(ApiError::forbidden(STAFF_ONLY)) }
    }
}

kernel::gate! {
    /// A candidate; anyone else authenticated gets 403.
    pub Candidate(Current<user::Model>) for AppState = |me| {
        if me.role() == Role::Candidate {
            Ok(())
        } else {
            Err(ApiError::forbidden("Only candidates have candidate statistics."))
        }
    }
}
