//! `/api/audit-logs/` and the audit rows written by identity changes.

use crate::common::*;

const ADMIN_ONLY: &str = "You must be an administrator to perform this action.";

/// The audit rows (as the API shows them) of one object, oldest first.
async fn trail(app: &TestApp, admin: &Actor, object_id: &str) -> Vec<Value> {
    let r = app
        .get(&format!(
            "/api/audit-logs/?object_id={object_id}&ordering=created_at&page_size=100"
        ))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    r.json["results"].as_array().unwrap().clone()
}

/// Panics when a password or its hash reached an audit row.
fn assert_no_secret(row: &Value) {
    let text = row.to_string().to_lowercase();
    assert!(!text.contains("password"), "a password key leaked: {row}");
    assert!(!text.contains("pbkdf2"), "a password hash leaked: {row}");
    assert!(
        !text.contains(&PASSWORD.to_lowercase()),
        "a password leaked: {row}"
    );
}

/// The backend a test app runs on (to start a second app with other settings).
fn backend_of(app: &TestApp) -> TestBackend {
    match app.state.db.get_database_backend() {
        sea_orm::DbBackend::Postgres => TestBackend::Postgres,
        sea_orm::DbBackend::MySql => TestBackend::MySql,
        _ => TestBackend::Sqlite,
    }
}

db_test!(audit_logs_are_for_administrators_only, |app| {
    let admin = app.admin().await;
    let office = app.department(&admin, "LIB", 1).await;
    let staff = app.user(&admin, "department_staff", Some(&office)).await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let row = trail(&app, &admin, &office).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let paths = [
        "/api/audit-logs/".to_owned(),
        format!("/api/audit-logs/{row}/"),
        "/api/audit-logs/statistics/".to_owned(),
        "/api/audit-logs/recent/".to_owned(),
        format!("/api/audit-logs/by_user/?user_id={}", admin.id),
    ];
    for path in &paths {
        let r = app.get(path).send().await;
        r.assert_status(401);
        assert_eq!(
            r.json["detail"],
            "Authentication credentials were not provided."
        );
        for who in [&staff, &student] {
            let r = app.get(path).bearer(&who.access).send().await;
            r.assert_status(403);
            assert_eq!(r.json["detail"], ADMIN_ONLY, "{path}");
        }
        app.get(path)
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(200);
    }
});

