//! What the roster benchmarks share: users written straight to the
//! database, signed in through the real router, and bulk inserts.

use chrono::Utc;
use kernel::testing::TestApp;
use roster::Roster;
use roster::entities::{profile, user};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait};
use serde_json::json;
use uuid::Uuid;

pub const PASSWORD: &str = "Quiet-Harbour-42!";

/// An administrator, signed in: the access token.
pub async fn admin(app: &TestApp<Roster>) -> String {
    let email = format!("bench-{}@example.org", Uuid::new_v4().simple());
    person(
        app.db(),
        "admin",
        &email,
        Some(app.state.hasher.make(PASSWORD).await.unwrap()),
    )
    .await;
    sign_in(app, &email).await
}

/// A verified, active user of `role` (a trainer gets a 20-hour profile).
pub async fn person(
    db: &DatabaseConnection,
    role: &str,
    email: &str,
    hash: Option<String>,
) -> Uuid {
    let id = Uuid::new_v4();
    let now = Utc::now();
    user::ActiveModel {
        id: Set(id),
        email: Set(email.to_owned()),
        password: Set(hash.unwrap_or_else(|| "!".into())),
        first_name: Set("Bench".into()),
        last_name: Set(format!("{role} {}", &id.simple().to_string()[..6])),
        role: Set(role.to_owned()),
        gender: Set(None),
        phone: Set(None),
        id_number: Set(None),
        address: Set(None),
        date_of_birth: Set(None),
        is_active: Set(true),
        is_superuser: Set(role == "admin"),
        email_verified: Set(true),
        token_epoch: Set(0),
        date_joined: Set(now),
        last_login: Set(None),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    profile::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(id),
        admission_number: Set(None),
        status: Set(None),
        enrollment_date: Set(None),
        staff_number: Set(Some(format!("STF-{}", &id.simple().to_string()[..8]))),
        qualifications: Set(None),
        specialization: Set(None),
        employment_type: Set((role == "trainer").then(|| "full_time".to_owned())),
        max_weekly_hours: Set((role == "trainer").then_some(20)),
    }
    .insert(db)
    .await
    .unwrap();
    id
}

/// Signs `email` in through `POST /api/auth/token/`: the access token.
pub async fn sign_in(app: &TestApp<Roster>, email: &str) -> String {
    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["access"].as_str().unwrap().to_owned()
}

pub async fn insert_all<E, A>(db: &DatabaseConnection, rows: Vec<A>)
where
    E: EntityTrait,
    A: sea_orm::ActiveModelTrait<Entity = E> + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(200).collect();
        E::insert_many(chunk).exec(db).await.unwrap();
    }
}
