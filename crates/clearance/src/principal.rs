//! Who is asking: the authenticated user behind a request (the kernel's
//! [`kernel::Current`] over clearance's users), and role gates.

use kernel::ApiError;

use crate::entities::user;
use crate::state::AppState;

/// The user whose valid, current access token came with the request.
pub type CurrentUser = kernel::Current<user::Model>;

pub const ADMIN_ONLY: &str = "You must be an administrator to perform this action.";

kernel::gate! {
    /// A student (their own record, payments, fee); anyone else gets 403.
    pub Student(user::Model) for AppState = |me| {
        if me.role == user::Role::Student {
            Ok(())
        } else {
            Err(ApiError::forbidden("Only students can access this endpoint"))
        }
    }
}

kernel::gate! {
    /// An administrator; anyone else authenticated gets 403.
    pub Admin(user::Model) for AppState = |me| {
        if me.is_admin() { Ok(()) } else { Err(ApiError::forbidden(ADMIN_ONLY)) }
    }
}
