//! The audit trail (axis contract §11): what every write leaves behind, that
//! secrets never reach it, and its read-only API.

use crate::common::*;

const TABLES: [&str; 3] = [
    "axis_audit_logs",
    "axis_entity_changes",
    "axis_field_changes",
];

/// Asserts no row of the trail holds `needle`.
async fn assert_nowhere(app: &TestApp, needle: &str) {
    for table in TABLES {
        assert_eq!(
            kernel::testing::rows_containing(app.conn(), table, needle).await,
            0,
            "{needle:?} found in {table}"
        );
    }
}

db_test!(
    creating_a_user_leaves_one_log_one_change_and_its_fields,
    |app| {
        let root = app.superuser().await;
        let before = app.trail_counts().await;
        let user = app
        .create_user(
            &root,
            json!({"email": "new@axis.example", "password": PASSWORD, "first_name": "Zanele", "roles": ["hr_manager"]}),
        )
        .await;
        let id = user["id"].as_str().unwrap();
        let after = app.trail_counts().await;
        assert_eq!(after.0, before.0 + 1);
        assert_eq!(after.1, before.1 + 1);

        let logs = app.audit_logs_of("User", id).await;
        assert_eq!(logs.len(), 1);
        let log = &logs[0];
        assert_eq!(log.action, "Create");
        assert_eq!(log.user_id.as_deref(), Some(root.id.as_str()));
        assert_eq!(log.data["method"], "POST");
        assert_eq!(log.data["path"], "/api/users/");
        assert_eq!(log.data["status_code"], 201);
        assert!(log.data["client_id"].is_null());
        assert_eq!(
            log.data["changes"]["email"],
            json!([null, "new@axis.example"])
        );
        assert_eq!(log.data["changes"]["password"], "[REDACTED]");
        assert_eq!(log.ip_address.as_deref(), Some("127.0.0.1"));

        let changes = app.entity_changes_of("User", id).await;
        assert_eq!(changes.len(), 1);
        let change = &changes[0];
        assert_eq!(change.change_type, "Create");
        assert!(change.old_data.is_none());
        let new = change.new_data.as_ref().unwrap();
        assert_eq!(new["email"], "new@axis.example");
        assert_eq!(new["first_name"], "Zanele");
        assert_eq!(new["roles"], json!(["hr_manager"]));
        assert_eq!(new["password"], "[REDACTED]");
        assert_eq!(change.changed_by.as_deref(), Some(root.id.as_str()));
        assert_eq!(
            change.changed_by_email.as_deref(),
            Some("root@axis.example")
        );
        assert_eq!(change.metadata["audit_log_id"], log.id.as_str());
        assert!(change.is_active);

        let fields = app.field_changes_of(&change.id).await;
        assert_eq!(after.2 - before.2, i64::try_from(fields.len()).unwrap());
        let names: Vec<&str> = fields.iter().map(|f| f.field_name.as_str()).collect();
        for expected in [
            "email",
            "first_name",
            "status",
            "roles",
            "password",
            "created_at",
            "id",
        ] {
            assert!(names.contains(&expected), "{expected} in {names:?}");
        }
        // Every non-null field, old null; never updated_at, never a null one.
        for absent in ["updated_at", "deleted_at", "last_login_at", "timezone"] {
            assert!(!names.contains(&absent), "{absent} in {names:?}");
        }
        for f in &fields {
            assert_eq!(f.change_type, "Create");
            assert_eq!(f.entity_type, "User");
            assert_eq!(f.entity_id, id);
            // Secret fields (the password hash, the token epoch) are redacted
            // on both sides.
            if f.new_value == Some(json!("[REDACTED]")) {
                assert_eq!(f.old_value, Some(json!("[REDACTED]")), "{}", f.field_name);
            } else {
                assert_eq!(f.old_value, Some(Value::Null), "{}", f.field_name);
            }
        }
        let email = fields.iter().find(|f| f.field_name == "email").unwrap();
        assert_eq!(email.new_value, Some(json!("new@axis.example")));
        let password = fields.iter().find(|f| f.field_name == "password").unwrap();
        assert_eq!(password.new_value, Some(json!("[REDACTED]")));

        assert_nowhere(&app, PASSWORD).await;
        assert_nowhere(&app, "pbkdf2_sha256$").await;
    }
);

