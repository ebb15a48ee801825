//! Users, roles, permissions and client access (axis contract §2), with the
//! platform/scoped split of §3 and the paginated envelope of §0.

use crate::common::*;

const NO_PERMISSION: &str = "You do not have permission to perform this action.";

const USER_KEYS: &[&str] = &[
    "id",
    "email",
    "username",
    "first_name",
    "last_name",
    "full_name",
    "status",
    "is_active",
    "is_staff",
    "is_superuser",
    "email_verified",
    "last_login_at",
    "roles",
    "client_ids",
    "profile",
    "created_at",
    "updated_at",
];

db_test!(admins_create_users, |app| {
    let root = app.superuser().await;
    let r = app
        .post("/api/users/")
        .bearer(&root.access)
        .json(&json!({
            "email": "  Sipho.Ndlovu@Axis.Example ",
            "password": PASSWORD,
            "first_name": "Sipho",
            "last_name": "Ndlovu",
            "username": "sipho",
            "is_staff": false,
            "status": "PENDING_VERIFICATION",
            "roles": ["manager", "document_manager"],
            "id": "ignored-read-only",
        }))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(keys(&r.json), sorted(USER_KEYS));
    let id = r.json["id"].as_str().unwrap();
    assert!(is_cuid(id), "{id}");
    assert_eq!(r.json["email"], "sipho.ndlovu@axis.example");
    assert_eq!(r.json["username"], "sipho");
    assert_eq!(r.json["full_name"], "Sipho Ndlovu");
    assert_eq!(r.json["status"], "Pending Verification");
    assert_eq!(r.json["is_active"], true);
    assert_eq!(r.json["is_staff"], false);
    assert_eq!(r.json["is_superuser"], false);
    assert_eq!(r.json["roles"], json!(["document_manager", "manager"]));
    assert_eq!(r.json["client_ids"], json!([]));
    assert!(r.json["created_at"].as_str().unwrap().ends_with('Z'));

    // Read back, in the list and alone.
    let one = app
        .get(&format!("/api/users/{id}/"))
        .bearer(&root.access)
        .send()
        .await;
    one.assert_status(200);
    assert_eq!(one.json, r.json);
    // The password works; status defaults to Active.
    let minimal = app
        .create_user(&root, json!({"email": "minimal@axis.example"}))
        .await;
    assert_eq!(minimal["status"], "Active");
    assert_eq!(minimal["roles"], json!([]));
    assert_eq!(minimal["first_name"], "");
    app.sign_in("sipho.ndlovu@axis.example", PASSWORD).await;
});

db_test!(user_input_is_validated, |app| {
    let root = app.superuser().await;
    app.create_user(&root, json!({"email": "taken@axis.example"}))
        .await;
    let post = |body: Value| {
        let app = &app;
        let token = root.access.clone();
        async move {
            app.post("/api/users/")
                .bearer(&token)
                .json(&body)
                .send()
                .await
        }
    };
    let r = post(json!({"email": "TAKEN@axis.example"})).await;
    assert_field_error(&r, "email", Some("A user with this email already exists."));
    let r = post(json!({"password": PASSWORD})).await;
    assert_field_error(&r, "email", Some("This field is required."));
    let r = post(json!({"email": "not-an-email"})).await;
    assert_field_error(&r, "email", Some("Enter a valid email address."));
    for weak in [
        "short1!",
        "12345678901",
        "password",
        "newperson@axis.example",
    ] {
        let r = post(json!({"email": "newperson@axis.example", "password": weak})).await;
        assert_field_error(&r, "password", None);
    }
    let r = post(json!({"email": "newperson@axis.example", "roles": ["manager", "wizard"]})).await;
    assert_field_error(&r, "roles", None);
    assert!(
        r.json["errors"]["roles"][0]
            .as_str()
            .unwrap()
            .contains("wizard")
    );
    let r = post(json!({"email": "newperson@axis.example", "status": "Sleeping"})).await;
    assert_field_error(&r, "status", Some("\"Sleeping\" is not a valid choice."));
    let r = post(json!({"email": "newperson@axis.example", "is_staff": "sometimes"})).await;
    assert_field_error(&r, "is_staff", None);
    // Several at once.
    let r = post(json!({"email": "taken@axis.example", "password": "123", "status": "x"})).await;
    for field in ["email", "password", "status"] {
        assert_field_error(&r, field, None);
    }
    // None of it was written.
    let list = app.get("/api/users/").bearer(&root.access).send().await;
    assert_eq!(list.json["count"], 2);
    assert_eq!(app.trail_counts().await.1, 1);
});

