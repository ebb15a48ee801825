//! Persons (axis contract §7): employees, dependents, staff and provider
//! persons in one resource; user linking, the computed fields, the
//! actions, the queries, scoping (§3) and the audit trail.

use crate::common::*;
use axis::entities::{client, user};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

pub const ITEM_KEYS: &[&str] = &[
    "id",
    "person_type",
    "status",
    "profile",
    "client_id",
    "client_name",
    "employee_role",
    "employment_status",
    "relationship_to_employee",
    "is_eligible",
    "total_sessions",
    "last_service_date",
    "created_at",
    "updated_at",
];

pub const DETAIL_KEYS: &[&str] = &[
    "id",
    "person_type",
    "status",
    "profile",
    "full_name",
    "email",
    "phone",
    "date_of_birth",
    "gender",
    "address",
    "city",
    "country",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_email",
    "notes",
    "metadata",
    "last_service_date",
    "user_id",
    "user_email",
    "client_id",
    "client_name",
    "employee_role",
    "employee_department",
    "employee_id_number",
    "employment_start_date",
    "employment_end_date",
    "employment_status",
    "manager_id",
    "primary_employee_id",
    "primary_employee_name",
    "relationship_to_employee",
    "is_employee_dependent",
    "guardian_id",
    "guardian_email",
    "staff_organization",
    "staff_role",
    "staff_department",
    "can_manage_clients",
    "can_manage_services",
    "can_view_reports",
    "provider_type",
    "license_number",
    "license_expiry",
    "specializations",
    "languages_spoken",
    "hourly_rate",
    "bio",
    "is_accepting_new_clients",
    "max_clients",
    "age",
    "is_minor",
    "requires_consent",
    "effective_client_id",
    "effective_client_name",
    "is_eligible",
    "total_sessions",
    "employment_duration",
    "created_at",
    "updated_at",
    "deleted_at",
];

const PROFILE_KEYS: &[&str] = &[
    "id",
    "full_name",
    "dob",
    "date_of_birth",
    "age",
    "gender",
    "phone",
    "email",
    "address",
    "city",
    "country",
    "image",
];

pub fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// Registers an employee of `client` as `actor`; the detail.
pub async fn employee(
    app: &TestApp,
    actor: &Actor,
    client: &str,
    name: &str,
    email: &str,
) -> Value {
    let r = app
        .post("/api/persons/create-employee/")
        .bearer(&actor.access)
        .json(&json!({"full_name": name, "client_id": client, "email": email, "job_title": "Analyst"}))
        .send()
        .await;
    r.assert_status(201);
    r.json
}

/// Registers a dependent of `primary`; the detail.
pub async fn dependent(app: &TestApp, actor: &Actor, primary: &str, body: Value) -> Value {
    let mut body = body;
    body["primary_employee_id"] = json!(primary);
    let r = app
        .post("/api/persons/create-dependent/")
        .bearer(&actor.access)
        .json(&body)
        .send()
        .await;
    r.assert_status(201);
    r.json
}

async fn set_client_status(app: &TestApp, id: &str, status: &str) {
    let row = client::Entity::find_by_id(id.to_owned())
        .one(app.conn())
        .await
        .unwrap()
        .unwrap();
    let mut row: client::ActiveModel = row.into();
    row.status = Set(status.into());
    row.update(app.conn()).await.unwrap();
}

fn years_ago(years: i32) -> String {
    let today = chrono::Utc::now().date_naive();
    let date =
        chrono::NaiveDate::from_ymd_opt(chrono::Datelike::year(&today) - years, 1, 1).unwrap();
    date.to_string()
}

