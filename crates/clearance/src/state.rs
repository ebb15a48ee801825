//! What every handler can reach: the shared [`Kernel`] (database, tokens,
//! hashing, lockout, mail, jobs, storage, live events) and clearance's own
//! parts.

use kernel::Kernel;
use serde_json::{Map, Value, json};

use crate::entities::user;
use crate::mpesa::Daraja;

#[derive(Clone)]
pub struct AppState {
    pub kernel: Kernel,
    pub daraja: std::sync::Arc<Daraja>,
    /// What a new finance record charges for graduation.
    pub graduation_fee: kernel::Money,
}

kernel::has_kernel!(AppState.kernel);

impl kernel::identity::Identity for AppState {
    type Account = user::Model;

    /// The spec's claims (§4.1): email, role, full name and admission number.
    fn claims(&self, user: &user::Model) -> Map<String, Value> {
        let mut extra = Map::new();
        extra.insert("email".into(), json!(user.email));
        extra.insert("role".into(), json!(user.role.as_str()));
        extra.insert("full_name".into(), json!(user.full_name));
        extra.insert("admission_number".into(), json!(user.admission_number));
        extra
    }
}