db_test!(updates_record_only_what_changed, |app| {
    let root = app.superuser().await;
    let user = app
        .create_user(
            &root,
            json!({"email": "edit@axis.example", "first_name": "Before"}),
        )
        .await;
    let id = user["id"].as_str().unwrap();
    app.patch(&format!("/api/users/{id}/"))
        .bearer(&root.access)
        .json(&json!({"first_name": "After", "last_name": "", "roles": ["manager"]}))
        .send()
        .await
        .assert_status(200);
    let changes = app.entity_changes_of("User", id).await;
    assert_eq!(changes.len(), 2);
    let update = &changes[1];
    assert_eq!(update.change_type, "Update");
    assert_eq!(update.old_data.as_ref().unwrap()["first_name"], "Before");
    assert_eq!(update.new_data.as_ref().unwrap()["first_name"], "After");
    let fields = app.field_changes_of(&update.id).await;
    let changed: Vec<(&str, Option<Value>, Option<Value>)> = fields
        .iter()
        .map(|f| {
            (
                f.field_name.as_str(),
                f.old_value.clone(),
                f.new_value.clone(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        vec![
            ("first_name", Some(json!("Before")), Some(json!("After"))),
            ("roles", Some(json!([])), Some(json!(["manager"]))),
        ]
    );
    let log = app.audit_logs_of("User", id).await.pop().unwrap();
    assert_eq!(log.action, "Update");
    assert_eq!(log.data["method"], "PATCH");
    assert_eq!(log.data["status_code"], 200);
    assert_eq!(
        log.data["changes"]["first_name"],
        json!(["Before", "After"])
    );
    assert_eq!(update.metadata["audit_log_id"], log.id.as_str());

    // A PATCH that changes nothing still logs, with no field changes.
    app.patch(&format!("/api/users/{id}/"))
        .bearer(&root.access)
        .json(&json!({"first_name": "After"}))
        .send()
        .await
        .assert_status(200);
    let last = app.entity_changes_of("User", id).await.pop().unwrap();
    assert!(app.field_changes_of(&last.id).await.is_empty());
});

db_test!(deletes_actions_and_restores_are_typed, |app| {
    let root = app.superuser().await;
    let user = app
        .create_user(&root, json!({"email": "typed@axis.example"}))
        .await;
    let id = user["id"].as_str().unwrap();
    let path = |action: &str| format!("/api/users/{id}/{action}");
    app.post(&path("suspend/"))
        .bearer(&root.access)
        .json(&json!({"reason": "Investigation"}))
        .send()
        .await
        .assert_status(200);
    app.post(&path("activate/"))
        .bearer(&root.access)
        .send()
        .await
        .assert_status(200);
    app.delete(&path(""))
        .bearer(&root.access)
        .send()
        .await
        .assert_status(204);
    app.post(&path("restore/"))
        .bearer(&root.access)
        .send()
        .await
        .assert_status(200);

    let changes = app.entity_changes_of("User", id).await;
    let types: Vec<&str> = changes.iter().map(|c| c.change_type.as_str()).collect();
    assert_eq!(
        types,
        ["Create", "Deactivate", "Activate", "Delete", "Restore"]
    );
    assert_eq!(changes[1].change_reason.as_deref(), Some("Investigation"));
    assert!(changes[2].change_reason.is_none());
    // The delete: old snapshot, no new one, deleted_at its one field.
    assert!(changes[3].new_data.is_none());
    assert!(changes[3].old_data.is_some());
    let fields = app.field_changes_of(&changes[3].id).await;
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].field_name, "deleted_at");
    assert_eq!(fields[0].old_value, Some(Value::Null));
    assert!(fields[0].new_value.as_ref().unwrap().is_string());
    // The suspension changed status and is_active.
    let fields = app.field_changes_of(&changes[1].id).await;
    let names: Vec<&str> = fields.iter().map(|f| f.field_name.as_str()).collect();
    assert!(
        names.contains(&"status") && names.contains(&"is_active"),
        "{names:?}"
    );
    let status = fields.iter().find(|f| f.field_name == "status").unwrap();
    assert_eq!(status.old_value, Some(json!("Active")));
    assert_eq!(status.new_value, Some(json!("Suspended")));
    assert_eq!(status.change_type, "Deactivate");

    let actions: Vec<String> = app
        .audit_logs_of("User", id)
        .await
        .into_iter()
        .map(|l| l.action)
        .collect();
    assert_eq!(actions, ["Create", "Update", "Update", "Delete", "Update"]);
    let delete = &app.audit_logs_of("User", id).await[3];
    assert_eq!(delete.data["status_code"], 204);
    assert_eq!(delete.data["method"], "DELETE");
});

db_test!(grants_are_audited_as_user_clients, |app| {
    let root = app.superuser().await;
    let person = app.scoped(&root).await;
    let acme = app.client("Acme Mining").await;
    let grant = app.grant(&root, &person.id, &acme).await;
    let id = grant["id"].as_str().unwrap();
    app.delete(&format!("/api/user-clients/{id}/"))
        .bearer(&root.access)
        .send()
        .await
        .assert_status(204);
    let logs = app.audit_logs_of("UserClient", id).await;
    let actions: Vec<&str> = logs.iter().map(|l| l.action.as_str()).collect();
    assert_eq!(actions, ["Create", "Delete"]);
    let changes = app.entity_changes_of("UserClient", id).await;
    let types: Vec<&str> = changes.iter().map(|c| c.change_type.as_str()).collect();
    assert_eq!(types, ["Create", "Delete"]);
    let created = changes[0].new_data.as_ref().unwrap();
    assert_eq!(created["user_id"], person.id.as_str());
    assert_eq!(created["client_id"], acme.as_str());
});

db_test!(failed_requests_write_nothing, |app| {
    let root = app.superuser().await;
    let scoped = app.scoped(&root).await;
    let before = app.trail_counts().await;
    let attempts = [
        app.post("/api/users/")
            .bearer(&root.access)
            .json(&json!({"email": "bad", "password": "1"})),
        app.post("/api/users/")
            .bearer(&scoped.access)
            .json(&json!({"email": "ok@axis.example"})),
        app.patch("/api/users/cxxxxxxxxxxxxxxxxxxxxxxxx/")
            .bearer(&root.access)
            .json(&json!({"first_name": "x"})),
        app.post(&format!("/api/users/{}/activate/", scoped.id))
            .bearer(&root.access),
        app.delete(&format!("/api/users/{}/", root.id))
            .bearer(&root.access),
        app.post("/api/user-clients/")
            .bearer(&root.access)
            .json(&json!({"user_id": scoped.id, "client_id": "nope"})),
        app.post("/api/auth/token/")
            .json(&json!({"email": "root@axis.example", "password": "wrong-password"})),
        app.post("/api/auth/change-password/")
            .bearer(&root.access)
            .json(&json!({"old_password": "wrong", "new_password": "Fine-New-Password-1"})),
    ];
    for attempt in attempts {
        let r = attempt.send().await;
        assert!(r.status.is_client_error(), "{}", r.json);
    }
    assert_eq!(app.trail_counts().await, before);
});

db_test!(passwords_never_reach_the_trail, |app| {
    let root = app.superuser().await;
    let secrets = [
        "Create-Time-Secret-71",
        "Patch-Time-Secret-72",
        "Set-Password-Secret-73",
        "Changed-Own-Secret-74",
    ];
    let user = app
        .create_user(
            &root,
            json!({"email": "secretive@axis.example", "password": secrets[0]}),
        )
        .await;
    let id = user["id"].as_str().unwrap();
    app.patch(&format!("/api/users/{id}/"))
        .bearer(&root.access)
        .json(&json!({"password": secrets[1]}))
        .send()
        .await
        .assert_status(200);
    app.post(&format!("/api/users/{id}/set-password/"))
        .bearer(&root.access)
        .json(&json!({"password": secrets[2]}))
        .send()
        .await
        .assert_status(200);
    let me = app.sign_in("secretive@axis.example", secrets[2]).await;
    let r = app
        .post("/api/auth/change-password/")
        .bearer(&me.access)
        .json(&json!({"old_password": secrets[2], "new_password": secrets[3]}))
        .send()
        .await;
    r.assert_status(200);
    let fresh_access = r.json["access"].as_str().unwrap().to_owned();
    app.post("/api/auth/logout/")
        .bearer(&fresh_access)
        .json(&json!({"refresh": r.json["refresh"]}))
        .send()
        .await
        .assert_status(200);

    for secret in secrets {
        assert_nowhere(&app, secret).await;
    }
    for token in [&me.access, &me.refresh, &root.access, &root.refresh] {
        assert_nowhere(&app, token).await;
    }
    // No stored hash either.
    let hash = app.user_row(id).await.password;
    assert_nowhere(&app, &hash).await;
    assert_nowhere(&app, "pbkdf2_sha256$").await;

    // The password changes are visible as changes, without their values.
    let changes = app.entity_changes_of("User", id).await;
    assert_eq!(changes.len(), 4);
    for change in &changes[1..] {
        let fields = app.field_changes_of(&change.id).await;
        let password = fields
            .iter()
            .find(|f| f.field_name == "password")
            .unwrap_or_else(|| panic!("a password field change in {fields:?}"));
        assert_eq!(password.old_value, Some(json!("[REDACTED]")));
        assert_eq!(password.new_value, Some(json!("[REDACTED]")));
        assert_eq!(change.old_data.as_ref().unwrap()["password"], "[REDACTED]");
        assert_eq!(change.new_data.as_ref().unwrap()["password"], "[REDACTED]");
    }
    // The self-service change is by the user themselves.
    assert_eq!(changes[3].changed_by.as_deref(), Some(id));
});

db_test!(the_audit_log_api_lists_filters_and_details, |app| {
    let root = app.superuser().await;
    let manager = app.manager(&root).await;
    let user = app
        .create_user(&root, json!({"email": "subject@axis.example"}))
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    app.patch(&format!("/api/users/{id}/"))
        .bearer(&root.access)
        .header("user-agent", "audit-test-agent")
        .json(&json!({"first_name": "Filtered"}))
        .send()
        .await
        .assert_status(200);
    // Logins: root, manager. Creates: manager, subject. Update: subject.
    let r = app
        .get("/api/audit-logs/")
        .bearer(&manager.access)
        .send()
        .await;
    r.assert_status(200);
    assert_page(&r.json, 5);
    let item = &r.json["data"][0];
    assert_eq!(
        keys(item),
        sorted(&[
            "id",
            "action",
            "entity_type",
            "entity_id",
            "user_id",
            "user_email",
            "created_at",
            "timestamp"
        ])
    );
    // Newest first: the update.
    assert_eq!(item["action"], "Update");
    assert_eq!(item["entity_id"], id.as_str());
    assert_eq!(item["user_id"], root.id.as_str());
    assert_eq!(item["user_email"], "root@axis.example");
    assert_eq!(item["timestamp"], item["created_at"]);
    let stamps: Vec<&str> = r.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["created_at"].as_str().unwrap())
        .collect();
    let mut newest_first = stamps.clone();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(stamps, newest_first);

    let detail = app
        .get(&format!(
            "/api/audit-logs/{}/",
            item["id"].as_str().unwrap()
        ))
        .bearer(&manager.access)
        .send()
        .await;
    detail.assert_status(200);
    assert_eq!(
        keys(&detail.json),
        sorted(&[
            "id",
            "action",
            "entity_type",
            "entity_id",
            "user_id",
            "user_email",
            "created_at",
            "timestamp",
            "data",
            "ip_address",
            "user_agent"
        ])
    );
    assert_eq!(detail.json["ip_address"], "127.0.0.1");
    assert_eq!(detail.json["user_agent"], "audit-test-agent");
    assert_eq!(
        detail.json["data"]["changes"]["first_name"],
        json!(["", "Filtered"])
    );
    assert_eq!(detail.json["data"]["path"], format!("/api/users/{id}/"));
    let r = app
        .get("/api/audit-logs/cxxxxxxxxxxxxxxxxxxxxxxxx/")
        .bearer(&root.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Audit log not found");

    let count = |query: String| {
        let app = &app;
        let token = root.access.clone();
        async move {
            let r = app
                .get(&format!("/api/audit-logs/?{query}"))
                .bearer(&token)
                .send()
                .await;
            r.assert_status(200);
            r.json["count"].as_u64().unwrap()
        }
    };
    // (Each count is made before the next request's own Login could add one:
    // reading writes nothing.)
    assert_eq!(count("action=Login".into()).await, 2);
    assert_eq!(count("action=login".into()).await, 2);
    assert_eq!(count("action=Create".into()).await, 2);
    assert_eq!(count("entity_type=User".into()).await, 5);
    assert_eq!(count("entity_type=Client".into()).await, 0);
    assert_eq!(count(format!("entity_id={id}")).await, 2);
    assert_eq!(count(format!("user_id={}", manager.id)).await, 1);
    assert_eq!(count(format!("user={}", root.id)).await, 4);
    assert_eq!(count("search=subject@axis".into()).await, 0);
    assert_eq!(count("search=root@axis".into()).await, 4);
    assert_eq!(count(format!("search={id}")).await, 2);
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let yesterday = today.pred_opt().unwrap();
    assert_eq!(count(format!("date_from={today}")).await, 5);
    assert_eq!(count(format!("date_to={today}")).await, 5);
    assert_eq!(count(format!("date_from={tomorrow}")).await, 0);
    assert_eq!(count(format!("date_to={yesterday}")).await, 0);
    assert_eq!(
        count(format!("date_from={yesterday}&date_to={tomorrow}")).await,
        5
    );
    for (query, field) in [
        ("date_from=yesterday", "date_from"),
        ("date_to=2026-13-45", "date_to"),
        ("action=Sneeze", "action"),
    ] {
        let r = app
            .get(&format!("/api/audit-logs/?{query}"))
            .bearer(&root.access)
            .send()
            .await;
        assert_field_error(&r, field, None);
    }
    let r = app
        .get("/api/audit-logs/?page=abc")
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["error"], "Invalid page parameter");
    assert_eq!(r.json["message"], "page must be a valid integer, got: abc");
});

