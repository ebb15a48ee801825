//! Attendance (contract §3 "Operations"): single rows and whole-class
//! marking (all or nothing), row scope by role, the class view and the
//! per-student summary, absence notices to linked parents, audit rows.

use crate::common::*;

const BASE: &str = "/api/v1/erp/attendance/";

fn path(rest: &str) -> String {
    format!("{BASE}{rest}")
}

/// The date `n` days ago, `YYYY-MM-DD`.
fn ago(n: i64) -> String {
    (kernel::time::now().date_naive() - chrono::Duration::days(n))
        .format("%Y-%m-%d")
        .to_string()
}

async fn call(
    app: &TestApp,
    school: &School,
    who: &Actor,
    method: &str,
    rest: &str,
    body: Option<Value>,
) -> kernel::testing::TestResponse {
    let mut req = app.at(school, method, &path(rest)).bearer(&who.access);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await
}

async fn audit_total(app: &TestApp, school: &School, resource: &str) -> u64 {
    let r = app
        .at(
            school,
            "GET",
            &format!("/api/v1/audit-logs/?resource_type={resource}"),
        )
        .bearer(&school.admin.access)
        .send()
        .await;
    r.assert_status(200);
    r.json["meta"]["pagination"]["total"].as_u64().unwrap()
}

/// Queued or delivered `attendance_absent` notifications of user `user_id` on `channel`.
async fn absent_notices(app: &TestApp, school: &School, user_id: i64, channel: &str) -> usize {
    use oryne::entities::notification;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let db = seed::db(app, school).await;
    notification::Entity::find()
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::Template.eq("attendance_absent"))
        .filter(notification::Column::Channel.eq(channel))
        .all(&db)
        .await
        .unwrap()
        .len()
}

fn ids(r: &kernel::testing::TestResponse) -> Vec<i64> {
    let mut v: Vec<i64> = r.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["student"].as_i64().unwrap())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