db_test!(
    an_employee_and_a_dependent_are_registered_and_eligible,
    |app| {
        let admin = app.superuser().await;
        let acme = app.client("Acme").await;
        let r = app
            .post("/api/persons/create-employee/")
            .bearer(&admin.access)
            .json(&json!({
                "full_name": "Thabo Nkosi", "client_id": acme, "email": "Thabo@Acme.test",
                "job_title": "Engineer", "employment_status": "FullTime", "dob": "1990-04-02",
                "gender": "male", "phone": "+27821234567", "manager_id": "mgr-7",
                "employee_department": "IT", "employee_id_number": "E-1",
            }))
            .send()
            .await;
        r.assert_status(201);
        let emp = r.json.clone();
        assert_eq!(keys(&emp), sorted(DETAIL_KEYS));
        assert_eq!(keys(&emp["profile"]), sorted(PROFILE_KEYS));
        assert!(is_cuid(emp["id"].as_str().unwrap()));
        assert_eq!(emp["person_type"], "ClientEmployee");
        assert_eq!(emp["status"], "Active");
        assert_eq!(emp["email"], "thabo@acme.test");
        assert_eq!(emp["employee_role"], "Engineer");
        assert_eq!(emp["employment_status"], "Active");
        assert_eq!(emp["gender"], "Male");
        assert_eq!(emp["profile"]["dob"], "1990-04-02");
        assert_eq!(emp["profile"]["id"], emp["id"]);
        assert_eq!(emp["manager_id"], "mgr-7");
        assert_eq!(emp["metadata"]["manager_id"], "mgr-7");
        assert_eq!(emp["client_id"], acme.as_str());
        assert_eq!(emp["client_name"], "Acme");
        assert_eq!(emp["effective_client_id"], acme.as_str());
        assert_eq!(emp["effective_client_name"], "Acme");
        assert_eq!(emp["is_eligible"], true);
        assert_eq!(emp["is_minor"], false);
        assert_eq!(emp["total_sessions"], 0);
        assert_eq!(emp["employment_duration"], 0);
        assert_eq!(
            emp["employment_start_date"],
            chrono::Utc::now().date_naive().to_string()
        );
        assert_eq!(emp["staff_role"], Value::Null);
        assert_eq!(emp["is_accepting_new_clients"], Value::Null);
        assert_eq!(emp["user_email"], "thabo@acme.test");
        // A new inactive user, Pending Verification, without a usable password.
        let user_id = emp["user_id"].as_str().unwrap().to_owned();
        let u = app.user_row(&user_id).await;
        assert_eq!(u.status, "Pending Verification");
        assert!(!u.is_active);
        assert!(u.password.starts_with('!'));
        let r = app
            .post("/api/auth/token/")
            .json(&json!({"email": "thabo@acme.test", "password": "anything-at-all"}))
            .send()
            .await;
        r.assert_status(401);
        // One audit row, the person's change and the user's.
        let logs = app.audit_logs_of("Person", &id_of(&emp)).await;
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].action, "Create");
        let changes = app.entity_changes_of("Person", &id_of(&emp)).await;
        assert_eq!(changes.len(), 1);
        let fields = app.field_changes_of(&changes[0].id).await;
        assert!(fields.iter().any(|f| f.field_name == "full_name"));
        assert_eq!(app.entity_changes_of("User", &user_id).await.len(), 1);

        // A dependent: a minor child gets the employee's user as guardian.
        let dep = dependent(
        &app,
        &admin,
        &id_of(&emp),
        json!({"full_name": "Lerato Nkosi", "relationship_type": "child", "date_of_birth": years_ago(5)}),
    )
    .await;
        assert_eq!(keys(&dep), sorted(DETAIL_KEYS));
        assert_eq!(dep["person_type"], "Dependent");
        assert_eq!(dep["relationship_to_employee"], "Child");
        assert_eq!(dep["primary_employee_id"], emp["id"]);
        assert_eq!(dep["primary_employee_name"], "Thabo Nkosi");
        assert_eq!(dep["guardian_id"], user_id.as_str());
        assert_eq!(dep["guardian_email"], "thabo@acme.test");
        assert_eq!(dep["is_minor"], true);
        assert_eq!(dep["requires_consent"], true);
        assert_eq!(dep["is_employee_dependent"], true);
        assert_eq!(dep["user_id"], Value::Null);
        assert_eq!(dep["client_id"], acme.as_str());
        assert_eq!(dep["effective_client_name"], "Acme");
        assert_eq!(dep["is_eligible"], true);
        assert_eq!(dep["employment_status"], Value::Null);

        // Queries.
        let r = app
            .get("/api/persons/eligible/")
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(200);
        assert_page(&r.json, 2);
        assert_eq!(keys(&r.json["results"][0]), sorted(ITEM_KEYS));
        assert_eq!(
            keys(&r.json["results"][0]["profile"]),
            sorted(&["full_name", "email", "phone"])
        );
        let r = app
            .get(&format!("/api/persons/by-client/{acme}/"))
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(200);
        assert_page(&r.json, 2);
        let r = app
            .get(&format!("/api/persons/{}/family/", id_of(&dep)))
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(
            keys(&r.json),
            sorted(&["employee", "dependents", "total_members"])
        );
        assert_eq!(r.json["employee"]["id"], emp["id"]);
        assert_eq!(r.json["dependents"][0]["id"], dep["id"]);
        assert_eq!(r.json["total_members"], 2);
        let r = app
            .get(&format!("/api/clients/{acme}/stats/"))
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["total_staff"], 1);

        // The client going inactive ends both eligibilities.
        set_client_status(&app, &acme, "Inactive").await;
        let r = app
            .get(&format!("/api/persons/{}/", id_of(&dep)))
            .bearer(&admin.access)
            .send()
            .await;
        assert_eq!(r.json["is_eligible"], false);
        let r = app
            .get("/api/persons/?is_eligible=false")
            .bearer(&admin.access)
            .send()
            .await;
        assert_page(&r.json, 2);
        let r = app
            .get("/api/persons/eligible/")
            .bearer(&admin.access)
            .send()
            .await;
        assert_page(&r.json, 0);
    }
);