db_test!(the_audit_log_arrays, |app| {
    let root = app.superuser().await;
    let user = app
        .create_user(&root, json!({"email": "arr@axis.example"}))
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    for name in ["One", "Two"] {
        app.patch(&format!("/api/users/{id}/"))
            .bearer(&root.access)
            .json(&json!({"first_name": name}))
            .send()
            .await
            .assert_status(200);
    }
    let get = |path: String| {
        let app = &app;
        let token = root.access.clone();
        async move {
            let r = app.get(&path).bearer(&token).send().await;
            r.assert_status(200);
            r.json
        }
    };
    let recent = get("/api/audit-logs/recent/".into()).await;
    assert_eq!(recent.as_array().unwrap().len(), 4);
    assert_eq!(recent[0]["action"], "Update");
    assert_eq!(recent[3]["action"], "Login");
    let recent = get("/api/audit-logs/recent/?days=1".into()).await;
    assert_eq!(recent.as_array().unwrap().len(), 4);
    for bad in ["abc", "0", "-3"] {
        let r = app
            .get(&format!("/api/audit-logs/recent/?days={bad}"))
            .bearer(&root.access)
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["error"], "Invalid days parameter");
        assert_eq!(
            r.json["message"],
            format!("days must be a valid integer, got: {bad}")
        );
    }
    let mine = get(format!("/api/audit-logs/user/{}/", root.id)).await;
    assert_eq!(mine.as_array().unwrap().len(), 4);
    let nobody = get("/api/audit-logs/user/cxxxxxxxxxxxxxxxxxxxxxxxx/".into()).await;
    assert_eq!(nobody, json!([]));
    let history = get(format!("/api/audit-logs/entity/User/{id}/")).await;
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["Update", "Update", "Create"]);
    assert!(history[0].get("data").is_none());
});

