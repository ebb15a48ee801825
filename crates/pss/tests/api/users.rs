//! `/api/users/`: lists for administrators, self-service, role changes.

use crate::common::*;

db_test!(lists_are_for_administrators_and_scoped, |app| {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let first = app.candidate().await;
    let second = app.candidate().await;

    let r = app.get("/api/users/").bearer(&admin.access).send().await;
    r.assert_status(200);
    // Administrators see candidates and themselves, not the superuser.
    let ids: Vec<i64> = r.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    assert_eq!(r.json["count"], 3);
    for id in [admin.id, first.id, second.id] {
        assert!(ids.contains(&id));
    }
    assert!(!ids.contains(&root.id));
    assert!(
        r.json["results"][0].get("profile").is_none(),
        "lists carry no profile"
    );

    let r = app.get("/api/users/").bearer(&root.access).send().await;
    assert_eq!(r.json["count"], 4);
    let r = app
        .get("/api/users/?role=admin")
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["id"], admin.id);
    let r = app
        .get("/api/users/?role=boss")
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        field_map(&r.json),
        json!({"role": ["Select a valid choice. boss is not one of the available choices."]})
    );

    let r = app
        .get("/api/users/candidates/")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 2);
    assert!(
        r.json["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["role"] == "candidate")
    );
    let r = app
        .get(&format!(
            "/api/users/candidates/?search={}",
            &first.email[..13]
        ))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["id"], first.id);
    let r = app
        .get("/api/users/candidates/?has_completed_intake=true")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 0);
    let r = app
        .get("/api/users/candidates/?ordering=-email&page_size=1&page=2")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["results"].as_array().unwrap().len(), 1);
    assert!(r.json["previous"].is_string());
    let r = app
        .get("/api/users/candidates/?page=9")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(404);
    assert_eq!(r.json["detail"], "Invalid page.");

    for path in ["/api/users/", "/api/users/candidates/"] {
        app.get(path)
            .bearer(&first.access)
            .send()
            .await
            .assert_status(403);
        app.get(path).send().await.assert_status(401);
    }
});