db_test!(
    marking_a_class_is_all_or_nothing_and_notifies_parents,
    |app| {
        let gns = FakeGns::start().await;
        let app = app
            .node(&[("CAMPUS_GNS_URL", &gns.url), ("CAMPUS_GNS_API_KEY", "k")])
            .await;
        let root = app.platform_admin().await;
        let alpha = app.school(&root, "alpha").await;
        let s1 = seed::student(&app, &alpha, "sam@alpha.test", "10", "A").await;
        let s2 = seed::student(&app, &alpha, "sue@alpha.test", "10", "A").await;
        let s3 = seed::student(&app, &alpha, "tim@alpha.test", "10", "B").await;
        seed::teacher(&app, &alpha, "teach@alpha.test", &[("10", "A")]).await;
        let p = seed::parent(&app, &alpha, "mum@alpha.test", &[s1.id]).await;
        let teacher = app.login("alpha", "teach@alpha.test", PASSWORD).await;
        let mum = app.login("alpha", "mum@alpha.test", PASSWORD).await;
        let office = app.member(&alpha, "office@alpha.test", &["Staff"]).await;
        let today = ago(0);
        let mark = |date: &str, class: &str, section: &str, records: Value| json!({"date": date, "class_name": class, "section": section, "records": records});

        // 401, and 403 for those who may not mark.
        let body = mark(
            &today,
            "10",
            "A",
            json!([{"student_id": s1.id, "status": "present"}]),
        );
        let r = app
            .at(&alpha, "POST", &path("mark/"))
            .json(&body)
            .send()
            .await;
        assert_error(&r, 401, "ERR_AUTH_02");
        for who in [&mum, &office] {
            let r = call(&app, &alpha, who, "POST", "mark/", Some(body.clone())).await;
            assert_error(&r, 403, "ERR_PERM_01");
        }
        // A teacher marks only their classes.
        let r = call(
            &app,
            &alpha,
            &teacher,
            "POST",
            "mark/",
            Some(mark(
                &today,
                "10",
                "B",
                json!([{"student_id": s3.id, "status": "present"}]),
            )),
        )
        .await;
        assert_error(&r, 403, "ERR_PERM_01");

        // The teacher marks 10 A: Sam absent, Sue present.
        let r = call(
            &app,
            &alpha,
            &teacher,
            "POST",
            "mark/",
            Some(mark(
                &today,
                "10",
                "A",
                json!([
                    {"student_id": s1.id, "status": "absent", "remarks": "No call"},
                    {"student_id": s2.id, "status": "present"},
                ]),
            )),
        )
        .await;
        r.assert_status(200);
        assert_eq!(r.json["data"]["created"], 2, "{}", r.json);
        assert_eq!(r.json["data"]["notified"], 1);
        assert_eq!(r.json["data"]["records"].as_array().unwrap().len(), 2);
        assert_eq!(r.json["data"]["records"][0]["student_name"], "sam Seeded");
        assert_eq!(r.json["data"]["records"][0]["marked_by"], teacher.id);
        assert_eq!(absent_notices(&app, &alpha, mum.id, "email").await, 1);
        assert_eq!(absent_notices(&app, &alpha, mum.id, "in_app").await, 1);
        app.run_jobs().await;
        let sent = gns.events("attendance_absent");
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0]["recipient"]["email"], "mum@alpha.test");
        assert_eq!(sent[0]["data"]["student_name"], "sam Seeded");
        assert_eq!(sent[0]["data"]["date"], today);
        assert_eq!(sent[0]["data"]["class_name"], "10");

        // Re-marking the same day absent again updates, without a second notice.
        let r = call(
            &app,
            &alpha,
            &teacher,
            "POST",
            "mark/",
            Some(mark(
                &today,
                "10",
                "A",
                json!([
                    {"student_id": s1.id, "status": "absent", "remarks": "Still no call"},
                    {"student_id": s2.id, "status": "late"},
                ]),
            )),
        )
        .await;
        r.assert_status(200);
        assert_eq!(r.json["data"]["created"], 0);
        assert_eq!(r.json["data"]["updated"], 2);
        assert_eq!(r.json["data"]["notified"], 0);
        app.run_jobs().await;
        assert_eq!(gns.events("attendance_absent").len(), 1);
        assert_eq!(absent_notices(&app, &alpha, mum.id, "email").await, 1);

        // All or nothing: one student of another section spoils the batch.
        let r = call(
            &app,
            &alpha,
            &alpha.admin,
            "POST",
            "mark/",
            Some(mark(
                &today,
                "10",
                "A",
                json!([
                    {"student_id": s2.id, "status": "absent"},
                    {"student_id": s3.id, "status": "present"},
                    {"student_id": 99999, "status": "present"},
                ]),
            )),
        )
        .await;
        assert_error(&r, 400, "ERR_VALIDATION_01");
        let details = r.json["error"]["details"]["records"].to_string();
        assert!(
            details.contains(&s3.id.to_string()) && details.contains("99999"),
            "{details}"
        );
        let r = call(
            &app,
            &alpha,
            &alpha.admin,
            "GET",
            &format!("?student={}&date={today}", s2.id),
            None,
        )
        .await;
        assert_eq!(r.json["data"][0]["status"], "late", "unchanged: {}", r.json);

        // Bad input.
        let tomorrow = (kernel::time::now().date_naive() + chrono::Duration::days(1))
            .format("%Y-%m-%d")
            .to_string();
        for (body, field) in [
            (
                mark(
                    &tomorrow,
                    "10",
                    "A",
                    json!([{"student_id": s1.id, "status": "present"}]),
                ),
                "date",
            ),
            (
                mark(
                    "13/01/2024",
                    "10",
                    "A",
                    json!([{"student_id": s1.id, "status": "present"}]),
                ),
                "date",
            ),
            (
                json!({"date": today, "section": "A", "records": [{"student_id": s1.id, "status": "present"}]}),
                "class_name",
            ),
            (mark(&today, "10", "A", json!([])), "records"),
            (
                json!({"date": today, "class_name": "10", "section": "A"}),
                "records",
            ),
            (
                mark(
                    &today,
                    "10",
                    "A",
                    json!([{"student_id": s1.id, "status": "asleep"}]),
                ),
                "records[0]",
            ),
            (
                mark(
                    &today,
                    "10",
                    "A",
                    json!([{"student_id": "x", "status": "present"}]),
                ),
                "records[0]",
            ),
            (
                mark(
                    &today,
                    "10",
                    "A",
                    json!([{"student_id": s1.id, "status": "present"}, {"student_id": s1.id, "status": "absent"}]),
                ),
                "records[1]",
            ),
        ] {
            let r = call(&app, &alpha, &alpha.admin, "POST", "mark/", Some(body)).await;
            assert_error(&r, 400, "ERR_VALIDATION_01");
            assert!(
                r.json["error"]["details"][field].is_array(),
                "{field}: {}",
                r.json
            );
        }
        let r = call(
            &app,
            &alpha,
            &alpha.admin,
            "POST",
            "mark/",
            Some(json!({"records": "all"})),
        )
        .await;
        assert_eq!(r.status.as_u16(), 400, "{}", r.json);

        // A change to absent through PATCH notifies; present → absent on another day via mark too.
        let r = call(
            &app,
            &alpha,
            &teacher,
            "GET",
            &format!("?student={}&date={today}", s1.id),
            None,
        )
        .await;
        let row = r.json["data"][0]["id"].as_i64().unwrap();
        let r = call(
            &app,
            &alpha,
            &teacher,
            "PATCH",
            &format!("{row}/"),
            Some(json!({"status": "present"})),
        )
        .await;
        r.assert_status(200);
        let r = call(
            &app,
            &alpha,
            &teacher,
            "PATCH",
            &format!("{row}/"),
            Some(json!({"status": "absent"})),
        )
        .await;
        r.assert_status(200);
        assert_eq!(absent_notices(&app, &alpha, mum.id, "email").await, 2);
        let r = call(
            &app,
            &alpha,
            &teacher,
            "POST",
            "mark/",
            Some(mark(
                &ago(1),
                "10",
                "A",
                json!([{"student_id": s1.id, "status": "absent"}]),
            )),
        )
        .await;
        r.assert_status(200);
        assert_eq!(r.json["data"]["notified"], 1);
        app.run_jobs().await;
        assert_eq!(gns.events("attendance_absent").len(), 3);
        let _ = p;

        // The class view: every student of 10 A with the day's status.
        let r = call(
            &app,
            &alpha,
            &alpha.admin,
            "GET",
            &format!("by_class/?class_name=10&section=A&date={today}"),
            None,
        )
        .await;
        r.assert_status(200);
        let rows = r.json["data"]["students"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert!(
            rows.iter()
                .any(|s| s["student_id"] == s1.id && s["status"] == "absent")
        );
        assert!(
            rows.iter()
                .any(|s| s["student_id"] == s2.id && s["status"] == "late")
        );
        let r = call(
            &app,
            &alpha,
            &alpha.admin,
            "GET",
            &format!("by_class/?class_name=10&section=B&date={today}"),
            None,
        )
        .await;
        let rows = r.json["data"]["students"].as_array().unwrap();
        assert_eq!(rows.len(), 1);
        assert!(rows[0]["status"].is_null());
        // A teacher sees only their students there.
        let r = call(
            &app,
            &alpha,
            &teacher,
            "GET",
            &format!("by_class/?class_name=10&date={today}"),
            None,
        )
        .await;
        r.assert_status(200);
        assert_eq!(r.json["data"]["students"].as_array().unwrap().len(), 2);
        let r = call(
            &app,
            &alpha,
            &alpha.admin,
            "GET",
            "by_class/?section=A",
            None,
        )
        .await;
        assert_error(&r, 400, "ERR_VALIDATION_01");
        let r = call(
            &app,
            &alpha,
            &alpha.admin,
            "GET",
            "by_class/?class_name=10&date=yesterday",
            None,
        )
        .await;
        assert_error(&r, 400, "ERR_VALIDATION_01");
        let r = app
            .at(&alpha, "GET", &path("by_class/?class_name=10"))
            .send()
            .await;
        assert_error(&r, 401, "ERR_AUTH_02");

        // Every write left an audit row.
        assert!(audit_total(&app, &alpha, "Attendance").await >= 7);
    }
);