db_test!(who_may_read_and_write_users, |app| {
    let root = app.superuser().await;
    let manager = app.manager(&root).await;
    let scoped = app.scoped(&root).await;
    let admin_role = app.user(&root, "admin@axis.example", &["admin"]).await;
    let staff = {
        app.create_user(
            &root,
            json!({"email": "staff@axis.example", "password": PASSWORD, "is_staff": true}),
        )
        .await;
        app.sign_in("staff@axis.example", PASSWORD).await
    };

    // Read: admins (superuser, staff, role admin) and managers.
    for reader in [&root, &manager, &admin_role, &staff] {
        let r = app.get("/api/users/").bearer(&reader.access).send().await;
        r.assert_status(200);
        assert_page(&r.json, 5);
        app.get(&format!("/api/users/{}/", scoped.id))
            .bearer(&reader.access)
            .send()
            .await
            .assert_status(200);
    }
    // Write: admins only.
    for (i, writer) in [&admin_role, &staff].into_iter().enumerate() {
        app.create_user(
            writer,
            json!({"email": format!("by-admin-{i}@axis.example")}),
        )
        .await;
    }
    let requests = [
        app.post("/api/users/")
            .bearer(&manager.access)
            .json(&json!({"email": "m@axis.example"})),
        app.patch(&format!("/api/users/{}/", scoped.id))
            .bearer(&manager.access)
            .json(&json!({"first_name": "X"})),
        app.delete(&format!("/api/users/{}/", scoped.id))
            .bearer(&manager.access),
        app.post(&format!("/api/users/{}/suspend/", scoped.id))
            .bearer(&manager.access),
        app.get("/api/users/").bearer(&scoped.access),
        app.get(&format!("/api/users/{}/", scoped.id))
            .bearer(&scoped.access),
        app.post("/api/users/")
            .bearer(&scoped.access)
            .json(&json!({"email": "s@axis.example"})),
    ];
    for request in requests {
        let r = request.send().await;
        assert_error(&r, 403, "permission_denied", NO_PERMISSION);
    }
    let r = app.get("/api/users/").send().await;
    r.assert_status(401);
    let r = app
        .post("/api/users/")
        .json(&json!({"email": "anon@axis.example"}))
        .send()
        .await;
    r.assert_status(401);
});

db_test!(unknown_and_malformed_ids_are_404, |app| {
    let root = app.superuser().await;
    for id in [
        "cxxxxxxxxxxxxxxxxxxxxxxxx",
        "42",
        "not-a-cuid",
        "Cabcdefghijklmnopqrstuvwx",
    ] {
        let r = app
            .get(&format!("/api/users/{id}/"))
            .bearer(&root.access)
            .send()
            .await;
        assert_error(&r, 404, "not_found", "User not found");
        let r = app
            .patch(&format!("/api/users/{id}/"))
            .bearer(&root.access)
            .json(&json!({"first_name": "x"}))
            .send()
            .await;
        assert_error(&r, 404, "not_found", "User not found");
    }
});

