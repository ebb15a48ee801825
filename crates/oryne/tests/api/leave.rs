//! Leave requests: who may ask for whom, who sees what, review
//! transitions, and approval marking attendance `excused`.

use oryne::entities::attendance;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::academics::{audit_count, nobody};
use super::common::*;

const BASE: &str = "/api/v1/erp/leave-requests/";

async fn ask(
    app: &TestApp,
    school: &School,
    tok: &str,
    body: Value,
) -> kernel::testing::TestResponse {
    app.at(school, "POST", BASE)
        .bearer(tok)
        .json(&body)
        .send()
        .await
}

async fn act(
    app: &TestApp,
    school: &School,
    tok: &str,
    id: i64,
    action: &str,
    body: Value,
) -> kernel::testing::TestResponse {
    app.at(school, "POST", &format!("{BASE}{id}/{action}/"))
        .bearer(tok)
        .json(&body)
        .send()
        .await
}

fn details(r: &kernel::testing::TestResponse, field: &str) {
    assert_error(r, 400, "ERR_VALIDATION_01");
    assert!(
        r.json["error"]["details"].get(field).is_some(),
        "{field}: {}",
        r.json
    );
}

fn total(r: &kernel::testing::TestResponse) -> i64 {
    r.assert_status(200);
    r.json["meta"]["pagination"]["total"].as_i64().unwrap()
}