db_test!(attendance_rows_follow_the_callers_reach, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let beta = app.school(&root, "beta").await;
    let admin = alpha.admin.clone();
    let s1 = seed::student(&app, &alpha, "sam@alpha.test", "10", "A").await;
    let s2 = seed::student(&app, &alpha, "sue@alpha.test", "10", "A").await;
    let s3 = seed::student(&app, &alpha, "tim@alpha.test", "10", "B").await;
    seed::teacher(&app, &alpha, "teach@alpha.test", &[("10", "A")]).await;
    seed::parent(&app, &alpha, "mum@alpha.test", &[s1.id]).await;
    let teacher = app.login("alpha", "teach@alpha.test", PASSWORD).await;
    let mum = app.login("alpha", "mum@alpha.test", PASSWORD).await;
    let sam = app.login("alpha", "sam@alpha.test", PASSWORD).await;
    let office = app.member(&alpha, "office@alpha.test", &["Staff"]).await;

    // Single rows by the admin.
    let mut rows = std::collections::HashMap::new();
    for (s, day, status) in [
        (&s1, 1, "present"),
        (&s1, 2, "late"),
        (&s1, 3, "absent"),
        (&s1, 4, "excused"),
        (&s2, 1, "present"),
        (&s3, 1, "absent"),
    ] {
        let r = call(
            &app,
            &alpha,
            &admin,
            "POST",
            "",
            Some(json!({"student": s.id, "date": ago(day), "status": status})),
        )
        .await;
        r.assert_status(201);
        assert_eq!(r.json["data"]["class_name"], s.class_name);
        assert_eq!(r.json["data"]["section"], s.section);
        rows.insert((s.id, day), r.json["data"]["id"].as_i64().unwrap());
    }
    // Duplicates, the future, unknown students and bad values are 400s.
    let r = call(
        &app,
        &alpha,
        &admin,
        "POST",
        "",
        Some(json!({"student": s1.id, "date": ago(1), "status": "absent"})),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let tomorrow = (kernel::time::now().date_naive() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let r = call(
        &app,
        &alpha,
        &admin,
        "POST",
        "",
        Some(json!({"student": s1.id, "date": tomorrow, "status": "present"})),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["date"].is_array());
    let r = call(
        &app,
        &alpha,
        &admin,
        "POST",
        "",
        Some(json!({"student": 99999, "date": ago(1), "status": "present"})),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["student"].is_array());
    let r = call(
        &app,
        &alpha,
        &admin,
        "POST",
        "",
        Some(json!({"student": s1.id, "date": ago(9), "status": "gone"})),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["status"].is_array());
    let r = call(
        &app,
        &alpha,
        &admin,
        "POST",
        "",
        Some(json!({"student": "one"})),
    )
    .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.json);
    let r = app
        .at(&alpha, "POST", BASE)
        .json(&json!({"student": s1.id, "date": ago(9), "status": "present"}))
        .send()
        .await;
    assert_error(&r, 401, "ERR_AUTH_02");
    // Office staff read attendance but do not mark it; parents neither.
    for who in [&office, &mum, &sam] {
        let r = call(
            &app,
            &alpha,
            who,
            "POST",
            "",
            Some(json!({"student": s1.id, "date": ago(9), "status": "present"})),
        )
        .await;
        assert_error(&r, 403, "ERR_PERM_01");
    }
    // A teacher marks their class's students only.
    let r = call(
        &app,
        &alpha,
        &teacher,
        "POST",
        "",
        Some(json!({"student": s3.id, "date": ago(9), "status": "present"})),
    )
    .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = call(
        &app,
        &alpha,
        &teacher,
        "POST",
        "",
        Some(json!({"student": s2.id, "date": ago(9), "status": "present"})),
    )
    .await;
    r.assert_status(201);
    rows.insert((s2.id, 9), r.json["data"]["id"].as_i64().unwrap());

    // Lists by reach.
    let r = call(&app, &alpha, &admin, "GET", "?per_page=100", None).await;
    r.assert_status(200);
    assert_eq!(r.json["meta"]["pagination"]["total"], 7);
    let r = call(&app, &alpha, &office, "GET", "", None).await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 7);
    let r = call(&app, &alpha, &mum, "GET", "", None).await;
    r.assert_status(200);
    assert_eq!(ids(&r), vec![s1.id]);
    let r = call(&app, &alpha, &sam, "GET", "", None).await;
    assert_eq!(ids(&r), vec![s1.id]);
    assert_eq!(r.json["meta"]["pagination"]["total"], 4);
    let r = call(&app, &alpha, &teacher, "GET", "", None).await;
    let mut want = vec![s1.id, s2.id];
    want.sort_unstable();
    assert_eq!(ids(&r), want);
    let r = app.at(&alpha, "GET", BASE).send().await;
    assert_error(&r, 401, "ERR_AUTH_02");
    let designer = app.member(&alpha, "plain@alpha.test", &[]).await;
    let r = call(&app, &alpha, &designer, "GET", "", None).await;
    assert_error(&r, 403, "ERR_PERM_01");

    // Filters.
    let r = call(&app, &alpha, &admin, "GET", "?status=absent", None).await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 2);
    let r = call(
        &app,
        &alpha,
        &admin,
        "GET",
        &format!("?from={}&to={}", ago(2), ago(1)),
        None,
    )
    .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 4);
    let r = call(
        &app,
        &alpha,
        &admin,
        "GET",
        "?class_name=10&section=B",
        None,
    )
    .await;
    assert_eq!(ids(&r), vec![s3.id]);
    for bad in [
        "?status=gone",
        "?date=2024-13-01",
        "?from=x",
        "?student=abc",
    ] {
        let r = call(&app, &alpha, &admin, "GET", bad, None).await;
        assert_error(&r, 400, "ERR_VALIDATION_01");
    }

    // One row: invisible rows are 404, visible read-only rows 403 to change.
    let sam_row = rows[&(s1.id, 1)];
    let tim_row = rows[&(s3.id, 1)];
    let sue_row = rows[&(s2.id, 1)];
    let r = call(&app, &alpha, &mum, "GET", &format!("{sam_row}/"), None).await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["student"], s1.id);
    for (who, row) in [(&mum, tim_row), (&sam, sue_row), (&teacher, tim_row)] {
        let r = call(&app, &alpha, who, "GET", &format!("{row}/"), None).await;
        assert_error(&r, 404, "ERR_NOT_FOUND_01");
        let r = call(
            &app,
            &alpha,
            who,
            "PATCH",
            &format!("{row}/"),
            Some(json!({"status": "late"})),
        )
        .await;
        assert_error(&r, 404, "ERR_NOT_FOUND_01");
    }
    let r = call(
        &app,
        &alpha,
        &mum,
        "PATCH",
        &format!("{sam_row}/"),
        Some(json!({"status": "late"})),
    )
    .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = call(
        &app,
        &alpha,
        &teacher,
        "PATCH",
        &format!("{sue_row}/"),
        Some(json!({"status": "late", "remarks": "Bus"})),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["status"], "late");
    assert_eq!(r.json["data"]["remarks"], "Bus");
    let r = call(
        &app,
        &alpha,
        &teacher,
        "PATCH",
        &format!("{sue_row}/"),
        Some(json!({"status": "asleep"})),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = call(&app, &alpha, &admin, "GET", "abc/", None).await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");

    // Delete: attendance:delete only.
    let r = call(
        &app,
        &alpha,
        &teacher,
        "DELETE",
        &format!("{sue_row}/"),
        None,
    )
    .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = call(&app, &alpha, &mum, "DELETE", &format!("{tim_row}/"), None).await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = call(&app, &alpha, &admin, "DELETE", &format!("{tim_row}/"), None).await;
    r.assert_status(204);
    let r = call(&app, &alpha, &admin, "GET", &format!("{tim_row}/"), None).await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");

    // Summary: counts and rate; reach decides; bad periods are 400s.
    let r = call(
        &app,
        &alpha,
        &mum,
        "GET",
        &format!("students/{}/summary/", s1.id),
        None,
    )
    .await;
    r.assert_status(200);
    let d = &r.json["data"];
    assert_eq!(
        (
            d["present"].as_i64(),
            d["late"].as_i64(),
            d["absent"].as_i64(),
            d["excused"].as_i64()
        ),
        (Some(1), Some(1), Some(1), Some(1))
    );
    assert!((d["rate"].as_f64().unwrap() - 0.6667).abs() < 1e-9, "{d}");
    let r = call(
        &app,
        &alpha,
        &sam,
        "GET",
        &format!("students/{}/summary/?from={}&to={}", s1.id, ago(2), ago(1)),
        None,
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["rate"], 1.0);
    let r = call(
        &app,
        &alpha,
        &admin,
        "GET",
        &format!("students/{}/summary/", s3.id),
        None,
    )
    .await;
    r.assert_status(200);
    assert!(r.json["data"]["rate"].is_null(), "{}", r.json);
    assert_eq!(r.json["data"]["present"], 0);
    for (who, s) in [(&mum, s3.id), (&sam, s2.id), (&teacher, s3.id)] {
        let r = call(
            &app,
            &alpha,
            who,
            "GET",
            &format!("students/{s}/summary/"),
            None,
        )
        .await;
        assert_error(&r, 404, "ERR_NOT_FOUND_01");
    }
    let r = call(&app, &alpha, &admin, "GET", "students/99999/summary/", None).await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = call(
        &app,
        &alpha,
        &admin,
        "GET",
        &format!("students/{}/summary/?from={}&to={}", s1.id, ago(1), ago(3)),
        None,
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = call(
        &app,
        &alpha,
        &admin,
        "GET",
        &format!("students/{}/summary/?from=soon", s1.id),
        None,
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = call(
        &app,
        &alpha,
        &designer,
        "GET",
        &format!("students/{}/summary/", s1.id),
        None,
    )
    .await;
    assert_error(&r, 403, "ERR_PERM_01");

    // Audit rows, and the other school sees nothing of alpha's.
    assert!(audit_total(&app, &alpha, "Attendance").await >= 9);
    let r = call(&app, &beta, &beta.admin, "GET", "", None).await;
    r.assert_status(200);
    assert_eq!(r.json["meta"]["pagination"]["total"], 0);
    let r = call(
        &app,
        &beta,
        &beta.admin,
        "GET",
        &format!("{sam_row}/"),
        None,
    )
    .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = call(
        &app,
        &beta,
        &beta.admin,
        "GET",
        &format!("students/{}/summary/", s1.id),
        None,
    )
    .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
});