db_test!(the_entity_change_api, |app| {
    let root = app.superuser().await;
    let manager = app.manager(&root).await;
    let user = app
        .create_user(&root, json!({"email": "ec@axis.example"}))
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    app.post(&format!("/api/users/{id}/suspend/"))
        .bearer(&root.access)
        .json(&json!({"reason": "Audit me"}))
        .send()
        .await
        .assert_status(200);

    let r = app
        .get("/api/entity-changes/")
        .bearer(&manager.access)
        .send()
        .await;
    r.assert_status(200);
    // The manager's create, the user's create and suspension.
    assert_page(&r.json, 3);
    let item = &r.json["data"][0];
    assert_eq!(
        keys(item),
        sorted(&[
            "id",
            "entity_type",
            "entity_id",
            "change_type",
            "changed_at",
            "changed_by",
            "changed_by_email",
            "is_active"
        ])
    );
    assert_eq!(item["change_type"], "Deactivate");
    assert_eq!(item["changed_by"], root.id.as_str());
    assert_eq!(item["changed_by_email"], "root@axis.example");
    assert_eq!(item["is_active"], true);

    let detail = app
        .get(&format!(
            "/api/entity-changes/{}/",
            item["id"].as_str().unwrap()
        ))
        .bearer(&manager.access)
        .send()
        .await;
    detail.assert_status(200);
    let mut expected = vec![
        "id",
        "entity_type",
        "entity_id",
        "change_type",
        "changed_at",
        "changed_by",
        "changed_by_email",
        "is_active",
        "change_reason",
        "old_data",
        "new_data",
        "metadata",
        "field_changes_count",
        "field_changes",
    ];
    expected.sort_unstable();
    assert_eq!(keys(&detail.json), sorted(&expected));
    assert_eq!(detail.json["change_reason"], "Audit me");
    assert_eq!(detail.json["old_data"]["status"], "Active");
    assert_eq!(detail.json["new_data"]["status"], "Suspended");
    let fields = detail.json["field_changes"].as_array().unwrap();
    assert_eq!(detail.json["field_changes_count"], fields.len());
    assert!(fields.iter().any(|f| f["field_name"] == "status"));
    assert!(fields.iter().all(|f| f["entity_change_id"] == item["id"]));
    assert!(detail.json["metadata"]["audit_log_id"].is_string());
    let r = app
        .get("/api/entity-changes/cxxxxxxxxxxxxxxxxxxxxxxxx/")
        .bearer(&root.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Entity change not found");

    let count = |query: String| {
        let app = &app;
        let token = root.access.clone();
        async move {
            let r = app
                .get(&format!("/api/entity-changes/?{query}"))
                .bearer(&token)
                .send()
                .await;
            r.assert_status(200);
            r.json["count"].as_u64().unwrap()
        }
    };
    assert_eq!(count("entity_type=User".into()).await, 3);
    assert_eq!(count(format!("entity_id={id}")).await, 2);
    assert_eq!(count("change_type=Create".into()).await, 2);
    assert_eq!(count("change_type=deactivate".into()).await, 1);
    assert_eq!(count(format!("changed_by={}", root.id)).await, 3);
    assert_eq!(count(format!("changed_by={}", manager.id)).await, 0);
    let r = app
        .get("/api/entity-changes/?change_type=Exploded")
        .bearer(&root.access)
        .send()
        .await;
    assert_field_error(
        &r,
        "change_type",
        Some("\"Exploded\" is not a valid choice."),
    );

    let get = |path: String| {
        let app = &app;
        let token = root.access.clone();
        async move {
            let r = app.get(&path).bearer(&token).send().await;
            r.assert_status(200);
            r.json
        }
    };
    let recent = get("/api/entity-changes/recent/".into()).await;
    assert_eq!(recent.as_array().unwrap().len(), 3);
    assert_eq!(recent[0]["change_type"], "Deactivate");
    let by_root = get(format!("/api/entity-changes/user/{}/", root.id)).await;
    assert_eq!(by_root.as_array().unwrap().len(), 3);
    // One entity's history is oldest first.
    let history = get(format!("/api/entity-changes/entity/User/{id}/")).await;
    let types: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["change_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["Create", "Deactivate"]);
});

db_test!(the_field_change_api, |app| {
    let root = app.superuser().await;
    let user = app
        .create_user(
            &root,
            json!({"email": "fc@axis.example", "first_name": "A"}),
        )
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    for name in ["B", "C"] {
        app.patch(&format!("/api/users/{id}/"))
            .bearer(&root.access)
            .json(&json!({"first_name": name}))
            .send()
            .await
            .assert_status(200);
    }
    let r = app
        .get("/api/field-changes/?field_name=first_name")
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    assert_page(&r.json, 3);
    let item = &r.json["data"][0];
    for key in [
        "id",
        "entity_change_id",
        "entity_type",
        "entity_id",
        "field_name",
        "change_type",
        "created_at",
    ] {
        assert!(item.get(key).is_some(), "{key} in {item}");
    }
    assert_eq!(item["entity_type"], "User");
    assert_eq!(item["entity_id"], id.as_str());
    let detail = app
        .get(&format!(
            "/api/field-changes/{}/",
            item["id"].as_str().unwrap()
        ))
        .bearer(&root.access)
        .send()
        .await;
    detail.assert_status(200);
    assert_eq!(detail.json["has_changed"], true);
    assert!(detail.json.get("old_value").is_some());
    assert!(detail.json.get("new_value").is_some());
    let r = app
        .get("/api/field-changes/cxxxxxxxxxxxxxxxxxxxxxxxx/")
        .bearer(&root.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Field change not found");

    let r = app
        .get("/api/field-changes/?change_type=Update")
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 2);
    let change = app.entity_changes_of("User", &id).await[1].clone();
    let r = app
        .get(&format!(
            "/api/field-changes/?entity_change_id={}",
            change.id
        ))
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    let r = app
        .get(&format!("/api/field-changes/entity-change/{}/", change.id))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    assert_eq!(r.json[0]["field_name"], "first_name");
    assert_eq!(r.json[0]["old_value"], "A");
    assert_eq!(r.json[0]["new_value"], "B");

    let r = app
        .get(&format!(
            "/api/field-changes/field-history/User/{id}/first_name/"
        ))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    let steps: Vec<(Value, Value)> = r
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["old_value"].clone(), s["new_value"].clone()))
        .collect();
    assert_eq!(
        steps,
        vec![
            (Value::Null, json!("A")),
            (json!("A"), json!("B")),
            (json!("B"), json!("C"))
        ]
    );
    let r = app
        .get(&format!(
            "/api/field-changes/field-history/User/{id}/nonexistent/"
        ))
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json, json!([]));
});