db_test!(leave_requests_scope_review_and_excused_attendance, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let beta = app.school(&root, "beta").await;
    let admin = alpha.admin.clone();
    let s1 = seed::student(&app, &alpha, "s1@alpha.test", "10", "A").await;
    let s2 = seed::student(&app, &alpha, "s2@alpha.test", "10", "B").await;
    seed::parent(&app, &alpha, "p1@alpha.test", &[s1.id]).await;
    seed::teacher(&app, &alpha, "t1@alpha.test", &[("10", "A")]).await;
    let parent = app.login("alpha", "p1@alpha.test", PASSWORD).await;
    let kid2 = app.login("alpha", "s2@alpha.test", PASSWORD).await;
    let teacher = app.login("alpha", "t1@alpha.test", PASSWORD).await;
    let staff = app.member(&alpha, "office@alpha.test", &["Staff"]).await;
    // The seeded Student role reads its leave; this school lets students ask too.
    let r = app
        .at(&alpha, "GET", "/api/v1/roles/")
        .bearer(&admin.access)
        .send()
        .await;
    let student_role = r.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Student")
        .unwrap()
        .clone();
    let mut codes = student_role["permissions"].as_array().unwrap().clone();
    if !codes.contains(&json!("leave:write:own")) {
        codes.push(json!("leave:write:own"));
        let r = app
            .at(
                &alpha,
                "PATCH",
                &format!("/api/v1/roles/{}/", student_role["id"]),
            )
            .bearer(&admin.access)
            .json(&json!({"permissions": codes}))
            .send()
            .await;
        r.assert_status(200);
    }

    // A parent asks for their child (Friday to Monday).
    let r = ask(&app, &alpha, &parent.access, json!({"student": s1.id, "from_date": "2026-03-06", "to_date": "2026-03-09", "reason": "Family wedding"})).await;
    r.assert_status(201);
    let l1 = r.json["data"]["id"].as_i64().unwrap();
    assert_eq!(r.json["data"]["status"], "pending");
    assert_eq!(r.json["data"]["requester"], parent.id);
    assert_eq!(r.json["data"]["student"], s1.id);
    // ... not for another child, nor an unknown one, nor nobody.
    let r = ask(&app, &alpha, &parent.access, json!({"student": s2.id, "from_date": "2026-03-06", "to_date": "2026-03-06", "reason": "x"})).await;
    details(&r, "student");
    let r = ask(&app, &alpha, &parent.access, json!({"student": 999999, "from_date": "2026-03-06", "to_date": "2026-03-06", "reason": "x"})).await;
    details(&r, "student");
    let r = ask(
        &app,
        &alpha,
        &parent.access,
        json!({"from_date": "2026-03-06", "to_date": "2026-03-06", "reason": "x"}),
    )
    .await;
    details(&r, "student");
    // A student asks for themself; a teacher for themself.
    let r = ask(
        &app,
        &alpha,
        &kid2.access,
        json!({"from_date": "2026-03-10", "to_date": "2026-03-10", "reason": "Fever"}),
    )
    .await;
    r.assert_status(201);
    let l2 = r.json["data"]["id"].as_i64().unwrap();
    assert_eq!(r.json["data"]["student"], s2.id);
    let r = ask(&app, &alpha, &kid2.access, json!({"student": s1.id, "from_date": "2026-03-10", "to_date": "2026-03-10", "reason": "Fever"})).await;
    details(&r, "student");
    let r = ask(
        &app,
        &alpha,
        &teacher.access,
        json!({"from_date": "2026-03-10", "to_date": "2026-03-11", "reason": "Conference"}),
    )
    .await;
    r.assert_status(201);
    let l3 = r.json["data"]["id"].as_i64().unwrap();
    assert_eq!(r.json["data"]["student"], Value::Null);

    // Bad input.
    let r = ask(
        &app,
        &alpha,
        &kid2.access,
        json!({"from_date": "2026-03-10", "to_date": "2026-03-09", "reason": "x"}),
    )
    .await;
    details(&r, "to_date");
    let r = ask(
        &app,
        &alpha,
        &kid2.access,
        json!({"from_date": "10/03/2026", "to_date": "2026-03-09", "reason": "x"}),
    )
    .await;
    details(&r, "from_date");
    let r = ask(
        &app,
        &alpha,
        &kid2.access,
        json!({"from_date": "2026-03-10", "to_date": "2026-03-10", "reason": "  "}),
    )
    .await;
    details(&r, "reason");
    let r = ask(
        &app,
        &alpha,
        &kid2.access,
        json!({"from_date": "2026-01-01", "to_date": "2027-06-01", "reason": "long"}),
    )
    .await;
    details(&r, "to_date");
    let r = ask(&app, &alpha, &kid2.access, json!({"student": "one", "from_date": "2026-03-10", "to_date": "2026-03-10", "reason": "x"})).await;
    details(&r, "student");

    // Permissions and scope.
    let r = app.at(&alpha, "GET", BASE).send().await;
    assert_error(&r, 401, "ERR_AUTH_02");
    let r = app.at(&alpha, "POST", BASE).json(&json!({})).send().await;
    assert_error(&r, 401, "ERR_AUTH_02");
    let none = nobody(&app, &alpha, "none@alpha.test").await;
    let r = app
        .at(&alpha, "GET", BASE)
        .bearer(&none.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = ask(
        &app,
        &alpha,
        &none.access,
        json!({"from_date": "2026-03-10", "to_date": "2026-03-10", "reason": "x"}),
    )
    .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = ask(
        &app,
        &alpha,
        &staff.access,
        json!({"from_date": "2026-03-10", "to_date": "2026-03-10", "reason": "x"}),
    )
    .await;
    assert_error(&r, 403, "ERR_PERM_01");
    assert_eq!(
        total(
            &app.at(&alpha, "GET", BASE)
                .bearer(&admin.access)
                .send()
                .await
        ),
        3
    );
    assert_eq!(
        total(
            &app.at(&alpha, "GET", BASE)
                .bearer(&staff.access)
                .send()
                .await
        ),
        3
    );
    let r = app
        .at(&alpha, "GET", BASE)
        .bearer(&parent.access)
        .send()
        .await;
    assert_eq!(total(&r), 1);
    assert_eq!(r.json["data"][0]["id"], l1);
    let r = app
        .at(&alpha, "GET", BASE)
        .bearer(&kid2.access)
        .send()
        .await;
    assert_eq!(total(&r), 1);
    assert_eq!(r.json["data"][0]["id"], l2);
    // A teacher sees their own requests and their classes' students' (`leave:read:class`).
    let r = app
        .at(&alpha, "GET", BASE)
        .bearer(&teacher.access)
        .send()
        .await;
    assert_eq!(total(&r), 2, "their own and 10/A's");
    let r = app
        .at(&alpha, "GET", &format!("{BASE}{l1}/"))
        .bearer(&teacher.access)
        .send()
        .await;
    r.assert_status(200);
    let r = app
        .at(&alpha, "GET", &format!("{BASE}{l2}/"))
        .bearer(&teacher.access)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = app
        .at(&alpha, "GET", &format!("{BASE}{l2}/"))
        .bearer(&parent.access)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = app
        .at(&alpha, "GET", &format!("{BASE}{l1}/"))
        .bearer(&parent.access)
        .send()
        .await;
    r.assert_status(200);
    let r = app
        .at(&beta, "GET", &format!("{BASE}{l1}/"))
        .bearer(&beta.admin.access)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    assert_eq!(
        total(
            &app.at(&beta, "GET", BASE)
                .bearer(&beta.admin.access)
                .send()
                .await
        ),
        0
    );
    let r = app
        .at(
            &alpha,
            "GET",
            &format!("{BASE}?status=pending&student={}", s1.id),
        )
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(total(&r), 1);
    let r = app
        .at(&alpha, "GET", &format!("{BASE}?status=gone"))
        .bearer(&admin.access)
        .send()
        .await;
    details(&r, "status");
    let r = app
        .at(&alpha, "GET", &format!("{BASE}999999/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");

    // Review: Staff read but do not review; the parent sees but may not approve.
    let r = act(&app, &alpha, &staff.access, l1, "approve", json!({})).await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = act(&app, &alpha, &parent.access, l1, "approve", json!({})).await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = act(&app, &alpha, &parent.access, l2, "approve", json!({})).await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = act(&app, &alpha, &admin.access, 999999, "approve", json!({})).await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");

    // S1 was already marked absent on Friday; approval excuses Friday and Monday.
    let db = seed::db(&app, &alpha).await;
    let now = kernel::time::now();
    attendance::ActiveModel {
        student_id: Set(s1.id),
        date: Set(chrono::NaiveDate::from_ymd_opt(2026, 3, 6).unwrap()),
        status: Set("absent".into()),
        class_name: Set("10".into()),
        section: Set("A".into()),
        marked_by: Set(None),
        remarks: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&db)
    .await
    .unwrap();
    let r = act(
        &app,
        &alpha,
        &admin.access,
        l1,
        "approve",
        json!({"note": "Enjoy"}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["status"], "approved");
    assert_eq!(r.json["data"]["reviewed_by"], admin.id);
    assert_eq!(r.json["data"]["review_note"], "Enjoy");
    let rows = attendance::Entity::find()
        .filter(attendance::Column::StudentId.eq(s1.id))
        .order_by_asc(attendance::Column::Date)
        .all(&db)
        .await
        .unwrap();
    let days: Vec<String> = rows.iter().map(|a| a.date.to_string()).collect();
    assert_eq!(days, ["2026-03-06", "2026-03-09"], "school days only");
    assert!(
        rows.iter()
            .all(|a| a.status == "excused" && a.marked_by == Some(admin.id))
    );
    assert_eq!(rows[1].class_name, "10");
    assert_eq!(rows[1].section, "A");
    // No second review, no cancel once decided.
    let r = act(&app, &alpha, &admin.access, l1, "approve", json!({})).await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
    let r = act(
        &app,
        &alpha,
        &admin.access,
        l1,
        "reject",
        json!({"note": "No"}),
    )
    .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
    let r = act(&app, &alpha, &parent.access, l1, "cancel", json!({})).await;
    assert_error(&r, 409, "ERR_CONFLICT_01");

    // Reject needs a note.
    let r = act(&app, &alpha, &admin.access, l2, "reject", json!({})).await;
    details(&r, "note");
    let r = act(
        &app,
        &alpha,
        &admin.access,
        l2,
        "reject",
        json!({"reason": "Exams that day"}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["status"], "rejected");
    assert_eq!(r.json["data"]["review_note"], "Exams that day");
    let none_marked = attendance::Entity::find()
        .filter(attendance::Column::StudentId.eq(s2.id))
        .all(&db)
        .await
        .unwrap();
    assert!(none_marked.is_empty());

    // Cancel: the requester only, while pending.
    let r = act(&app, &alpha, &admin.access, l3, "cancel", json!({})).await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = act(&app, &alpha, &kid2.access, l3, "cancel", json!({})).await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = act(&app, &alpha, &teacher.access, l3, "cancel", json!({})).await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["status"], "cancelled");
    let r = act(&app, &alpha, &teacher.access, l3, "cancel", json!({})).await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
    let r = act(&app, &alpha, &admin.access, l3, "approve", json!({})).await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
    let r = app
        .at(&alpha, "POST", &format!("{BASE}{l3}/cancel/"))
        .send()
        .await;
    assert_error(&r, 401, "ERR_AUTH_02");

    // Audit: 3 creates, approve, reject, cancel; 1 attendance update + 1 insert.
    assert_eq!(audit_count(&app, &alpha, "LeaveRequest").await, 6);
    assert_eq!(audit_count(&app, &alpha, "Attendance").await, 2);
});
