//! What every handler can reach.

use std::sync::Arc;

use axum::extract::FromRef;
use kernel::config::Settings;
use kernel::jwt::Jwt;
use kernel::lockout::Lockout;
use kernel::password::Hasher;
use sea_orm::DatabaseConnection;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub jwt: Arc<Jwt>,
    pub hasher: Hasher,
    pub settings: Arc<Settings>,
    pub lockout: Arc<Lockout>,
}

impl FromRef<AppState> for Arc<Jwt> {
    fn from_ref(state: &AppState) -> Self {
        state.jwt.clone()
    }
}

impl FromRef<AppState> for Arc<Settings> {
    fn from_ref(state: &AppState) -> Self {
        state.settings.clone()
    }
}