db_test!(the_trail_is_read_only_and_for_the_platform, |app| {
    let root = app.superuser().await;
    let scoped = app.scoped(&root).await;
    let user = app
        .create_user(&root, json!({"email": "ro@axis.example"}))
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    let log = app.audit_logs_of("User", &id).await.remove(0).id;
    let change = app.entity_changes_of("User", &id).await.remove(0).id;
    let field = app.field_changes_of(&change).await.remove(0).id;
    let collections = [
        "/api/audit-logs/",
        "/api/entity-changes/",
        "/api/field-changes/",
    ];
    let items = [
        format!("/api/audit-logs/{log}/"),
        format!("/api/entity-changes/{change}/"),
        format!("/api/field-changes/{field}/"),
    ];
    let before = app.trail_counts().await;
    for path in collections {
        for r in [
            app.post(path)
                .bearer(&root.access)
                .json(&json!({}))
                .send()
                .await,
            app.put(path)
                .bearer(&root.access)
                .json(&json!({}))
                .send()
                .await,
            app.patch(path)
                .bearer(&root.access)
                .json(&json!({}))
                .send()
                .await,
            app.delete(path).bearer(&root.access).send().await,
        ] {
            r.assert_status(405);
            assert_eq!(r.json["code"], "method_not_allowed");
            assert_eq!(
                r.header("allow").map(|a| a.contains("GET")),
                Some(true),
                "{path}"
            );
        }
    }
    for path in &items {
        for (method, r) in [
            (
                "POST",
                app.post(path)
                    .bearer(&root.access)
                    .json(&json!({}))
                    .send()
                    .await,
            ),
            (
                "PUT",
                app.put(path)
                    .bearer(&root.access)
                    .json(&json!({}))
                    .send()
                    .await,
            ),
            (
                "PATCH",
                app.patch(path)
                    .bearer(&root.access)
                    .json(&json!({}))
                    .send()
                    .await,
            ),
            ("DELETE", app.delete(path).bearer(&root.access).send().await),
        ] {
            assert_error(
                &r,
                405,
                "method_not_allowed",
                &format!("Method \"{method}\" not allowed."),
            );
        }
    }
    assert_eq!(app.trail_counts().await, before);

    let reads = [
        "/api/audit-logs/".to_owned(),
        "/api/audit-logs/recent/".to_owned(),
        format!("/api/audit-logs/user/{id}/"),
        format!("/api/audit-logs/entity/User/{id}/"),
        "/api/entity-changes/".to_owned(),
        "/api/entity-changes/recent/".to_owned(),
        format!("/api/entity-changes/user/{id}/"),
        format!("/api/entity-changes/entity/User/{id}/"),
        "/api/field-changes/".to_owned(),
        format!("/api/field-changes/entity-change/{change}/"),
        format!("/api/field-changes/field-history/User/{id}/email/"),
    ];
    for path in reads.iter().chain(items.iter()) {
        let r = app.get(path).bearer(&scoped.access).send().await;
        assert_error(
            &r,
            403,
            "permission_denied",
            "You do not have permission to perform this action.",
        );
        let r = app.get(path).send().await;
        assert_error(
            &r,
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
        );
        app.get(path)
            .bearer(&root.access)
            .send()
            .await
            .assert_status(200);
    }
});

