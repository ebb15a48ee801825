//! `/api/users/` (administrators manage accounts).

use crate::common::*;

db_test!(admins_manage_accounts, |app| {
    let admin = app.admin().await;
    let office = app.department(&admin, "LIB", 1).await;
    let r = app
        .post("/api/users/")
        .bearer(&admin.access)
        .json(&json!({"email": "Librarian@MKSU.ac.ke", "full_name": "Lib Rarian", "password": PASSWORD, "role": "department_staff", "department": office}))
        .send()
        .await;
    r.assert_status(201);
    let id = r.json["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.json["email"], "librarian@mksu.ac.ke",
        "addresses are stored lower-cased"
    );
    assert_eq!(r.json["department"], office);
    assert_eq!(r.json["department_code"], "LIB");
    assert_eq!(r.json["role_display"], "Department Staff");
    assert!(r.json.get("password").is_none());

    let r = app
        .get(&format!("/api/users/{id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["department_name"], "LIB Office");

    let r = app
        .get("/api/users/?role=department_staff")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 1);
    let r = app
        .get("/api/users/?search=rarian")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    let r = app
        .get(&format!("/api/users/?department={office}"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    let r = app
        .get("/api/users/?role=boss")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"role": ["Select a valid choice. boss is not one of the available choices."]})
    );
    let r = app
        .get("/api/users/?department=nope")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);

    let r = app
        .patch(&format!("/api/users/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"full_name": "Head Librarian", "department": null}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["full_name"], "Head Librarian");
    assert_eq!(r.json["department"], Value::Null);

    let r = app
        .put(&format!("/api/users/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"full_name": "Only Name"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["email"], json!(["This field is required."]));
    assert_eq!(r.json["role"], json!(["This field is required."]));

    // A password set by an admin is hashed and ends the account's sessions.
    let staff = app.sign_in("LIBRARIAN@mksu.ac.ke", PASSWORD).await;
    app.patch(&format!("/api/users/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"password": "Fresh-Start-2026"}))
        .send()
        .await
        .assert_status(200);
    app.get("/api/auth/profile/")
        .bearer(&staff.access)
        .send()
        .await
        .assert_status(401);
    app.sign_in("Librarian@mksu.ac.ke", "Fresh-Start-2026")
        .await;

    app.delete(&format!("/api/users/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    app.get(&format!("/api/users/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
});

db_test!(users_endpoints_are_admin_only, |app| {
    let admin = app.admin().await;
    let staff = app.user(&admin, "department_staff", None).await;
    app.get("/api/users/").send().await.assert_status(401);
    let r = app.get("/api/users/").bearer(&staff.access).send().await;
    r.assert_status(403);
    assert_eq!(
        r.json["detail"],
        "You must be an administrator to perform this action."
    );
    app.post("/api/users/")
        .bearer(&staff.access)
        .json(&json!({"email": "x@mksu.ac.ke"}))
        .send()
        .await
        .assert_status(403);
    app.get(&format!("/api/users/{}/", admin.id))
        .bearer(&staff.access)
        .send()
        .await
        .assert_status(403);
    app.patch(&format!("/api/users/{}/", staff.id))
        .bearer(&staff.access)
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .assert_status(403);
    app.delete(&format!("/api/users/{}/", admin.id))
        .bearer(&staff.access)
        .send()
        .await
        .assert_status(403);
    let r = app
        .get("/api/auth/profile/")
        .bearer(&staff.access)
        .send()
        .await;
    assert_eq!(
        r.json["role"], "department_staff",
        "the failed PATCH changed nothing"
    );
});

db_test!(user_input_is_validated, |app| {
    let admin = app.admin().await;
    let r = app
        .post("/api/users/")
        .bearer(&admin.access)
        .json(&json!({"email": admin.email, "full_name": "X", "password": "password", "role": "superhero", "department": Uuid::new_v4()}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json["email"],
        json!(["User with this email already exists."])
    );
    assert_eq!(
        r.json["role"],
        json!(["\"superhero\" is not a valid choice."])
    );
    assert!(
        r.json["department"][0]
            .as_str()
            .unwrap()
            .starts_with("Invalid pk")
    );
    assert_eq!(r.json["password"], json!(["This password is too common."]));
    let r = app.post("/api/users/").bearer(&admin.access).json(&json!({"email": "a@mksu.ac.ke", "full_name": "A", "password": PASSWORD, "role": "student", "is_active": "maybe"})).send().await;
    r.assert_status(400);
    assert_eq!(r.json, json!({"is_active": ["Must be a valid boolean."]}));
    app.get("/api/users/not-a-uuid/")
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
    app.get(&format!("/api/users/{}/", Uuid::new_v4()))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
});

db_test!(admins_cannot_lock_themselves_out, |app| {
    let admin = app.admin().await;
    let r = app
        .delete(&format!("/api/users/{}/", admin.id))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    let r = app
        .patch(&format!("/api/users/{}/", admin.id))
        .bearer(&admin.access)
        .json(&json!({"role": "student"}))
        .send()
        .await;
    r.assert_status(400);
    let r = app
        .patch(&format!("/api/users/{}/", admin.id))
        .bearer(&admin.access)
        .json(&json!({"is_active": false}))
        .send()
        .await;
    r.assert_status(400);
    app.get("/api/users/")
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);
});

db_test!(original_frontend_auth_aliases_under_users, |app| {
    let r = app
        .post("/api/users/register/")
        .json(&json!({"email": "alias@mksu.ac.ke", "full_name": "Al Ias", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(201);
    let r = app
        .post("/api/users/login/")
        .json(&json!({"email": "alias@mksu.ac.ke", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(200);
    let access = r.json["tokens"]["access"].as_str().unwrap();
    app.get("/api/users/profile/")
        .bearer(access)
        .send()
        .await
        .assert_status(200);
});

db_test!(the_original_office_roles_make_office_staff, |app| {
    let admin = app.admin().await;
    let _first_fin = app.office(&admin, "FIN2", 2, "finance").await;
    let fin = app.office(&admin, "FIN", 1, "finance").await;
    let lib = app.office(&admin, "LIB", 2, "library").await;
    let hostel = app.office(&admin, "HOS", 3, "hostel").await;
    let academic = app.office(&admin, "ACAD", 4, "faculty").await;
    let services = app.office(&admin, "SS", 5, "other").await;
    let create = |role: &str, department: Option<&str>| {
        let mut body = json!({
            "email": format!("{role}-{}@mksu.ac.ke", &Uuid::new_v4().simple().to_string()[..6]),
            "full_name": "Office Person", "password": PASSWORD, "role": role,
        });
        if let Some(d) = department {
            body["department"] = json!(d);
        }
        app.post("/api/users/")
            .bearer(&admin.access)
            .json(&body)
            .send()
    };
    for (role, office) in [
        ("library_staff", &lib),
        ("finance_staff", &fin),
        ("hostel_staff", &hostel),
        ("academic_staff", &academic),
        ("gown_issuance_staff", &services),
        ("clearance_officer", &academic),
    ] {
        let r = create(role, None).await;
        r.assert_status(201);
        assert_eq!(r.json["role"], "department_staff", "{role}");
        assert_eq!(r.json["department"], office.as_str(), "{role}");
        // The office named must be of the role's type.
        let r = create(role, Some(office)).await;
        r.assert_status(201);
        assert_eq!(r.json["department"], office.as_str(), "{role}");
        let r = create(role, Some(&lib)).await;
        if role == "library_staff" {
            r.assert_status(201);
        } else {
            r.assert_status(400);
            assert!(r.json["department"][0].is_string(), "{role}: {}", r.json);
        }
    }
    // The office the account joins decides approvals as any staff member's does.
    let r = create("finance_staff", None).await;
    let email = r.json["email"].as_str().unwrap().to_owned();
    let bursar = app.sign_in(&email, PASSWORD).await;
    let r = app
        .get("/api/approvals/statistics/")
        .bearer(&bursar.access)
        .send()
        .await;
    assert_eq!(r.json["department"], "FIN Office");

    // No office of the type: refused, nothing created.
    let before = app
        .get("/api/users/")
        .bearer(&admin.access)
        .send()
        .await
        .json["count"]
        .clone();
    app.patch(&format!("/api/departments/{services}/"))
        .bearer(&admin.access)
        .json(&json!({"is_active": false}))
        .send()
        .await
        .assert_status(200);
    let r = create("gown_issuance_staff", None).await;
    r.assert_status(400);
    assert!(r.json["department"][0].is_string(), "{}", r.json);
    let after = app.get("/api/users/").bearer(&admin.access).send().await;
    assert_eq!(after.json["count"], before);
    let r = create("janitor", None).await;
    r.assert_status(400);
    assert!(r.json["role"][0].is_string());

    // PATCH accepts them too, keeping a fitting office.
    let r = create("department_staff", Some(&hostel)).await;
    let id = r.json["id"].as_str().unwrap().to_owned();
    let r = app
        .patch(&format!("/api/users/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"role": "library_staff"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["role"], "department_staff");
    assert_eq!(r.json["department"], lib.as_str());
});
