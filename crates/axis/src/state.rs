//! What every handler can reach: the shared [`Kernel`] and axis's own parts.

use std::sync::Arc;

use kernel::Kernel;
use serde_json::{Map, Value, json};

use crate::entities::user;
use crate::microsoft::Microsoft;

#[derive(Clone)]
pub struct AppState {
    pub kernel: Kernel,
    /// Microsoft Entra ID sign-in, when configured.
    pub microsoft: Option<Arc<Microsoft>>,
    /// The refresh cookie is `Secure` (production mode).
    pub secure_cookies: bool,
}

kernel::has_kernel!(AppState.kernel);

/// Tokens carry what the frontend builds its user from.
impl kernel::identity::Identity for AppState {
    type Account = user::Model;

    fn claims(&self, user: &user::Model) -> Map<String, Value> {
        let claims = json!({
            "email": user.email,
            "name": user.full_name(),
            "username": user.username,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "status": user.status,
            "email_verified": user.email_verified.map(kernel::time::iso),
            "is_staff": user.is_staff,
            "is_superuser": user.is_superuser,
        });
        match claims {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }
}