db_test!(registration_refusals, |app| {
    let admin = app.superuser().await;
    let acme = app.client("Acme").await;
    let dormant = app.client("Dormant").await;
    set_client_status(&app, &dormant, "Pending").await;
    let post = |path: &'static str, body: Value| {
        let app = &app;
        let token = admin.access.clone();
        async move { app.post(path).bearer(&token).json(&body).send().await }
    };
    let r = post("/api/persons/create-employee/", json!({})).await;
    assert_field_error(&r, "full_name", Some("This field is required."));
    assert_field_error(&r, "client_id", Some("This field is required."));
    let r = post(
        "/api/persons/create-employee/",
        json!({"full_name": "A", "client_id": dormant}),
    )
    .await;
    assert_field_error(&r, "client_id", Some("Client is not active"));
    let r = post(
        "/api/persons/create-employee/",
        json!({"full_name": "A", "client_id": "zzzzzzzzzzzzzzzzzzzzzzzzz"}),
    )
    .await;
    assert_field_error(
        &r,
        "client_id",
        Some("Invalid pk \"zzzzzzzzzzzzzzzzzzzzzzzzz\" - object does not exist."),
    );
    let r = post(
        "/api/persons/create-employee/",
        json!({"full_name": "A", "client_id": acme, "employment_status": "Boss", "phone": "12", "gender": "x",
               "employment_start_date": "2026-05-01", "employment_end_date": "2026-04-01"}),
    )
    .await;
    assert_field_error(
        &r,
        "employment_status",
        Some("\"Boss\" is not a valid choice."),
    );
    assert_field_error(&r, "phone", None);
    assert_field_error(&r, "gender", None);
    assert_field_error(
        &r,
        "employment_end_date",
        Some("Employment end date cannot be before the start date."),
    );
    let emp = employee(&app, &admin, &acme, "Sipho", "sipho@acme.test").await;
    // The email is one person's.
    let r = post(
        "/api/persons/create-employee/",
        json!({"full_name": "B", "client_id": acme, "email": "SIPHO@acme.test"}),
    )
    .await;
    assert_field_error(
        &r,
        "email",
        Some("A person with this email already exists."),
    );
    // An existing user is linked, not duplicated.
    let staff = app.user(&admin, "nurse@axis.example", &[]).await;
    let r = post(
        "/api/persons/",
        json!({"person_type": "PlatformStaff", "full_name": "Nurse", "email": "nurse@axis.example",
               "organization_id": "AXIS", "staff_role": "Staff"}),
    )
    .await;
    r.assert_status(201);
    assert_eq!(r.json["user_id"], staff.id.as_str());
    assert_eq!(r.json["staff_organization"], "AXIS");
    assert_eq!(r.json["can_manage_clients"], false);
    assert_eq!(r.json["is_eligible"], true);
    assert_eq!(r.json["client_id"], Value::Null);
    assert_eq!(app.user_row(&staff.id).await.status, "Active");
    // Dependents.
    let r = post("/api/persons/create-dependent/", json!({"full_name": "C"})).await;
    assert_field_error(&r, "primary_employee_id", Some("This field is required."));
    assert_field_error(
        &r,
        "relationship_to_employee",
        Some("This field is required."),
    );
    let r = post(
        "/api/persons/create-dependent/",
        json!({"full_name": "C", "primary_employee_id": acme, "relationship_to_employee": "Spouse"}),
    )
    .await;
    assert_field_error(&r, "primary_employee_id", None);
    app.post(&format!(
        "/api/persons/{}/update-employment-status/",
        id_of(&emp)
    ))
    .bearer(&admin.access)
    .json(&json!({"employment_status": "On Leave"}))
    .send()
    .await
    .assert_status(200);
    let r = post(
        "/api/persons/create-dependent/",
        json!({"full_name": "C", "primary_employee_id": id_of(&emp), "relationship_to_employee": "Spouse"}),
    )
    .await;
    assert_field_error(
        &r,
        "primary_employee_id",
        Some("Primary employee is not active"),
    );
    // POST persons/ applies each type's rules.
    let r = post("/api/persons/", json!({"full_name": "D"})).await;
    assert_field_error(&r, "person_type", Some("This field is required."));
    let r = post(
        "/api/persons/",
        json!({"full_name": "D", "person_type": "CLIENT_EMPLOYEE"}),
    )
    .await;
    assert_field_error(
        &r,
        "client_id",
        Some("This field is required for a ClientEmployee."),
    );
    let r = post(
        "/api/persons/",
        json!({"full_name": "D", "person_type": "ServiceProvider"}),
    )
    .await;
    assert_field_error(
        &r,
        "email",
        Some("This field is required for a ServiceProvider."),
    );
    let r = post(
        "/api/persons/",
        json!({"full_name": "D", "person_type": "Dependent"}),
    )
    .await;
    assert_field_error(&r, "primary_employee_id", None);
    assert_field_error(&r, "relationship_to_employee", None);
    let r = post(
        "/api/persons/",
        json!({"full_name": "Dr Mokoena", "person_type": "ServiceProvider", "email": "doc@clinic.test",
               "languages": ["English", "Zulu"], "hourly_rate": 350.5, "license_expiry": "2099-01-01"}),
    )
    .await;
    r.assert_status(201);
    assert_eq!(r.json["languages_spoken"], json!(["English", "Zulu"]));
    assert_eq!(r.json["hourly_rate"], "350.50");
    assert_eq!(r.json["is_accepting_new_clients"], true);
    assert_eq!(r.json["is_eligible"], true);
    let provider = r.json.clone();
    // Immutable fields.
    let r = app
        .patch(&format!("/api/persons/{}/", id_of(&emp)))
        .bearer(&admin.access)
        .json(&json!({"person_type": "Dependent"}))
        .send()
        .await;
    assert_field_error(&r, "person_type", Some("Person type cannot be changed."));
    let other = app.client("Other").await;
    let r = app
        .patch(&format!("/api/persons/{}/", id_of(&emp)))
        .bearer(&admin.access)
        .json(&json!({"client_id": other}))
        .send()
        .await;
    assert_field_error(&r, "client_id", Some("This field cannot be changed."));
    // The same values are fine; PUT needs full_name.
    let r = app
        .patch(&format!("/api/persons/{}/", id_of(&emp)))
        .bearer(&admin.access)
        .json(&json!({"person_type": "ClientEmployee", "client_id": acme, "city": "Durban", "status": "Archived"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["city"], "Durban");
    assert_eq!(r.json["status"], "Active");
    let r = app
        .put(&format!("/api/persons/{}/", id_of(&emp)))
        .bearer(&admin.access)
        .json(&json!({"city": "Durban"}))
        .send()
        .await;
    assert_field_error(&r, "full_name", Some("This field is required."));
    let r = app
        .put(&format!("/api/persons/{}/", id_of(&provider)))
        .bearer(&admin.access)
        .json(&json!({"full_name": "Dr T. Mokoena", "hourly_rate": -1}))
        .send()
        .await;
    assert_error(
        &r,
        400,
        "validation_error",
        "Validation failed. Please check your input.",
    );
    let r = app
        .put(&format!("/api/persons/{}/", id_of(&provider)))
        .bearer(&admin.access)
        .json(&json!({"full_name": "Dr T. Mokoena", "max_clients": 12}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["full_name"], "Dr T. Mokoena");
    assert_eq!(r.json["max_clients"], 12);
    let changes = app.entity_changes_of("Person", &id_of(&provider)).await;
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[1].change_type, "Update");
    let fields: Vec<String> = app
        .field_changes_of(&changes[1].id)
        .await
        .into_iter()
        .map(|f| f.field_name)
        .collect();
    assert_eq!(
        fields,
        vec!["full_name".to_owned(), "max_clients".to_owned()]
    );
    // Fields of other types are checked, though not written.
    let r = app
        .patch(&format!("/api/persons/{}/", id_of(&emp)))
        .bearer(&admin.access)
        .json(
            &json!({"specializations": ["x".repeat(101)], "primary_employee_id": null,
                      "staff_role": "Boss", "person_type": null}),
        )
        .send()
        .await;
    assert_field_error(&r, "specializations", None);
    assert_field_error(
        &r,
        "primary_employee_id",
        Some("This field may not be null."),
    );
    assert_field_error(&r, "staff_role", Some("\"Boss\" is not a valid choice."));
    assert_field_error(&r, "person_type", Some("This field may not be null."));
    let r = app
        .patch(&format!("/api/persons/{}/", id_of(&emp)))
        .bearer(&admin.access)
        .json(&json!({"specializations": ["Grief"], "staff_role": "Staff"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["specializations"], Value::Null);
    assert_eq!(r.json["staff_role"], Value::Null);
    // A new email links (or makes) its user.
    let r = app
        .patch(&format!("/api/persons/{}/", id_of(&emp)))
        .bearer(&admin.access)
        .json(&json!({"email": "nurse@axis.example"}))
        .send()
        .await;
    assert_field_error(
        &r,
        "email",
        Some("A person with this email already exists."),
    );
    let r = app
        .patch(&format!("/api/persons/{}/", id_of(&emp)))
        .bearer(&admin.access)
        .json(&json!({"email": "sipho.new@acme.test"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["user_email"], "sipho.new@acme.test");
    assert_ne!(r.json["user_id"], emp["user_id"]);
});

db_test!(actions_and_their_guards, |app| {
    let admin = app.superuser().await;
    let acme = app.client("Acme").await;
    let emp = employee(&app, &admin, &acme, "Sipho", "sipho@acme.test").await;
    let id = id_of(&emp);
    let act = |path: String, body: Value| {
        let app = &app;
        let token = admin.access.clone();
        async move { app.post(&path).bearer(&token).json(&body).send().await }
    };
    let r = act(format!("/api/persons/{id}/activate/"), json!({})).await;
    assert_error(&r, 400, "invalid_state", "Person is already Active");
    let r = act(
        format!("/api/persons/{id}/deactivate/"),
        json!({"reason": "Left"}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(keys(&r.json), sorted(DETAIL_KEYS));
    assert_eq!(r.json["status"], "Inactive");
    assert_eq!(r.json["employment_status"], "Inactive");
    assert_eq!(r.json["metadata"]["deactivation_reason"], "Left");
    assert_eq!(r.json["is_eligible"], false);
    let changes = app.entity_changes_of("Person", &id).await;
    assert_eq!(changes.last().unwrap().change_type, "Deactivate");
    assert_eq!(
        changes.last().unwrap().change_reason.as_deref(),
        Some("Left")
    );
    let r = act(format!("/api/persons/{id}/deactivate/"), json!({})).await;
    assert_error(&r, 400, "invalid_state", "Person is already Inactive");
    let r = app
        .post(&format!("/api/persons/{id}/activate/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Active");
    assert_eq!(
        app.entity_changes_of("Person", &id)
            .await
            .last()
            .unwrap()
            .change_type,
        "Activate"
    );
    // Employment status.
    let path = format!("/api/persons/{id}/update-employment-status/");
    let r = act(path.clone(), json!({})).await;
    assert_field_error(&r, "employment_status", Some("This field is required."));
    let r = act(path.clone(), json!({"employment_status": "Terminated"})).await;
    assert_field_error(
        &r,
        "employment_end_date",
        Some("An end date is required when employment is Terminated or Resigned."),
    );
    let r = act(path.clone(), json!({"employment_status": "Active"})).await;
    r.assert_status(200);
    let r = act(
        path.clone(),
        json!({"employment_status": "RESIGNED", "employment_end_date": chrono::Utc::now().date_naive().to_string()}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["employment_status"], "Resigned");
    assert_eq!(r.json["is_eligible"], false);
    let r = act(path.clone(), json!({"employment_status": "Retired"})).await;
    r.assert_status(200);
    assert_eq!(r.json["employment_status"], "Inactive");
    act(path.clone(), json!({"employment_status": "Active"}))
        .await
        .assert_status(200);
    let dep = dependent(
        &app,
        &admin,
        &id,
        json!({"full_name": "Spouse", "relationship_to_employee": "Spouse"}),
    )
    .await;
    assert_eq!(dep["guardian_id"], Value::Null);
    assert_eq!(dep["requires_consent"], false);
    let r = act(
        format!("/api/persons/{}/update-employment-status/", id_of(&dep)),
        json!({"employment_status": "Active"}),
    )
    .await;
    assert_error(
        &r,
        400,
        "invalid_state",
        "Only client employees have an employment status",
    );
    // Providers stop accepting clients; other types have no family.
    let r = act(
        "/api/persons/".into(),
        json!({"person_type": "ServiceProvider", "full_name": "Dr K", "email": "k@clinic.test"}),
    )
    .await;
    r.assert_status(201);
    let provider = id_of(&r.json);
    let r = act(format!("/api/persons/{provider}/deactivate/"), json!({})).await;
    assert_eq!(r.json["is_accepting_new_clients"], false);
    let r = app
        .get(&format!("/api/persons/{provider}/family/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(
        &r,
        400,
        "invalid_state",
        "Only client employees and dependents have a family",
    );
    // Delete and restore.
    let r = app
        .delete(&format!("/api/persons/{}/", id_of(&dep)))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(204);
    app.get(&format!("/api/persons/{}/", id_of(&dep)))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
    let r = app
        .get(&format!("/api/persons/{id}/family/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["total_members"], 1);
    let r = act(format!("/api/persons/{}/restore/", id_of(&dep)), json!({})).await;
    r.assert_status(200);
    let r = act(format!("/api/persons/{}/restore/", id_of(&dep)), json!({})).await;
    assert_error(&r, 400, "invalid_state", "Person is not deleted");
    let changes = app.entity_changes_of("Person", &id_of(&dep)).await;
    let types: Vec<&str> = changes.iter().map(|c| c.change_type.as_str()).collect();
    assert_eq!(types, vec!["Create", "Delete", "Restore"]);
});

db_test!(lists_filters_and_errors, |app| {
    let admin = app.superuser().await;
    let acme = app.client("Acme").await;
    let beta = app.client("Beta").await;
    employee(&app, &admin, &acme, "Amy Adams", "amy@acme.test").await;
    employee(&app, &admin, &beta, "Ben Brown", "ben@beta.test").await;
    let get = |path: String| {
        let app = &app;
        let token = admin.access.clone();
        async move { app.get(&path).bearer(&token).send().await }
    };
    let r = get("/api/persons/".into()).await;
    r.assert_status(200);
    assert_page(&r.json, 2);
    let r = get("/api/persons/?search=amy".into()).await;
    assert_page(&r.json, 1);
    let r = get(format!("/api/persons/?client={beta}")).await;
    assert_page(&r.json, 1);
    assert_eq!(r.json["results"][0]["profile"]["full_name"], "Ben Brown");
    let r = get("/api/persons/?person_type=Dependent".into()).await;
    assert_page(&r.json, 0);
    let r = get("/api/persons/?ordering=full_name".into()).await;
    assert_eq!(r.json["results"][0]["profile"]["full_name"], "Amy Adams");
    let r = get("/api/persons/?person_type=Alien".into()).await;
    assert_field_error(&r, "person_type", None);
    let r = get("/api/persons/?is_eligible=maybe".into()).await;
    assert_field_error(&r, "is_eligible", None);
    let r = get("/api/persons/?page=abc".into()).await;
    r.assert_status(400);
    // X-Client-ID narrows lists, for platform users too.
    let r = app
        .get("/api/persons/")
        .bearer(&admin.access)
        .header("x-client-id", &acme)
        .send()
        .await;
    assert_page(&r.json, 1);
    let r = app
        .get("/api/persons/")
        .bearer(&admin.access)
        .header("x-client-id", "NOT-A-CUID")
        .send()
        .await;
    assert_error(&r, 403, "permission_denied", "Invalid client ID format");
    let r = get("/api/persons/zzzzzzzzzzzzzzzzzzzzzzzzz/".into()).await;
    assert_error(&r, 404, "not_found", "Person not found");
    let r = get("/api/persons/by-client/zzzzzzzzzzzzzzzzzzzzzzzzz/".into()).await;
    assert_error(&r, 404, "not_found", "Client not found");
    // No token.
    for path in ["/api/persons/", "/api/persons/eligible/"] {
        let r = app.get(path).send().await;
        assert_error(
            &r,
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
        );
    }
    let r = app
        .post("/api/persons/create-employee/")
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(401);
});

db_test!(scoped_users_and_hr_managers, |app| {
    let admin = app.superuser().await;
    let acme = app.client("Acme").await;
    let beta = app.client("Beta").await;
    let a = employee(&app, &admin, &acme, "Amy", "amy@acme.test").await;
    let b = employee(&app, &admin, &beta, "Ben", "ben@beta.test").await;
    let r = app
        .post("/api/persons/")
        .bearer(&admin.access)
        .json(&json!({"person_type": "PlatformStaff", "full_name": "Staff", "email": "staff@axis.example"}))
        .send()
        .await;
    let staff = id_of(&r.json);
    let reader = app.scoped(&admin).await;
    app.grant(&admin, &reader.id, &acme).await;
    let hr = app.user(&admin, "hr@acme.test", &["hr_manager"]).await;
    app.grant(&admin, &hr.id, &acme).await;

    // Reads: granted clients' employees and dependents only.
    let r = app.get("/api/persons/").bearer(&reader.access).send().await;
    assert_page(&r.json, 1);
    assert_eq!(r.json["results"][0]["id"], a["id"]);
    assert_eq!(r.json["results"][0]["total_sessions"], Value::Null);
    assert_eq!(r.json["results"][0]["last_service_date"], Value::Null);
    for id in [id_of(&b), staff.clone()] {
        let r = app
            .get(&format!("/api/persons/{id}/"))
            .bearer(&reader.access)
            .send()
            .await;
        assert_error(&r, 404, "not_found", "Person not found");
    }
    let r = app
        .get(&format!("/api/persons/{}/", id_of(&a)))
        .bearer(&reader.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["total_sessions"], Value::Null);
    let r = app
        .get("/api/persons/")
        .bearer(&reader.access)
        .header("x-client-id", &beta)
        .send()
        .await;
    assert_error(
        &r,
        403,
        "permission_denied",
        "You do not have access to this client",
    );
    // Writes: none without hr_manager.
    let r = app
        .post("/api/persons/create-employee/")
        .bearer(&reader.access)
        .json(&json!({"full_name": "X", "client_id": acme}))
        .send()
        .await;
    assert_error(
        &r,
        403,
        "permission_denied",
        "You do not have permission to perform this action.",
    );
    let r = app
        .patch(&format!("/api/persons/{}/", id_of(&a)))
        .bearer(&reader.access)
        .json(&json!({"city": "X"}))
        .send()
        .await;
    r.assert_status(403);
    let r = app
        .post(&format!("/api/persons/{}/deactivate/", id_of(&a)))
        .bearer(&reader.access)
        .send()
        .await;
    r.assert_status(403);
    // hr_manager: granted clients only.
    let r = app
        .post("/api/persons/create-employee/")
        .bearer(&hr.access)
        .json(&json!({"full_name": "New Hire", "client_id": acme}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["user_id"], Value::Null);
    assert_eq!(r.json["total_sessions"], Value::Null);
    let hire = id_of(&r.json);
    let r = app
        .post("/api/persons/create-employee/")
        .bearer(&hr.access)
        .json(&json!({"full_name": "New Hire", "client_id": beta}))
        .send()
        .await;
    assert_field_error(&r, "client_id", None);
    let r = app
        .post("/api/persons/")
        .bearer(&hr.access)
        .json(&json!({"person_type": "PlatformStaff", "full_name": "S", "email": "s@x.test"}))
        .send()
        .await;
    r.assert_status(403);
    let r = app
        .patch(&format!("/api/persons/{hire}/"))
        .bearer(&hr.access)
        .json(&json!({"employee_department": "Ops"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["employee_department"], "Ops");
    let r = app
        .patch(&format!("/api/persons/{}/", id_of(&b)))
        .bearer(&hr.access)
        .json(&json!({"employee_department": "Ops"}))
        .send()
        .await;
    r.assert_status(404);
    let r = dependent(
        &app,
        &hr,
        &hire,
        json!({"full_name": "Kid", "relationship_to_employee": "Child"}),
    )
    .await;
    assert_eq!(r["client_id"], acme.as_str());
    app.delete(&format!("/api/persons/{}/", id_of(&r)))
        .bearer(&hr.access)
        .send()
        .await
        .assert_status(204);
    // Restore is for platform users.
    let r = app
        .post(&format!("/api/persons/{}/restore/", id_of(&r)))
        .bearer(&hr.access)
        .send()
        .await;
    r.assert_status(403);
    // Nothing about the users made is visible to them, but the trail has it.
    let made = user::Entity::find()
        .filter(user::Column::Email.eq("amy@acme.test"))
        .one(app.conn())
        .await
        .unwrap();
    assert!(made.is_some());
});
