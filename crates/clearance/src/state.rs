//! What every handler can reach.

use std::sync::Arc;

use axum::extract::FromRef;
use kernel::config::Settings;
use kernel::events::Hub;
use kernel::jwt::Jwt;
use kernel::lockout::LoginGuard;
use kernel::mail::Mailer;
use kernel::password::Hasher;
use kernel::upload::Storage;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::mpesa::Daraja;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub jwt: Arc<Jwt>,
    pub hasher: Hasher,
    pub settings: Arc<Settings>,
    /// Failed sign-ins per account and address; shared through Redis when configured.
    pub lockout: Arc<LoginGuard>,
    /// Wakes live notification streams.
    pub hub: Hub,
    /// Uploaded evidence and receipts.
    pub storage: Storage,
    /// Outgoing email, when `CAMPUS_EMAIL_URL` is set.
    pub mailer: Option<Mailer>,
    /// Wakes the job worker after a commit that queued work.
    pub jobs_wake: Arc<Notify>,
    pub daraja: Arc<Daraja>,
    /// What a new finance record charges for graduation.
    pub graduation_fee: kernel::Money,
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