db_test!(user_changes_are_audited_without_secrets, |app| {
    let admin = app.admin().await;
    let office = app.department(&admin, "LIB", 1).await;
    let r = app
        .post("/api/users/")
        .bearer(&admin.access)
        .json(
            &json!({"email": "lib@mksu.ac.ke", "full_name": "Lib Rarian", "password": PASSWORD,
                      "role": "department_staff", "department": office}),
        )
        .send()
        .await;
    r.assert_status(201);
    let id = r.json["id"].as_str().unwrap().to_owned();

    let rows = trail(&app, &admin, &id).await;
    assert_eq!(rows.len(), 1);
    let created = &rows[0];
    assert_eq!(created["action"], "create");
    assert_eq!(created["content_type"], "User");
    assert_eq!(created["object_id"], id.as_str());
    assert_eq!(created["object_str"], "Lib Rarian <lib@mksu.ac.ke>");
    assert_eq!(created["user"], admin.id.to_string());
    assert_eq!(created["user_email"], admin.email.as_str());
    assert_eq!(created["user_name"], "Ada Admin");
    assert_eq!(created["ip_address"], "127.0.0.1");
    assert_eq!(
        created["changes"],
        json!({"email": [null, "lib@mksu.ac.ke"], "full_name": [null, "Lib Rarian"],
               "role": [null, "department_staff"], "department": [null, office], "is_active": [null, true]})
    );
    assert_no_secret(created);

    // A refused change writes nothing.
    app.patch(&format!("/api/users/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"email": "not-an-address"}))
        .send()
        .await
        .assert_status(400);
    assert_eq!(trail(&app, &admin, &id).await.len(), 1);

    app.patch(&format!("/api/users/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"full_name": "Head Librarian", "password": "An0ther-Campus-Secret"}))
        .send()
        .await
        .assert_status(200);
    app.put(&format!("/api/users/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"email": "head.lib@mksu.ac.ke", "full_name": "Head Librarian", "role": "student",
                      "department": null, "admission_number": "ADM-7"}))
        .send()
        .await
        .assert_status(200);
    let rows = trail(&app, &admin, &id).await;
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["action"], "update");
    assert_eq!(
        rows[1]["changes"],
        json!({"full_name": ["Lib Rarian", "Head Librarian"]}),
        "the new password is never recorded"
    );
    assert_eq!(rows[2]["action"], "update");
    assert_eq!(
        rows[2]["object_str"],
        "Head Librarian <head.lib@mksu.ac.ke>"
    );
    assert_eq!(
        rows[2]["changes"],
        json!({"email": ["lib@mksu.ac.ke", "head.lib@mksu.ac.ke"], "admission_number": [null, "ADM-7"],
               "role": ["department_staff", "student"], "department": [office, null]})
    );

    app.delete(&format!("/api/users/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    let deleted = app.audit_rows("delete", &id).await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].content_type, "User");
    assert_eq!(deleted[0].user_id, Some(admin.id));
    assert_eq!(deleted[0].ip_address.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        deleted[0].changes,
        Some(
            json!({"email": ["head.lib@mksu.ac.ke", null], "full_name": ["Head Librarian", null],
                   "admission_number": ["ADM-7", null], "role": ["student", null],
                   "is_active": [true, null]})
        )
    );
    for row in trail(&app, &admin, &id).await {
        assert_no_secret(&row);
    }
    // Deleting yourself is refused and not audited.
    app.delete(&format!("/api/users/{}/", admin.id))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(400);
    assert!(
        app.audit_rows("delete", &admin.id.to_string())
            .await
            .is_empty()
    );
});

db_test!(student_changes_are_audited, |app| {
    let admin = app.admin().await;
    let (student, id) = app.student(&admin, "SCE/CS/0001/2022").await;
    let rows = trail(&app, &admin, &id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["action"], "create");
    assert_eq!(rows[0]["content_type"], "Student");
    assert_no_secret(&rows[0]);

    app.patch(&format!("/api/students/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"graduation_year": 2027, "eligibility_status": "eligible"}))
        .send()
        .await
        .assert_status(200);
    // Owners may read but not change their record: refused, not audited.
    app.patch(&format!("/api/students/{id}/"))
        .bearer(&student.access)
        .json(&json!({"eligibility_status": "eligible"}))
        .send()
        .await
        .assert_status(403);
    app.put(&format!("/api/students/{id}/"))
        .bearer(&admin.access)
        .json(
            &json!({"registration_number": "SCE/CS/0009/2021", "faculty": "Engineering",
                      "program": "BSc Software Engineering", "graduation_year": 2027}),
        )
        .send()
        .await
        .assert_status(200);
    let rows = trail(&app, &admin, &id).await;
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["action"], "update");
    assert_eq!(rows[1]["object_str"], "Stu Dent (SCE/CS/0001/2022)");
    assert_eq!(
        rows[1]["changes"],
        json!({"graduation_year": [2026, 2027], "eligibility_status": ["pending", "eligible"]})
    );
    assert_eq!(rows[1]["ip_address"], "127.0.0.1");
    assert_eq!(rows[1]["user"], admin.id.to_string());
    assert_eq!(rows[2]["object_str"], "Stu Dent (SCE/CS/0009/2021)");
    assert_eq!(
        rows[2]["changes"],
        json!({"registration_number": ["SCE/CS/0001/2022", "SCE/CS/0009/2021"], "admission_year": [2022, 2021],
               "program": ["BSc Computer Science", "BSc Software Engineering"],
               "eligibility_status": ["eligible", "pending"]})
    );

    app.delete(&format!("/api/students/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    let rows = trail(&app, &admin, &id).await;
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[3]["action"], "delete");
    assert_eq!(rows[3]["content_type"], "Student");
    assert_eq!(
        rows[3]["changes"]["registration_number"],
        json!(["SCE/CS/0009/2021", null])
    );
    assert_eq!(rows[3]["changes"]["graduation_year"], json!([2027, null]));
});

db_test!(department_changes_are_audited, |app| {
    let admin = app.admin().await;
    let id = app.office(&admin, "lib", 1, "library").await;
    let rows = trail(&app, &admin, &id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["action"], "create");
    assert_eq!(rows[0]["content_type"], "Department");
    assert_eq!(rows[0]["object_str"], "lib Office (LIB)");
    assert_eq!(
        rows[0]["changes"],
        json!({"name": [null, "lib Office"], "code": [null, "LIB"], "department_type": [null, "library"],
               "head_email": [null, "head@mksu.ac.ke"], "description": [null, ""], "is_active": [null, true],
               "approval_order": [null, 1]})
    );

    app.patch(&format!("/api/departments/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"name": "Main Library", "is_active": false}))
        .send()
        .await
        .assert_status(200);
    app.put(&format!("/api/departments/{id}/"))
        .bearer(&admin.access)
        .json(
            &json!({"name": "Main Library", "code": "MLIB", "department_type": "library",
                      "head_email": "librarian@mksu.ac.ke", "approval_order": 2}),
        )
        .send()
        .await
        .assert_status(200);
    let rows = trail(&app, &admin, &id).await;
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[1]["changes"],
        json!({"name": ["lib Office", "Main Library"], "is_active": [true, false]})
    );
    assert_eq!(rows[2]["object_str"], "Main Library (MLIB)");
    assert_eq!(
        rows[2]["changes"],
        json!({"code": ["LIB", "MLIB"], "head_email": ["head@mksu.ac.ke", "librarian@mksu.ac.ke"],
               "approval_order": [1, 2]})
    );

    app.delete(&format!("/api/departments/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    let deleted = app.audit_rows("delete", &id).await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].object_str, "Main Library (MLIB)");
    assert_eq!(
        deleted[0].changes.as_ref().unwrap()["code"],
        json!(["MLIB", null])
    );
    // The trail outlives the office.
    let r = app
        .get(&format!("/api/audit-logs/?object_id={id}"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 4);

    // An office with approvals cannot be deleted: nothing is audited.
    let busy = app.office(&admin, "HOS", 1, "hostel").await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    app.submit(&student).await;
    app.delete(&format!("/api/departments/{busy}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(409);
    assert!(app.audit_rows("delete", &busy).await.is_empty());
});

db_test!(the_recorded_address_honours_trusted_proxies, |app| {
    // Without trusted proxies the header is the client's word: ignored.
    let admin = app.admin().await;
    let r = app
        .post("/api/departments/")
        .bearer(&admin.access)
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"name": "Library", "code": "LIB", "department_type": "library", "head_email": "h@mksu.ac.ke"}))
        .send()
        .await;
    r.assert_status(201);
    let rows = app
        .audit_rows("create", r.json["id"].as_str().unwrap())
        .await;
    assert_eq!(rows[0].ip_address.as_deref(), Some("127.0.0.1"));

    // Behind one trusted proxy, the address that proxy saw is the client's.
    let proxied =
        TestApp::with_settings(backend_of(&app), &[("CAMPUS_TRUSTED_PROXIES", "1")]).await;
    let admin = proxied.admin().await;
    let r = proxied
        .post("/api/departments/")
        .bearer(&admin.access)
        .header("x-forwarded-for", "198.51.100.1, 203.0.113.7")
        .json(&json!({"name": "Library", "code": "LIB", "department_type": "library", "head_email": "h@mksu.ac.ke"}))
        .send()
        .await;
    r.assert_status(201);
    let office = r.json["id"].as_str().unwrap().to_owned();
    let rows = proxied.audit_rows("create", &office).await;
    assert_eq!(rows[0].ip_address.as_deref(), Some("203.0.113.7"));
    let r = proxied
        .patch(&format!("/api/departments/{office}/"))
        .bearer(&admin.access)
        .header("x-forwarded-for", "2001:db8::5")
        .json(&json!({"name": "Main Library"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        proxied.audit_rows("update", &office).await[0]
            .ip_address
            .as_deref(),
        Some("2001:db8::5")
    );
    let r = proxied
        .get(&format!(
            "/api/audit-logs/?object_id={office}&action=update"
        ))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["results"][0]["ip_address"], "2001:db8::5");
    // No header: the peer.
    proxied
        .delete(&format!("/api/departments/{office}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    assert_eq!(
        proxied.audit_rows("delete", &office).await[0]
            .ip_address
            .as_deref(),
        Some("127.0.0.1")
    );
});

/// A small known trail: 2 offices created and 1 updated by the admin, a
/// student created, the student's submission, one approval and one rejection.
struct Trail {
    admin: Actor,
    student: Actor,
    lib: String,
    hos: String,
    clearance: String,
}

async fn known_trail(app: &TestApp) -> Trail {
    let admin = app.admin().await;
    let lib = app.office(&admin, "LIB", 1, "library").await;
    let hos = app.office(&admin, "HOS", 1, "hostel").await;
    app.patch(&format!("/api/departments/{hos}/"))
        .bearer(&admin.access)
        .json(&json!({"name": "Hostels"}))
        .send()
        .await
        .assert_status(200);
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let clearance = app.submit(&student).await;
    let a_lib = app.approval_of(&admin, &clearance, &lib).await;
    let a_hos = app.approval_of(&admin, &clearance, &hos).await;
    app.post(&format!("/api/approvals/{a_lib}/approve/"))
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(200);
    app.post(&format!("/api/approvals/{a_hos}/reject/"))
        .bearer(&admin.access)
        .json(&json!({"rejection_reason": "Room key not returned"}))
        .send()
        .await
        .assert_status(200);
    Trail {
        admin,
        student,
        lib,
        hos,
        clearance,
    }
}

db_test!(the_list_filters_searches_and_orders, |app| {
    let t = known_trail(&app).await;
    let get = |query: &str| {
        let path = format!("/api/audit-logs/{query}");
        let token = t.admin.access.clone();
        let app = &app;
        async move { app.get(&path).bearer(&token).send().await }
    };
    // 2 offices + 1 office update + 1 student + 1 request + approve + reject.
    let r = get("").await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 7);
    let results = r.json["results"].as_array().unwrap();
    assert_eq!(results[0]["action"], "reject", "newest first");
    assert_eq!(results[6]["content_type"], "Department");
    let times: Vec<&str> = results
        .iter()
        .map(|r| r["created_at"].as_str().unwrap())
        .collect();
    let parsed: Vec<chrono::DateTime<chrono::Utc>> =
        times.iter().map(|t| t.parse().unwrap()).collect();
    assert!(parsed.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let first = &results[0];
    for key in [
        "id",
        "user",
        "user_email",
        "user_name",
        "action",
        "content_type",
        "object_id",
        "object_str",
        "changes",
        "ip_address",
        "created_at",
    ] {
        assert!(first.get(key).is_some(), "missing {key}");
    }
    assert_eq!(first["changes"]["status"], json!(["pending", "rejected"]));

    let r = get("?ordering=created_at").await;
    assert_eq!(r.json["results"][0]["object_id"], t.lib.as_str());

    assert_eq!(get("?action=create").await.json["count"], 4);
    assert_eq!(get("?action=update").await.json["count"], 1);
    assert_eq!(get("?action=approve").await.json["count"], 1);
    assert_eq!(get("?action=reject").await.json["count"], 1);
    assert_eq!(get("?action=verify").await.json["count"], 0);
    assert_eq!(get("?content_type=Department").await.json["count"], 3);
    assert_eq!(
        get("?content_type=ClearanceApproval&action=approve")
            .await
            .json["count"],
        1
    );
    assert_eq!(get(&format!("?user={}", t.admin.id)).await.json["count"], 6);
    let r = get(&format!("?user={}", t.student.id)).await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["object_id"], t.clearance.as_str());
    assert_eq!(get(&format!("?object_id={}", t.hos)).await.json["count"], 2);
    // The LIB office's creation and its approval ("LIB Office approval for ...").
    assert_eq!(get("?search=lib").await.json["count"], 2, "object_str");
    assert_eq!(get("?search=hostels").await.json["count"], 2);
    assert_eq!(get("?search=clearancerequest").await.json["count"], 1);
    assert_eq!(get("?search=nothing-like-it").await.json["count"], 0);

    // Date ranges: dates are inclusive, datetimes exact.
    let today = chrono::Utc::now().date_naive();
    let yesterday = today.pred_opt().unwrap();
    let tomorrow = today.succ_opt().unwrap();
    assert_eq!(
        get(&format!("?date_start={today}&date_end={today}"))
            .await
            .json["count"],
        7
    );
    assert_eq!(
        get(&format!("?date_end={yesterday}")).await.json["count"],
        0
    );
    assert_eq!(
        get(&format!("?date_start={tomorrow}")).await.json["count"],
        0
    );
    let hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let in_an_hour = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let enc = |s: &str| s.replace('+', "%2B");
    assert_eq!(
        get(&format!(
            "?start={}&end={}",
            enc(&hour_ago),
            enc(&in_an_hour)
        ))
        .await
        .json["count"],
        7
    );
    assert_eq!(
        get(&format!("?start={}", enc(&in_an_hour))).await.json["count"],
        0
    );
    assert_eq!(
        get(&format!("?end={}", enc(&hour_ago))).await.json["count"],
        0
    );
    // An unencoded "+00:00" arrives as " 00:00" and still reads.
    assert_eq!(get(&format!("?end={in_an_hour}")).await.json["count"], 7);
    // The split between the request and the decisions.
    let submitted = get("?content_type=ClearanceRequest").await.json["results"][0]["created_at"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        get(&format!("?start={}", enc(&submitted))).await.json["count"],
        3,
        "start is inclusive"
    );

    // Pagination.
    let r = get("?page_size=3&page=3").await;
    assert_eq!(r.json["results"].as_array().unwrap().len(), 1);
    assert!(r.json["next"].is_null());
    assert!(r.json["previous"].as_str().unwrap().contains("page=2"));

    // Bad values are field errors, all at once.
    let r = get("?action=teleport").await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"action": ["Select a valid choice. teleport is not one of the available choices."]})
    );
    let r = get("?user=nobody&object_id=42").await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"user": ["Enter a valid UUID."], "object_id": ["Enter a valid UUID."]})
    );
    let r =
        get("?start=yesterday&end=2026-02-30T00:00:00Z&date_start=2026-13-01&date_end=31/01/2026")
            .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"start": ["Enter a valid date/time."], "end": ["Enter a valid date/time."],
               "date_start": ["Enter a valid date."], "date_end": ["Enter a valid date."]})
    );
    get("?page=9").await.assert_status(404);
});

db_test!(one_row_by_id, |app| {
    let t = known_trail(&app).await;
    let rows = trail(&app, &t.admin, &t.hos).await;
    let id = rows[1]["id"].as_str().unwrap();
    let r = app
        .get(&format!("/api/audit-logs/{id}/"))
        .bearer(&t.admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json, rows[1]);
    assert_eq!(
        r.json["changes"],
        json!({"name": ["HOS Office", "Hostels"]})
    );
    let r = app
        .get(&format!("/api/audit-logs/{}/", Uuid::new_v4()))
        .bearer(&t.admin.access)
        .send()
        .await;
    r.assert_status(404);
    assert_eq!(r.json["detail"], "No AuditLog matches the given query.");
    app.get("/api/audit-logs/not-a-uuid/")
        .bearer(&t.admin.access)
        .send()
        .await
        .assert_status(404);
    // Read-only.
    app.delete(&format!("/api/audit-logs/{id}/"))
        .bearer(&t.admin.access)
        .send()
        .await
        .assert_status(405);
});

db_test!(statistics_recent_and_by_user, |app| {
    let t = known_trail(&app).await;
    let r = app
        .get("/api/audit-logs/statistics/")
        .bearer(&t.admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["total_logs"], 7);
    assert_eq!(
        r.json["by_action"],
        json!({"create": 4, "update": 1, "delete": 0, "approve": 1, "reject": 1, "verify": 0})
    );
    assert_eq!(
        r.json["by_content_type"],
        json!([{"content_type": "Department", "count": 3}, {"content_type": "ClearanceApproval", "count": 2},
               {"content_type": "ClearanceRequest", "count": 1}, {"content_type": "Student", "count": 1}])
    );
    assert_eq!(
        r.json["top_users"],
        json!([{"user": t.admin.id, "email": t.admin.email, "full_name": "Ada Admin", "count": 6},
               {"user": t.student.id, "email": t.student.email, "full_name": "Stu Dent", "count": 1}])
    );
    let recent = r.json["recent_logs"].as_array().unwrap();
    assert_eq!(recent.len(), 7);
    assert_eq!(recent[0]["action"], "reject");

    // Many more rows: the lists are capped.
    for i in 0..14 {
        app.office(&t.admin, &format!("X{i:02}"), 3, "other").await;
    }
    let r = app
        .get("/api/audit-logs/statistics/")
        .bearer(&t.admin.access)
        .send()
        .await;
    assert_eq!(r.json["total_logs"], 21);
    assert_eq!(r.json["by_action"]["create"], 18);
    assert_eq!(r.json["recent_logs"].as_array().unwrap().len(), 10);
    assert_eq!(r.json["recent_logs"][0]["object_str"], "X13 Office (X13)");
    assert_eq!(
        r.json["by_content_type"][0],
        json!({"content_type": "Department", "count": 17})
    );
    let r = app
        .get("/api/audit-logs/recent/")
        .bearer(&t.admin.access)
        .send()
        .await;
    r.assert_status(200);
    let recent = r.json.as_array().unwrap();
    assert_eq!(recent.len(), 20);
    assert_eq!(recent[0]["object_str"], "X13 Office (X13)");
    assert_eq!(recent[19]["content_type"], "Department");

    let by_user = |query: String| {
        let token = t.admin.access.clone();
        let app = &app;
        async move {
            app.get(&format!("/api/audit-logs/by_user/{query}"))
                .bearer(&token)
                .send()
                .await
        }
    };
    let r = by_user(format!("?user_id={}", t.student.id)).await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["content_type"], "ClearanceRequest");
    assert_eq!(r.json["results"][0]["user_email"], t.student.email.as_str());
    let r = by_user(format!("?user={}&page_size=5", t.admin.id)).await;
    assert_eq!(r.json["count"], 20);
    assert_eq!(r.json["results"].as_array().unwrap().len(), 5);
    let r = by_user(format!("?user_id={}&action=approve", t.admin.id)).await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(
        by_user(format!("?user_id={}", Uuid::new_v4())).await.json["count"],
        0
    );
    let r = by_user(String::new()).await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"user_id": ["This query parameter is required."]})
    );
    let r = by_user("?user_id=someone".into()).await;
    r.assert_status(400);
    assert_eq!(r.json, json!({"user_id": ["Enter a valid UUID."]}));
    let r = by_user("?user=someone".into()).await;
    r.assert_status(400);
    assert_eq!(r.json, json!({"user": ["Enter a valid UUID."]}));
    let r = by_user(format!("?user_id={}&action=nope", t.admin.id)).await;
    r.assert_status(400);
});

db_test!(statistics_of_an_empty_trail, |app| {
    let admin = app.admin().await;
    let r = app
        .get("/api/audit-logs/statistics/")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json,
        json!({"total_logs": 0, "by_action": {"create": 0, "update": 0, "delete": 0, "approve": 0, "reject": 0, "verify": 0},
               "by_content_type": [], "top_users": [], "recent_logs": []})
    );
    let r = app
        .get("/api/audit-logs/recent/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json, json!([]));
    let r = app
        .get("/api/audit-logs/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(
        r.json,
        json!({"count": 0, "next": null, "previous": null, "results": []})
    );
});