db_test!(updates_replace_and_patch, |app| {
    let root = app.superuser().await;
    let user = app
        .create_user(
            &root,
            json!({"email": "edit@axis.example", "first_name": "Old", "last_name": "Name", "roles": ["manager"]}),
        )
        .await;
    let id = user["id"].as_str().unwrap();
    let r = app
        .patch(&format!("/api/users/{id}/"))
        .bearer(&root.access)
        .json(&json!({"first_name": "New", "preferred_language": "french", "timezone": "Africa/Johannesburg"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["first_name"], "New");
    assert_eq!(r.json["last_name"], "Name");
    assert_eq!(r.json["full_name"], "New Name");
    assert_eq!(r.json["roles"], json!(["manager"]));
    let row = app.user_row(id).await;
    assert_eq!(row.preferred_language.as_deref(), Some("French"));
    assert_eq!(row.timezone.as_deref(), Some("Africa/Johannesburg"));

    // PUT needs the required fields.
    let r = app
        .put(&format!("/api/users/{id}/"))
        .bearer(&root.access)
        .json(&json!({"first_name": "Only"}))
        .send()
        .await;
    assert_field_error(&r, "email", Some("This field is required."));
    let r = app
        .put(&format!("/api/users/{id}/"))
        .bearer(&root.access)
        .json(&json!({"email": "Edited@axis.example", "first_name": "Put", "roles": []}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["email"], "edited@axis.example");
    assert_eq!(r.json["first_name"], "Put");
    // Optional fields left out of a PUT keep their values (DRF).
    assert_eq!(r.json["last_name"], "Name");
    assert_eq!(r.json["roles"], json!([]));

    // An email another user has is refused; one's own is fine.
    app.create_user(&root, json!({"email": "other@axis.example"}))
        .await;
    let r = app
        .patch(&format!("/api/users/{id}/"))
        .bearer(&root.access)
        .json(&json!({"email": "OTHER@axis.example"}))
        .send()
        .await;
    assert_field_error(&r, "email", Some("A user with this email already exists."));
    app.patch(&format!("/api/users/{id}/"))
        .bearer(&root.access)
        .json(&json!({"email": "edited@axis.example"}))
        .send()
        .await
        .assert_status(200);
});

db_test!(roles_take_effect_on_the_next_request, |app| {
    let root = app.superuser().await;
    let person = app.scoped(&root).await;
    let r = app.get("/api/users/").bearer(&person.access).send().await;
    r.assert_status(403);
    let r = app
        .patch(&format!("/api/users/{}/", person.id))
        .bearer(&root.access)
        .json(&json!({"roles": ["manager"]}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["roles"], json!(["manager"]));
    // The same token, now a manager's.
    app.get("/api/users/")
        .bearer(&person.access)
        .send()
        .await
        .assert_status(200);
    let me = app.get("/api/auth/me/").bearer(&person.access).send().await;
    assert_eq!(me.json["roles"], json!(["manager"]));
    // Managers still may not write.
    let r = app
        .post("/api/users/")
        .bearer(&person.access)
        .json(&json!({"email": "x@axis.example"}))
        .send()
        .await;
    r.assert_status(403);
    // Made admin, then nothing again.
    app.patch(&format!("/api/users/{}/", person.id))
        .bearer(&root.access)
        .json(&json!({"roles": ["admin"]}))
        .send()
        .await
        .assert_status(200);
    app.create_user(&person, json!({"email": "made-by-new-admin@axis.example"}))
        .await;
    app.patch(&format!("/api/users/{}/", person.id))
        .bearer(&root.access)
        .json(&json!({"roles": null}))
        .send()
        .await
        .assert_status(200);
    let r = app.get("/api/users/").bearer(&person.access).send().await;
    assert_error(&r, 403, "permission_denied", NO_PERMISSION);
});

db_test!(lists_filter_search_and_page, |app| {
    let root = app.superuser().await;
    for i in 0..12 {
        let status = if i % 3 == 0 { "Suspended" } else { "Active" };
        let roles = if i % 4 == 0 {
            json!(["manager"])
        } else {
            json!([])
        };
        app.create_user(
            &root,
            json!({"email": format!("person{i:02}@axis.example"), "first_name": format!("Person{i}"), "status": status, "roles": roles, "is_staff": i == 5}),
        )
        .await;
    }
    let get = |path: String| {
        let app = &app;
        let token = root.access.clone();
        async move { app.get(&path).bearer(&token).send().await }
    };
    let r = get("/api/users/".into()).await;
    r.assert_status(200);
    assert_page(&r.json, 13);
    assert_eq!(r.json["page"], 1);
    assert_eq!(r.json["page_size"], 10);
    assert_eq!(r.json["total_pages"], 2);
    assert_eq!(r.json["data"].as_array().unwrap().len(), 10);
    assert!(r.json["previous"].is_null());
    assert!(r.json["next"].as_str().unwrap().contains("page=2"));
    // Newest first by default.
    assert_eq!(r.json["data"][0]["email"], "person11@axis.example");

    let r = get("/api/users/?page=2".into()).await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 3);
    assert!(r.json["next"].is_null());
    assert!(r.json["previous"].is_string());
    // Past the end serves the last page.
    let r = get("/api/users/?page=9".into()).await;
    r.assert_status(200);
    assert_eq!(r.json["page"], 2);
    assert_eq!(r.json["pagination"]["page"], 2);
    let r = get("/api/users/?page_size=5&page=3".into()).await;
    assert_eq!(
        r.json["pagination"],
        json!({"total": 13, "pages": 3, "page": 3, "limit": 5})
    );
    let r = get("/api/users/?limit=500".into()).await;
    assert_eq!(r.json["page_size"], 100);
    assert_eq!(r.json["data"].as_array().unwrap().len(), 13);

    for (query, name, raw) in [
        ("page=abc", "page", "abc"),
        ("page=0", "page", "0"),
        ("page_size=-1", "page_size", "-1"),
        ("limit=ten", "limit", "ten"),
    ] {
        let r = get(format!("/api/users/?{query}")).await;
        r.assert_status(400);
        assert_eq!(r.json["error"], format!("Invalid {name} parameter"));
        assert_eq!(
            r.json["message"],
            format!("{name} must be a valid integer, got: {raw}")
        );
        assert_eq!(r.json["status_code"], 400);
    }

    let r = get("/api/users/?status=suspended".into()).await;
    assert_eq!(r.json["count"], 4);
    assert!(
        r.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["status"] == "Suspended")
    );
    let r = get("/api/users/?status=Nope".into()).await;
    assert_field_error(&r, "status", Some("\"Nope\" is not a valid choice."));
    let r = get("/api/users/?role=manager".into()).await;
    assert_eq!(r.json["count"], 3);
    let r = get("/api/users/?is_staff=true".into()).await;
    // The superuser is staff too.
    assert_eq!(r.json["count"], 2);
    let r = get("/api/users/?is_staff=0".into()).await;
    assert_eq!(r.json["count"], 11);
    let r = get("/api/users/?is_staff=perhaps".into()).await;
    assert_field_error(&r, "is_staff", None);
    let r = get("/api/users/?search=PERSON1".into()).await;
    assert_eq!(r.json["count"], 3);
    let r = get("/api/users/?ordering=email&page_size=2".into()).await;
    assert_eq!(r.json["data"][0]["email"], "person00@axis.example");
    let r = get("/api/users/?ordering=-email,bogus&page_size=1".into()).await;
    assert_eq!(r.json["data"][0]["email"], "root@axis.example");
    let r = get("/api/users/?search=nobody-matches".into()).await;
    assert_eq!(
        r.json["pagination"],
        json!({"total": 0, "pages": 1, "page": 1, "limit": 10})
    );
    assert_eq!(r.json["data"], json!([]));
});

db_test!(status_actions_keep_history_and_end_tokens, |app| {
    let root = app.superuser().await;
    let person = app.user(&root, "person@axis.example", &["manager"]).await;
    let path = |action: &str| format!("/api/users/{}/{action}/", person.id);

    let r = app
        .post(&path("suspend"))
        .bearer(&root.access)
        .json(&json!({"reason": "Repeated policy breaches"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(keys(&r.json), sorted(USER_KEYS));
    assert_eq!(r.json["status"], "Suspended");
    assert_eq!(r.json["is_active"], false);
    // Their tokens are over.
    let me = app.get("/api/auth/me/").bearer(&person.access).send().await;
    assert_error(
        &me,
        401,
        "token_not_valid",
        "Given token not valid for any token type",
    );
    let refresh = app
        .post("/api/auth/token/refresh/")
        .json(&json!({"refresh": person.refresh}))
        .send()
        .await;
    refresh.assert_status(401);
    let login = app
        .post("/api/auth/token/")
        .json(&json!({"email": "person@axis.example", "password": PASSWORD}))
        .send()
        .await;
    login.assert_status(401);

    // Already suspended.
    let r = app.post(&path("suspend")).bearer(&root.access).send().await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "invalid_state");

    // Activate: no body, no content type.
    let r = app
        .post(&path("activate"))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Active");
    assert_eq!(r.json["is_active"], true);
    let back = app.sign_in("person@axis.example", PASSWORD).await;

    let r = app
        .post(&path("ban"))
        .bearer(&root.access)
        .json(&json!({}))
        .send()
        .await;
    assert_eq!(r.json["status"], "Banned");
    app.get("/api/auth/me/")
        .bearer(&back.access)
        .send()
        .await
        .assert_status(401);
    let r = app
        .post(&path("deactivate"))
        .bearer(&root.access)
        .json(&json!({"reason": "Left the company"}))
        .send()
        .await;
    assert_eq!(r.json["status"], "Inactive");
    assert_eq!(r.json["is_active"], false);

    let history = app.user_row(&person.id).await.metadata["status_history"].clone();
    let steps: Vec<(String, String, Value)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            assert!(h["changed_at"].as_str().unwrap().ends_with('Z'));
            (
                h["from"].as_str().unwrap().to_owned(),
                h["to"].as_str().unwrap().to_owned(),
                h["reason"].clone(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            (
                "Active".into(),
                "Suspended".into(),
                json!("Repeated policy breaches")
            ),
            ("Suspended".into(), "Active".into(), Value::Null),
            ("Active".into(), "Banned".into(), Value::Null),
            (
                "Banned".into(),
                "Inactive".into(),
                json!("Left the company")
            ),
        ]
    );
    // Nobody changes their own status.
    let r = app
        .post(&format!("/api/users/{}/suspend/", root.id))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "invalid_state");
    // A wrong content type on an action is refused, as everywhere.
    let r = app
        .post(&path("activate"))
        .bearer(&root.access)
        .raw("text/plain", "")
        .send()
        .await;
    r.assert_status(415);
});

db_test!(a_status_change_through_patch_is_the_same, |app| {
    let root = app.superuser().await;
    let person = app.user(&root, "person@axis.example", &[]).await;
    let r = app
        .patch(&format!("/api/users/{}/", person.id))
        .bearer(&root.access)
        .json(&json!({"status": "BANNED"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Banned");
    assert_eq!(r.json["is_active"], false);
    app.get("/api/auth/me/")
        .bearer(&person.access)
        .send()
        .await
        .assert_status(401);
    let history = &app.user_row(&person.id).await.metadata["status_history"];
    assert_eq!(history[0]["from"], "Active");
    assert_eq!(history[0]["to"], "Banned");
    // Nor through PATCH or PUT does anyone change their own status; the
    // status they have already is fine.
    for method in ["PATCH", "PUT"] {
        let request = match method {
            "PATCH" => app.patch(&format!("/api/users/{}/", root.id)),
            _ => app.put(&format!("/api/users/{}/", root.id)),
        };
        let r = request
            .bearer(&root.access)
            .json(&json!({"email": "root@axis.example", "status": "Suspended"}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["error"], "You cannot change your own status");
    }
    app.patch(&format!("/api/users/{}/", root.id))
        .bearer(&root.access)
        .json(&json!({"status": "Active"}))
        .send()
        .await
        .assert_status(200);
    app.get("/api/auth/me/")
        .bearer(&root.access)
        .send()
        .await
        .assert_status(200);
});

db_test!(set_password_replaces_it_and_ends_tokens, |app| {
    let root = app.superuser().await;
    let person = app.user(&root, "person@axis.example", &[]).await;
    let path = format!("/api/users/{}/set-password/", person.id);
    let r = app
        .post(&path)
        .bearer(&root.access)
        .json(&json!({"password": "1234"}))
        .send()
        .await;
    assert_field_error(&r, "password", None);
    let r = app
        .post(&path)
        .bearer(&root.access)
        .json(&json!({}))
        .send()
        .await;
    assert_field_error(&r, "password", Some("This field is required."));
    // Still the old one.
    app.get("/api/auth/me/")
        .bearer(&person.access)
        .send()
        .await
        .assert_status(200);

    let r = app
        .post(&path)
        .bearer(&root.access)
        .json(&json!({"password": "Another-Long-Secret-31"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["id"], person.id.as_str());
    app.get("/api/auth/me/")
        .bearer(&person.access)
        .send()
        .await
        .assert_status(401);
    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": "person@axis.example", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(401);
    app.sign_in("person@axis.example", "Another-Long-Secret-31")
        .await;
    // Admins only.
    let manager = app.manager(&root).await;
    let r = app
        .post(&path)
        .bearer(&manager.access)
        .json(&json!({"password": "Manager-Chosen-Secret-8"}))
        .send()
        .await;
    assert_error(&r, 403, "permission_denied", NO_PERMISSION);
    // A Microsoft-only account gets a usable password this way.
    let entra = app
        .create_user(&root, json!({"email": "entra@axis.example"}))
        .await;
    app.post(&format!(
        "/api/users/{}/set-password/",
        entra["id"].as_str().unwrap()
    ))
    .bearer(&root.access)
    .json(&json!({"password": "Now-I-Have-One-55"}))
    .send()
    .await
    .assert_status(200);
    app.sign_in("entra@axis.example", "Now-I-Have-One-55").await;
});

db_test!(delete_is_soft_and_restore_brings_the_user_back, |app| {
    let root = app.superuser().await;
    let person = app.user(&root, "leaver@axis.example", &["manager"]).await;
    let path = format!("/api/users/{}/", person.id);

    let r = app.delete(&path).bearer(&root.access).send().await;
    r.assert_status(204);
    assert!(r.body.is_empty());
    let r = app.get(&path).bearer(&root.access).send().await;
    assert_error(&r, 404, "not_found", "User not found");
    let r = app.delete(&path).bearer(&root.access).send().await;
    r.assert_status(404);
    let list = app.get("/api/users/").bearer(&root.access).send().await;
    assert_eq!(list.json["count"], 1);
    // The row is still there, deactivated; its tokens are over.
    let row = app.user_row(&person.id).await;
    assert!(row.deleted_at.is_some());
    assert!(!row.is_active);
    app.get("/api/auth/me/")
        .bearer(&person.access)
        .send()
        .await
        .assert_status(401);
    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": "leaver@axis.example", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(401);

    // Restore (it is not deleted twice, and a live user is not restored).
    let r = app
        .post(&format!("{path}restore/"))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["id"], person.id.as_str());
    assert_eq!(r.json["roles"], json!(["manager"]));
    let r = app
        .post(&format!("{path}restore/"))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "invalid_state");
    app.get(&path)
        .bearer(&root.access)
        .send()
        .await
        .assert_status(200);
    // A restored user can be activated and sign in again.
    let r = app
        .post(&format!("{path}activate/"))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["is_active"], true);
    app.sign_in("leaver@axis.example", PASSWORD).await;
});

db_test!(a_deleted_users_email_is_free_again, |app| {
    let root = app.superuser().await;
    let first = app.user(&root, "reused@axis.example", &[]).await;
    app.delete(&format!("/api/users/{}/", first.id))
        .bearer(&root.access)
        .send()
        .await
        .assert_status(204);
    let second = app
        .create_user(
            &root,
            json!({"email": "Reused@axis.example", "password": "Second-Owner-Pass-9"}),
        )
        .await;
    assert_ne!(second["id"], first.id.as_str());
    // The new owner signs in, whatever the old owner's password was, and
    // however the database plans the lookup (fresh statistics make a small
    // table a sequential scan, which meets the deleted row first).
    use sea_orm::ConnectionTrait;
    let analyze = match app.conn().get_database_backend() {
        sea_orm::DbBackend::MySql => "ANALYZE TABLE axis_users",
        _ => "ANALYZE axis_users",
    };
    app.conn().execute_unprepared(analyze).await.unwrap();
    let signed = app
        .sign_in("reused@axis.example", "Second-Owner-Pass-9")
        .await;
    assert_eq!(signed.id, second["id"].as_str().unwrap());
    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": "reused@axis.example", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(401);
    // The old owner cannot be restored over the new one.
    let r = app
        .post(&format!("/api/users/{}/restore/", first.id))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "invalid_state");
});

db_test!(nobody_deletes_themselves, |app| {
    let root = app.superuser().await;
    let r = app
        .delete(&format!("/api/users/{}/", root.id))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "invalid_state");
    app.get("/api/auth/me/")
        .bearer(&root.access)
        .send()
        .await
        .assert_status(200);
});

db_test!(roles_and_permissions_are_seeded, |app| {
    let root = app.superuser().await;
    let manager = app.manager(&root).await;
    let scoped = app.scoped(&root).await;
    let r = app.get("/api/roles/").bearer(&manager.access).send().await;
    r.assert_status(200);
    assert_page(&r.json, 4);
    let roles = r.json["data"].as_array().unwrap();
    let names: Vec<&str> = roles.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["admin", "document_manager", "hr_manager", "manager"]
    );
    for role in roles {
        assert!(is_cuid(role["id"].as_str().unwrap()));
        let holds = role["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "manage_documents");
        assert_eq!(holds, role["name"] != "hr_manager", "{role}");
    }
    let id = roles[0]["id"].as_str().unwrap();
    let one = app
        .get(&format!("/api/roles/{id}/"))
        .bearer(&root.access)
        .send()
        .await;
    one.assert_status(200);
    assert_eq!(one.json["name"], "admin");
    let r = app
        .get("/api/roles/cxxxxxxxxxxxxxxxxxxxxxxxx/")
        .bearer(&root.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Role not found");

    let r = app
        .get("/api/permissions/")
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    assert_page(&r.json, 1);
    assert_eq!(r.json["data"][0]["name"], "manage_documents");

    for path in [
        "/api/roles/",
        "/api/permissions/",
        &format!("/api/roles/{id}/"),
    ] {
        let r = app.get(path).bearer(&scoped.access).send().await;
        assert_error(&r, 403, "permission_denied", NO_PERMISSION);
        app.get(path).send().await.assert_status(401);
    }
    let r = app
        .post("/api/roles/")
        .bearer(&root.access)
        .json(&json!({"name": "x"}))
        .send()
        .await;
    r.assert_status(405);
});

db_test!(user_clients_grant_and_revoke, |app| {
    let root = app.superuser().await;
    let person = app.scoped(&root).await;
    let acme = app.client("Acme Mining").await;
    let globex = app.client("Globex Retail").await;

    let r = app
        .post("/api/user-clients/")
        .bearer(&root.access)
        .json(&json!({"user_id": person.id, "client_id": acme, "notes": "HR contact"}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(
        keys(&r.json),
        sorted(&[
            "id",
            "user_id",
            "user_email",
            "client_id",
            "client_name",
            "granted_at",
            "granted_by",
            "granted_by_email",
            "notes"
        ])
    );
    let grant = r.json["id"].as_str().unwrap().to_owned();
    assert!(is_cuid(&grant));
    assert_eq!(r.json["user_id"], person.id.as_str());
    assert_eq!(r.json["user_email"], "scoped@client.example");
    assert_eq!(r.json["client_id"], acme.as_str());
    assert_eq!(r.json["client_name"], "Acme Mining");
    assert_eq!(r.json["granted_by"], root.id.as_str());
    assert_eq!(r.json["granted_by_email"], "root@axis.example");
    assert_eq!(r.json["notes"], "HR contact");
    assert!(r.json["granted_at"].as_str().unwrap().ends_with('Z'));
    // The aliases `user` and `client`.
    app.post("/api/user-clients/")
        .bearer(&root.access)
        .json(&json!({"user": person.id, "client": globex}))
        .send()
        .await
        .assert_status(201);

    // Effective at once.
    let me = app.get("/api/auth/me/").bearer(&person.access).send().await;
    let mut ids: Vec<&str> = me.json["client_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected = vec![acme.as_str(), globex.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected);

    // The same live pair twice.
    let r = app
        .post("/api/user-clients/")
        .bearer(&root.access)
        .json(&json!({"user_id": person.id, "client_id": acme}))
        .send()
        .await;
    assert_field_error(
        &r,
        "non_field_errors",
        Some("This user already has access to this client"),
    );
    // Unknown ids.
    let r = app
        .post("/api/user-clients/")
        .bearer(&root.access)
        .json(&json!({"user_id": "x", "client_id": "cxxxxxxxxxxxxxxxxxxxxxxxx"}))
        .send()
        .await;
    assert_field_error(
        &r,
        "user_id",
        Some("Invalid pk \"x\" - object does not exist."),
    );
    assert_field_error(
        &r,
        "client_id",
        Some("Invalid pk \"cxxxxxxxxxxxxxxxxxxxxxxxx\" - object does not exist."),
    );
    let r = app
        .post("/api/user-clients/")
        .bearer(&root.access)
        .json(&json!({}))
        .send()
        .await;
    assert_field_error(&r, "user_id", Some("This field is required."));
    assert_field_error(&r, "client_id", Some("This field is required."));

    // Detail, list, filters.
    let one = app
        .get(&format!("/api/user-clients/{grant}/"))
        .bearer(&root.access)
        .send()
        .await;
    one.assert_status(200);
    assert_eq!(one.json["client_name"], "Acme Mining");
    let r = app
        .get("/api/user-clients/")
        .bearer(&root.access)
        .send()
        .await;
    assert_page(&r.json, 2);
    let r = app
        .get(&format!("/api/user-clients/?client_id={globex}"))
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["data"][0]["client_name"], "Globex Retail");
    let r = app
        .get(&format!("/api/user-clients/?user_id={}", root.id))
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 0);

    // Revoke: 204, gone at once, and the pair can be granted again.
    let r = app
        .delete(&format!("/api/user-clients/{grant}/"))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(204);
    assert!(r.body.is_empty());
    let me = app.get("/api/auth/me/").bearer(&person.access).send().await;
    assert_eq!(me.json["client_ids"], json!([globex]));
    let u = app
        .get(&format!("/api/users/{}/", person.id))
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(u.json["client_ids"], json!([globex]));
    app.get(&format!("/api/user-clients/{grant}/"))
        .bearer(&root.access)
        .send()
        .await
        .assert_status(404);
    app.delete(&format!("/api/user-clients/{grant}/"))
        .bearer(&root.access)
        .send()
        .await
        .assert_status(404);
    let r = app
        .get("/api/user-clients/")
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    app.grant(&root, &person.id, &acme).await;
    // No PUT/PATCH.
    for r in [
        app.put(&format!("/api/user-clients/{grant}/"))
            .bearer(&root.access)
            .json(&json!({}))
            .send()
            .await,
        app.patch(&format!("/api/user-clients/{grant}/"))
            .bearer(&root.access)
            .json(&json!({}))
            .send()
            .await,
    ] {
        r.assert_status(405);
        assert_eq!(r.json["code"], "method_not_allowed");
        assert!(r.header("allow").is_some());
    }
});

db_test!(user_clients_are_for_the_platform, |app| {
    let root = app.superuser().await;
    let manager = app.manager(&root).await;
    let scoped = app.scoped(&root).await;
    let acme = app.client("Acme Mining").await;
    let grant = app.grant(&root, &scoped.id, &acme).await;
    let id = grant["id"].as_str().unwrap();
    // Managers read, do not write.
    app.get("/api/user-clients/")
        .bearer(&manager.access)
        .send()
        .await
        .assert_status(200);
    app.get(&format!("/api/user-clients/{id}/"))
        .bearer(&manager.access)
        .send()
        .await
        .assert_status(200);
    for r in [
        app.post("/api/user-clients/")
            .bearer(&manager.access)
            .json(&json!({"user_id": manager.id, "client_id": acme}))
            .send()
            .await,
        app.delete(&format!("/api/user-clients/{id}/"))
            .bearer(&manager.access)
            .send()
            .await,
        app.get("/api/user-clients/")
            .bearer(&scoped.access)
            .send()
            .await,
        app.get(&format!("/api/user-clients/{id}/"))
            .bearer(&scoped.access)
            .send()
            .await,
    ] {
        assert_error(&r, 403, "permission_denied", NO_PERMISSION);
    }
    app.get("/api/user-clients/")
        .send()
        .await
        .assert_status(401);
});

db_test!(grants_to_deleted_clients_and_users_do_not_count, |app| {
    let root = app.superuser().await;
    let person = app.scoped(&root).await;
    let acme = app.client("Acme Mining").await;
    let gone = app.client("Gone Ltd").await;
    app.grant(&root, &person.id, &acme).await;
    app.grant(&root, &person.id, &gone).await;
    // The client is soft-deleted (directly: the clients API is another file's).
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let row = axis::entities::client::Entity::find_by_id(gone.clone())
        .one(app.conn())
        .await
        .unwrap()
        .unwrap();
    let mut row: axis::entities::client::ActiveModel = row.into();
    row.deleted_at = Set(Some(kernel::time::now()));
    row.tombstone = Set(gone.clone());
    row.update(app.conn()).await.unwrap();
    let me = app.get("/api/auth/me/").bearer(&person.access).send().await;
    assert_eq!(me.json["client_ids"], json!([acme]));
    // A deleted client or user cannot be granted.
    let r = app
        .post("/api/user-clients/")
        .bearer(&root.access)
        .json(&json!({"user_id": root.id, "client_id": gone}))
        .send()
        .await;
    assert_field_error(
        &r,
        "client_id",
        Some(&format!("Invalid pk \"{gone}\" - object does not exist.")),
    );
    let other = app.user(&root, "other@axis.example", &[]).await;
    app.delete(&format!("/api/users/{}/", other.id))
        .bearer(&root.access)
        .send()
        .await
        .assert_status(204);
    let r = app
        .post("/api/user-clients/")
        .bearer(&root.access)
        .json(&json!({"user_id": other.id, "client_id": acme}))
        .send()
        .await;
    assert_field_error(
        &r,
        "user_id",
        Some(&format!(
            "Invalid pk \"{}\" - object does not exist.",
            other.id
        )),
    );
});
