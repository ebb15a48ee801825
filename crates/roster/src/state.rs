//! What every handler can reach: the shared [`Kernel`] and roster's own parts.

use std::sync::Arc;

use kernel::Kernel;
use serde_json::{Map, Value};

use crate::entities::user;

#[derive(Clone)]
pub struct AppState {
    pub kernel: Kernel,
    /// `CAMPUS_FRONTEND_URL`, without a trailing slash: email links point there.
    pub frontend_url: Arc<str>,
    /// Face verification and its bounded pool (contract §8).
    pub faces: Arc<crate::face::Faces>,
}

kernel::has_kernel!(AppState.kernel);

/// Tokens carry the contract's claims: `email`, `role`, `full_name`.
impl kernel::identity::Identity for AppState {
    type Account = user::Model;

    fn claims(&self, account: &user::Model) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("email".into(), account.email.clone().into());
        claims.insert("role".into(), account.role.clone().into());
        claims.insert("full_name".into(), account.full_name().into());
        claims
    }
}