db_test!(a_candidate_edits_itself_but_never_its_role, |app| {
    let candidate = app.candidate().await;
    let path = format!("/api/users/{}/", candidate.id);
    let r = app
        .patch(&path)
        .bearer(&candidate.access)
        .json(&json!({"first_name": "Thandiwe", "role": "candidate", "is_active": true}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["first_name"], "Thandiwe");
    assert_eq!(r.json["profile"]["user"], candidate.id);

    for body in [
        json!({"role": "admin"}),
        json!({"role": "superuser"}),
        json!({"is_active": false}),
    ] {
        let r = app
            .patch(&path)
            .bearer(&candidate.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(403);
        assert_eq!(
            r.json["detail"],
            "Only administrators can change role or is_active."
        );
    }
    let me = app
        .get("/api/users/me/")
        .bearer(&candidate.access)
        .send()
        .await;
    assert_eq!(me.json["role"], "candidate");
    assert_eq!(me.json["is_active"], true);

    // PUT needs the email; unknown fields are ignored (no mass assignment).
    let r = app
        .put(&path)
        .bearer(&candidate.access)
        .json(&json!({"first_name": "T"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        field_map(&r.json),
        json!({"email": ["This field is required."]})
    );
    let r = app
        .put(&path)
        .bearer(&candidate.access)
        .json(&json!({"email": candidate.email, "first_name": "Thandi", "last_name": "N", "id": 999, "password": "x", "token_epoch": 5}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["id"], candidate.id);
    assert_eq!(r.json["last_name"], "N");
    app.sign_in(&candidate.email, PASSWORD).await;

    let r = app
        .patch(&path)
        .bearer(&candidate.access)
        .json(&json!({"email": "broken", "role": "boss", "is_active": "maybe"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        field_map(&r.json),
        json!({"is_active": ["Must be a valid boolean."]})
    );
    let r = app
        .patch(&path)
        .bearer(&candidate.access)
        .json(&json!({"email": "broken", "role": "boss"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        field_map(&r.json),
        json!({"email": ["Enter a valid email address."], "role": ["\"boss\" is not a valid choice."]})
    );
    let other = app.candidate().await;
    let r = app
        .patch(&path)
        .bearer(&candidate.access)
        .json(&json!({"email": other.email}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        field_map(&r.json),
        json!({"email": ["User with this email already exists."]})
    );
});

db_test!(
    administrators_manage_candidates_superusers_grant_superuser,
    |app| {
        let root = app.superuser().await;
        let admin = app.admin(&root).await;
        let candidate = app.candidate().await;
        let path = format!("/api/users/{}/", candidate.id);

        let r = app
            .patch(&path)
            .bearer(&admin.access)
            .json(&json!({"role": "superuser"}))
            .send()
            .await;
        r.assert_status(403);
        assert_eq!(
            r.json["detail"],
            "Only superusers can grant the superuser role."
        );

        let r = app
            .patch(&path)
            .bearer(&admin.access)
            .json(&json!({"is_active": false}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["is_active"], false);
        let rows = app.audit_rows("User", candidate.id).await;
        let update = rows.iter().rfind(|r| r.action == "update").unwrap();
        assert_eq!(
            update.actor_id.as_deref(),
            Some(admin.id.to_string().as_str())
        );
        assert_eq!(update.changes, Some(json!({"is_active": [true, false]})));
        assert_eq!(update.ip_address.as_deref(), Some("127.0.0.1"));
        app.patch(&path)
            .bearer(&admin.access)
            .json(&json!({"is_active": true}))
            .send()
            .await
            .assert_status(200);

        // Nobody changes their own role or deactivates themselves.
        for actor in [&admin, &root] {
            let r = app
                .patch(&format!("/api/users/{}/", actor.id))
                .bearer(&actor.access)
                .json(&json!({"role": "candidate"}))
                .send()
                .await;
            r.assert_status(400);
            assert_eq!(
                field_map(&r.json),
                json!({"non_field_errors": ["You cannot change your own role or deactivate your own account."]})
            );
        }

        // Administrators cannot reach other administrators or superusers.
        let other_admin = app.admin(&root).await;
        for id in [other_admin.id, root.id] {
            let r = app
                .get(&format!("/api/users/{id}/"))
                .bearer(&admin.access)
                .send()
                .await;
            r.assert_status(404);
            app.patch(&format!("/api/users/{id}/"))
                .bearer(&admin.access)
                .json(&json!({"is_active": false}))
                .send()
                .await
                .assert_status(404);
        }

        let r = app
            .patch(&path)
            .bearer(&root.access)
            .json(&json!({"role": "superuser"}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["role"], "superuser");
        assert_eq!(r.json["is_staff"], true);
        assert_eq!(r.json["is_superuser"], true);
    }
);

db_test!(malformed_and_unknown_ids_are_404, |app| {
    let root = app.superuser().await;
    for path in [
        "/api/users/abc/",
        "/api/users/0/",
        "/api/users/-1/",
        "/api/users/99999999/",
        "/api/users/99999999999999999999999/",
        "/api/users/1.5/",
        "/api/users/99999999/profile/",
        "/api/users/x/profile/",
    ] {
        let r = app.get(path).bearer(&root.access).send().await;
        r.assert_status(404);
    }
});

const ADMINS_BY_SUPERUSERS: &str = "Only superusers can create admin accounts";
const CANDIDATES_BY_ADMINS: &str = "Only admins can create candidate accounts";

fn new_account(email: &str) -> Value {
    json!({"email": email, "password": PASSWORD, "first_name": "Lindiwe", "last_name": "Dube"})
}

/// The one audit row of the account's creation was written by `by`.
async fn assert_created_by(app: &TestApp, id: i64, by: i64) {
    let rows = app.audit_rows("User", id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].action, "create");
    assert_eq!(rows[0].actor_id.as_deref(), Some(by.to_string().as_str()));
    let changes = rows[0].changes.as_ref().unwrap().to_string();
    assert!(!changes.contains("Quiet-Harbour"), "{changes}");
    assert!(!changes.contains("pbkdf2"), "{changes}");
}

db_test!(
    staff_create_candidates_and_superusers_create_admins,
    |app| {
        let root = app.superuser().await;
        let admin = app.admin(&root).await;
        let candidate = app.candidate().await;

        // create-candidate: administrators and superusers.
        let path = "/api/users/create-candidate/";
        let email = format!("made-{}@example.org", tag());
        app.post(path)
            .json(&new_account(&email))
            .send()
            .await
            .assert_status(401);
        let r = app
            .post(path)
            .bearer(&candidate.access)
            .json(&new_account(&email))
            .send()
            .await;
        r.assert_status(403);
        assert_eq!(
            r.json,
            json!({"detail": CANDIDATES_BY_ADMINS, "code": "permission_denied", "error": CANDIDATES_BY_ADMINS})
        );
        let r = app
            .post(path)
            .bearer(&admin.access)
            .json(&new_account(&email.to_uppercase()))
            .send()
            .await;
        r.assert_status(201);
        assert_eq!(r.json["message"], "Candidate user created successfully");
        let id = r.json["id"].as_i64().unwrap();
        assert_eq!(
            r.json["user"],
            json!({"id": id, "email": email, "first_name": "Lindiwe", "last_name": "Dube", "role": "candidate"})
        );
        // The body is the account as GET /api/users/{id}/ shows it.
        let detail = app
            .get(&format!("/api/users/{id}/"))
            .bearer(&admin.access)
            .send()
            .await;
        detail.assert_status(200);
        for (key, value) in detail.json.as_object().unwrap() {
            if key != "updated_at" {
                assert_eq!(&r.json[key], value, "{key}");
            }
        }
        assert_created_by(&app, id, admin.id).await;
        app.sign_in(&email, PASSWORD).await;
        let r = app
            .post(path)
            .bearer(&root.access)
            .json(&new_account(&format!("root-made-{}@example.org", tag())))
            .send()
            .await;
        r.assert_status(201);
        assert_eq!(r.json["role"], "candidate");

        // create-admin: superusers only.
        let path = "/api/users/create-admin/";
        let email = format!("new-admin-{}@example.org", tag());
        for actor in [&candidate, &admin] {
            let r = app
                .post(path)
                .bearer(&actor.access)
                .json(&new_account(&email))
                .send()
                .await;
            r.assert_status(403);
            assert_eq!(
                r.json,
                json!({"detail": ADMINS_BY_SUPERUSERS, "code": "permission_denied", "error": ADMINS_BY_SUPERUSERS})
            );
        }
        let r = app
            .post(path)
            .bearer(&root.access)
            .json(&new_account(&email))
            .send()
            .await;
        r.assert_status(201);
        assert_eq!(r.json["message"], "Admin user created successfully");
        assert_eq!(r.json["role"], "admin");
        assert_eq!(r.json["is_staff"], true);
        assert_eq!(r.json["is_superuser"], false);
        assert_eq!(r.json["user"]["role"], "admin");
        let new_admin_id = r.json["id"].as_i64().unwrap();
        assert_created_by(&app, new_admin_id, root.id).await;
        let new_admin = app.sign_in(&email, PASSWORD).await;
        app.get("/api/users/candidates/")
            .bearer(&new_admin.access)
            .send()
            .await
            .assert_status(200);

        // POST /api/users/: administrators create candidates, superusers any role.
        let path = "/api/users/";
        app.post(path)
            .bearer(&candidate.access)
            .json(&new_account(&format!("x-{}@example.org", tag())))
            .send()
            .await
            .assert_status(403);
        let email = format!("listed-{}@example.org", tag());
        let r = app
            .post(path)
            .bearer(&admin.access)
            .json(&new_account(&email))
            .send()
            .await;
        r.assert_status(201);
        assert_eq!(r.json["role"], "candidate");
        assert_eq!(r.json["email"], email.as_str());
        assert!(r.json["profile"].is_object(), "{}", r.json);
        assert_created_by(&app, r.json["id"].as_i64().unwrap(), admin.id).await;
        app.sign_in(&email, PASSWORD).await;
        for role in ["admin", "superuser"] {
            let mut body = new_account(&format!("{role}-{}@example.org", tag()));
            body["role"] = json!(role);
            app.post(path)
                .bearer(&admin.access)
                .json(&body)
                .send()
                .await
                .assert_status(403);
            let r = app.post(path).bearer(&root.access).json(&body).send().await;
            r.assert_status(201);
            assert_eq!(r.json["role"], role);
            app.sign_in(body["email"].as_str().unwrap(), PASSWORD).await;
        }
    }
);

db_test!(
    account_creation_refuses_bad_input_and_writes_nothing,
    |app| {
        let root = app.superuser().await;
        let admin = app.admin(&root).await;
        let taken = app.candidate().await;
        let users_before = app
            .get("/api/users/")
            .bearer(&root.access)
            .send()
            .await
            .json["count"]
            .clone();
        let audit_before = app.audit_count().await;
        for path in [
            "/api/users/",
            "/api/users/create-candidate/",
            "/api/users/create-admin/",
        ] {
            let send = |body: Value| app.post(path).bearer(&root.access).json(&body).send();
            let r = send(json!({})).await;
            r.assert_status(400);
            assert_eq!(
                field_map(&r.json),
                json!({"email": ["This field is required."], "password": ["This field is required."]}),
                "{path}"
            );
            let r = send(new_account(&taken.email.to_uppercase())).await;
            r.assert_status(400);
            assert_eq!(
                field_map(&r.json),
                json!({"email": ["User with this email already exists."]}),
                "{path}"
            );
            let r = send(json!({"email": "not-an-email", "password": "short"})).await;
            r.assert_status(400);
            assert_eq!(
                r.json["email"],
                json!(["Enter a valid email address."]),
                "{path}"
            );
            assert!(
                r.json["password"].as_array().unwrap().len() >= 2,
                "{}",
                r.json
            );
            // The registration policy: the names may not be in the password.
            let r = send(json!({"email": format!("p-{}@example.org", tag()), "password": "Lindiwe-Dube-2024!", "first_name": "Lindiwe"})).await;
            r.assert_status(400);
            assert!(r.json["password"].is_array(), "{}", r.json);
            let r = send(json!({"email": 7, "password": PASSWORD})).await;
            r.assert_status(400);
            let r = app
                .post(path)
                .bearer(&root.access)
                .raw("text/plain", "email=x")
                .send()
                .await;
            r.assert_status(415);
        }
        let mut body = new_account(&format!("r-{}@example.org", tag()));
        body["role"] = json!("boss");
        let r = app
            .post("/api/users/")
            .bearer(&admin.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(
            field_map(&r.json),
            json!({"role": ["\"boss\" is not a valid choice."]})
        );

        let users_after = app
            .get("/api/users/")
            .bearer(&root.access)
            .send()
            .await
            .json["count"]
            .clone();
        assert_eq!(users_after, users_before);
        assert_eq!(app.audit_count().await, audit_before);
    }
);

db_test!(parallel_creations_of_one_email_make_one_account, |app| {
    let root = app.superuser().await;
    let email = format!("twice-{}@example.org", tag());
    let sent: Vec<_> = (0..6)
        .map(|_| {
            let client = app.client.clone();
            let access = root.access.clone();
            let body = new_account(&email);
            tokio::spawn(async move {
                client
                    .post("/api/users/create-candidate/")
                    .bearer(&access)
                    .json(&body)
                    .send()
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for response in sent {
        let r = response.await.unwrap();
        match r.status.as_u16() {
            201 => created += 1,
            400 => assert_eq!(
                field_map(&r.json),
                json!({"email": ["User with this email already exists."]})
            ),
            other => panic!("unexpected {other}: {}", r.json),
        }
    }
    assert_eq!(created, 1);
});
