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