db_test!(every_write_leaves_exactly_one_log_and_one_change, |app| {
    let root = app.superuser().await;
    let acme = app.client("Acme Mining").await;
    let (logs0, changes0, _) = app.trail_counts().await;
    assert_eq!((logs0, changes0), (1, 0));

    let r = app
        .post("/api/users/")
        .bearer(&root.access)
        .json(&json!({"email": "every@axis.example", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(201);
    let id = r.json["id"].as_str().unwrap().to_owned();
    let user_path = format!("/api/users/{id}/");
    // (request, expected status, entity type, audit action, change type or
    // None when no entity changes)
    let steps: Vec<(kernel::testing::TestRequest, u16, &str, &str, Option<&str>)> = vec![
        (
            app.patch(&user_path)
                .bearer(&root.access)
                .json(&json!({"last_name": "Every"})),
            200,
            "User",
            "Update",
            Some("Update"),
        ),
        (
            app.put(&user_path)
                .bearer(&root.access)
                .json(&json!({"email": "every@axis.example", "first_name": "E"})),
            200,
            "User",
            "Update",
            Some("Update"),
        ),
        (
            app.post(&format!("{user_path}suspend/"))
                .bearer(&root.access),
            200,
            "User",
            "Update",
            Some("Deactivate"),
        ),
        (
            app.post(&format!("{user_path}activate/"))
                .bearer(&root.access),
            200,
            "User",
            "Update",
            Some("Activate"),
        ),
        (
            app.post(&format!("{user_path}ban/")).bearer(&root.access),
            200,
            "User",
            "Update",
            Some("Deactivate"),
        ),
        (
            app.post(&format!("{user_path}deactivate/"))
                .bearer(&root.access),
            200,
            "User",
            "Update",
            Some("Deactivate"),
        ),
        (
            app.post(&format!("{user_path}activate/"))
                .bearer(&root.access),
            200,
            "User",
            "Update",
            Some("Activate"),
        ),
        (
            app.post(&format!("{user_path}set-password/"))
                .bearer(&root.access)
                .json(&json!({"password": "Every-Other-Pass-1"})),
            200,
            "User",
            "Update",
            Some("Update"),
        ),
        (
            app.post("/api/user-clients/")
                .bearer(&root.access)
                .json(&json!({"user_id": id, "client_id": acme})),
            201,
            "UserClient",
            "Create",
            Some("Create"),
        ),
        (
            app.delete(&user_path).bearer(&root.access),
            204,
            "User",
            "Delete",
            Some("Delete"),
        ),
        (
            app.post(&format!("{user_path}restore/"))
                .bearer(&root.access),
            200,
            "User",
            "Update",
            Some("Restore"),
        ),
        (
            app.post("/api/auth/token/")
                .json(&json!({"email": "root@axis.example", "password": PASSWORD})),
            200,
            "User",
            "Login",
            None,
        ),
        (
            app.post("/api/auth/change-password/")
                .bearer(&root.access)
                .json(&json!({"old_password": PASSWORD, "new_password": "Root-Rotated-Pass-2"})),
            200,
            "User",
            "Update",
            Some("Update"),
        ),
    ];
    let mut expected = app.trail_counts().await;
    for (request, status, entity_type, action, change_type) in steps {
        let r = request.send().await;
        r.assert_status(status);
        let counts = app.trail_counts().await;
        expected.0 += 1;
        let log = app.audit_logs().await.pop().unwrap();
        assert_eq!(
            (log.entity_type.as_str(), log.action.as_str()),
            (entity_type, action)
        );
        assert_eq!(log.data["status_code"], status);
        if let Some(change_type) = change_type {
            expected.1 += 1;
            let change = entity_change_of_log(&app, &log.id).await;
            assert_eq!(change.change_type, change_type);
            assert_eq!(change.entity_id, log.entity_id);
            let fields = app.field_changes_of(&change.id).await;
            expected.2 += i64::try_from(fields.len()).unwrap();
        }
        assert_eq!(counts, expected, "after {action} {entity_type}");
    }
    // Logout (with a fresh token: the password change ended the old ones).
    let fresh = app
        .sign_in("root@axis.example", "Root-Rotated-Pass-2")
        .await;
    let before = app.trail_counts().await;
    app.post("/api/auth/logout/")
        .bearer(&fresh.access)
        .send()
        .await
        .assert_status(200);
    let after = app.trail_counts().await;
    assert_eq!(
        (after.0, after.1, after.2),
        (before.0 + 1, before.1, before.2)
    );
    assert_eq!(app.audit_logs().await.pop().unwrap().action, "Logout");
    // Reads write nothing.
    for path in [
        "/api/users/",
        "/api/audit-logs/",
        "/api/entity-changes/",
        "/api/roles/",
    ] {
        let fresh = app
            .sign_in("root@axis.example", "Root-Rotated-Pass-2")
            .await;
        let before = app.trail_counts().await;
        app.get(path)
            .bearer(&fresh.access)
            .send()
            .await
            .assert_status(200);
        assert_eq!(app.trail_counts().await, before);
    }
});

/// The entity change written with audit log `log_id`.
async fn entity_change_of_log(app: &TestApp, log_id: &str) -> axis::entities::entity_change::Model {
    use sea_orm::EntityTrait;
    let all = axis::entities::entity_change::Entity::find()
        .all(app.conn())
        .await
        .unwrap();
    let mut matching: Vec<_> = all
        .into_iter()
        .filter(|c| c.metadata["audit_log_id"] == log_id)
        .collect();
    assert_eq!(matching.len(), 1, "one entity change for log {log_id}");
    matching.remove(0)
}
