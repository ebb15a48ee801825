//! The timetable: entries, the clash rule (teacher, room, class; touching
//! slots do not clash), the dry-run check, class and teacher weeks, scope.

use super::academics::{audit_count, nobody};
use super::common::*;

const BASE: &str = "/api/v1/erp/timetable/";

fn slot(
    class_name: &str,
    section: &str,
    day: i64,
    start: &str,
    end: &str,
    teacher: i64,
    room: &str,
) -> Value {
    json!({"class_name": class_name, "section": section, "day_of_week": day, "period": 1,
           "start_time": start, "end_time": end, "teacher": teacher, "room": room})
}

async fn post(
    app: &TestApp,
    school: &School,
    tok: &str,
    path: &str,
    body: Value,
) -> kernel::testing::TestResponse {
    app.at(school, "POST", path)
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

fn clash(r: &kernel::testing::TestResponse, with: i64, on: &str) {
    assert_error(r, 409, "ERR_CONFLICT_01");
    let conflicts = r.json["error"]["details"]["conflicts"].as_array().unwrap();
    assert!(
        conflicts
            .iter()
            .any(|c| c["id"] == with && c["clash"].as_array().unwrap().iter().any(|x| x == on)),
        "{on} with {with}: {}",
        r.json
    );
}

db_test!(the_clash_rule_and_the_dry_run, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let admin = alpha.admin.access.clone();
    let t1 = seed::teacher(&app, &alpha, "t1@alpha.test", &[("10", "A")]).await;
    let t2 = seed::teacher(&app, &alpha, "t2@alpha.test", &[("10", "B")]).await;
    let r = post(
        &app,
        &alpha,
        &admin,
        "/api/v1/erp/subjects/",
        json!({"name": "Maths", "code": "M"}),
    )
    .await;
    let math = r.json["data"]["id"].as_i64().unwrap();

    let mut first = slot("10", "A", 0, "09:00", "10:00", t1.id, "101");
    first["subject"] = json!(math);
    let r = post(&app, &alpha, &admin, BASE, first).await;
    r.assert_status(201);
    let e1 = r.json["data"]["id"].as_i64().unwrap();
    assert_eq!(r.json["data"]["start_time"], "09:00");
    assert_eq!(r.json["data"]["subject"], math);

    // Teacher, room, class.
    let r = post(
        &app,
        &alpha,
        &admin,
        BASE,
        slot("10", "B", 0, "09:30", "10:30", t1.id, "202"),
    )
    .await;
    clash(&r, e1, "teacher");
    let r = post(
        &app,
        &alpha,
        &admin,
        BASE,
        slot("10", "B", 0, "09:15:00", "09:45:00", t2.id, "101"),
    )
    .await;
    clash(&r, e1, "room");
    let r = post(
        &app,
        &alpha,
        &admin,
        BASE,
        slot("10", "A", 0, "08:30", "09:01", t2.id, "303"),
    )
    .await;
    clash(&r, e1, "class");
    // Touching slots and other days are free.
    let r = post(
        &app,
        &alpha,
        &admin,
        BASE,
        slot("10", "A", 0, "10:00", "11:00", t1.id, "101"),
    )
    .await;
    r.assert_status(201);
    let e2 = r.json["data"]["id"].as_i64().unwrap();
    let r = post(
        &app,
        &alpha,
        &admin,
        BASE,
        slot("10", "A", 0, "08:00", "09:00", t1.id, "101"),
    )
    .await;
    r.assert_status(201);
    let r = post(
        &app,
        &alpha,
        &admin,
        BASE,
        slot("10", "A", 1, "09:00", "10:00", t1.id, "101"),
    )
    .await;
    r.assert_status(201);
    let r = post(
        &app,
        &alpha,
        &admin,
        BASE,
        slot("10", "B", 0, "09:00", "10:00", t2.id, "202"),
    )
    .await;
    r.assert_status(201);
    let e_b = r.json["data"]["id"].as_i64().unwrap();
    // Different academic years do not clash.
    let y = |name: &str, from: &str, to: &str| json!({"name": name, "start_date": from, "end_date": to});
    let r = post(
        &app,
        &alpha,
        &admin,
        "/api/v1/erp/academic-years/",
        y("2025-2026", "2025-04-01", "2026-03-31"),
    )
    .await;
    let y1 = r.json["data"]["id"].as_i64().unwrap();
    let r = post(
        &app,
        &alpha,
        &admin,
        "/api/v1/erp/academic-years/",
        y("2026-2027", "2026-04-01", "2027-03-31"),
    )
    .await;
    let y2 = r.json["data"]["id"].as_i64().unwrap();
    let mut a = slot("9", "A", 3, "09:00", "10:00", t2.id, "9A");
    a["academic_year"] = json!(y1);
    post(&app, &alpha, &admin, BASE, a.clone())
        .await
        .assert_status(201);
    a["academic_year"] = json!(y2);
    post(&app, &alpha, &admin, BASE, a.clone())
        .await
        .assert_status(201);
    a["academic_year"] = json!(y2);
    let r = post(&app, &alpha, &admin, BASE, a.clone()).await;
    assert_error(&r, 409, "ERR_CONFLICT_01");

    // PATCH: itself is no clash; moving into another slot is.
    let r = app
        .at(&alpha, "PATCH", &format!("{BASE}{e1}/"))
        .bearer(&admin)
        .json(&json!({"room": "101", "period": 2}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["period"], 2);
    let r = app
        .at(&alpha, "PATCH", &format!("{BASE}{e2}/"))
        .bearer(&admin)
        .json(&json!({"start_time": "09:59"}))
        .send()
        .await;
    clash(&r, e1, "class");
    let r = app
        .at(&alpha, "PUT", &format!("{BASE}{e_b}/"))
        .bearer(&admin)
        .json(&slot("10", "B", 0, "09:00", "10:00", t1.id, "202"))
        .send()
        .await;
    clash(&r, e1, "teacher");

    // Dry run: answers the clashes and writes nothing.
    let before = app.at(&alpha, "GET", BASE).bearer(&admin).send().await.json["meta"]["pagination"]
        ["total"]
        .clone();
    let r = post(
        &app,
        &alpha,
        &admin,
        "/api/v1/erp/timetable/check/",
        slot("10", "B", 0, "09:30", "10:30", t1.id, "101"),
    )
    .await;
    r.assert_status(200);
    let conflicts = r.json["data"]["conflicts"].as_array().unwrap();
    assert!(conflicts.iter().any(|c| c["id"] == e1), "{}", r.json);
    let r = post(
        &app,
        &alpha,
        &admin,
        "/api/v1/erp/timetable/check/",
        slot("10", "C", 4, "09:30", "10:30", t1.id, "101"),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["conflicts"], json!([]));
    let r = app
        .at(
            &alpha,
            "POST",
            &format!("/api/v1/erp/timetable/check/?exclude={e1}"),
        )
        .bearer(&admin)
        .json(&slot("10", "A", 0, "09:00", "10:00", t1.id, "101"))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json["data"]["conflicts"],
        json!([]),
        "the edited entry is left out"
    );
    let r = post(
        &app,
        &alpha,
        &admin,
        "/api/v1/erp/timetable/check/",
        slot("10", "C", 9, "09:30", "10:30", t1.id, "101"),
    )
    .await;
    details(&r, "day_of_week");
    let after = app.at(&alpha, "GET", BASE).bearer(&admin).send().await.json["meta"]["pagination"]
        ["total"]
        .clone();
    assert_eq!(before, after);

    // Bad input.
    let r = post(
        &app,
        &alpha,
        &admin,
        BASE,
        slot("10", "C", 7, "09:00", "10:00", t1.id, ""),
    )
    .await;
    details(&r, "day_of_week");
    let r = post(
        &app,
        &alpha,
        &admin,
        BASE,
        slot("10", "C", 2, "25:00", "26:00", t1.id, ""),
    )
    .await;
    details(&r, "start_time");
    let r = post(
        &app,
        &alpha,
        &admin,
        BASE,
        slot("10", "C", 2, "9am", "10:00", t1.id, ""),
    )
    .await;
    details(&r, "start_time");
    let r = post(
        &app,
        &alpha,
        &admin,
        BASE,
        slot("10", "C", 2, "10:00", "10:00", t1.id, ""),
    )
    .await;
    details(&r, "end_time");
    let r = post(
        &app,
        &alpha,
        &admin,
        BASE,
        slot("10", "C", 2, "10:00", "11:00", 999999, ""),
    )
    .await;
    details(&r, "teacher");
    let mut bad = slot("10", "C", 2, "10:00", "11:00", t1.id, "");
    bad["subject"] = json!(999999);
    details(
        &post(&app, &alpha, &admin, BASE, bad.clone()).await,
        "subject",
    );
    bad["subject"] = json!(null);
    bad["academic_year"] = json!(999999);
    details(
        &post(&app, &alpha, &admin, BASE, bad.clone()).await,
        "academic_year",
    );
    bad["period"] = json!(0);
    details(&post(&app, &alpha, &admin, BASE, bad).await, "period");
    let r = post(&app, &alpha, &admin, BASE, json!({})).await;
    details(&r, "class_name");
    let r = app
        .at(&alpha, "GET", &format!("{BASE}?day_of_week=9"))
        .bearer(&admin)
        .send()
        .await;
    details(&r, "day_of_week");
    let r = app
        .at(&alpha, "GET", &format!("{BASE}?teacher=abc"))
        .bearer(&admin)
        .send()
        .await;
    details(&r, "teacher");
    let r = app
        .at(&alpha, "GET", &format!("{BASE}999999/"))
        .bearer(&admin)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");

    // Filters and the class / teacher weeks.
    let r = app
        .at(
            &alpha,
            "GET",
            &format!("{BASE}?class_name=10&section=A&day_of_week=0"),
        )
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 3);
    assert_eq!(r.json["data"][0]["start_time"], "08:00", "ordered by time");
    let r = app
        .at(&alpha, "GET", &format!("{BASE}?teacher={}", t2.id))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 3);
    let r = app
        .at(
            &alpha,
            "GET",
            "/api/v1/erp/timetable/class/?class_name=10&section=A",
        )
        .bearer(&admin)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"].as_array().unwrap().len(), 4);
    let r = app
        .at(&alpha, "GET", "/api/v1/erp/timetable/class/")
        .bearer(&admin)
        .send()
        .await;
    details(&r, "class_name");
    let r = app
        .at(
            &alpha,
            "GET",
            &format!("/api/v1/erp/timetable/teachers/{}/", t1.id),
        )
        .bearer(&admin)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"].as_array().unwrap().len(), 4);
    let r = app
        .at(&alpha, "GET", "/api/v1/erp/timetable/teachers/999999/")
        .bearer(&admin)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");

    // Two clashing writes at once: exactly one wins (the check is inside the write).
    let (a, b) = tokio::join!(
        post(
            &app,
            &alpha,
            &admin,
            BASE,
            slot("8", "A", 5, "09:00", "10:00", t1.id, "")
        ),
        post(
            &app,
            &alpha,
            &admin,
            BASE,
            slot("8", "B", 5, "09:30", "10:30", t1.id, "")
        ),
    );
    let mut codes = [a.status.as_u16(), b.status.as_u16()];
    codes.sort_unstable();
    assert_eq!(codes, [201, 409], "{} {}", a.json, b.json);
    let winner = if a.status.as_u16() == 201 { &a } else { &b };
    let r = app
        .at(
            &alpha,
            "DELETE",
            &format!("{BASE}{}/", winner.json["data"]["id"]),
        )
        .bearer(&admin)
        .send()
        .await;
    r.assert_status(204);

    // Delete; the subject is then free to go.
    let r = app
        .at(&alpha, "DELETE", &format!("{BASE}{e1}/"))
        .bearer(&admin)
        .send()
        .await;
    r.assert_status(204);
    let r = app
        .at(&alpha, "GET", &format!("{BASE}{e1}/"))
        .bearer(&admin)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = app
        .at(&alpha, "DELETE", &format!("/api/v1/erp/subjects/{math}/"))
        .bearer(&admin)
        .send()
        .await;
    r.assert_status(204);
    // 8 creates, 1 update, 2 deletes.
    assert_eq!(audit_count(&app, &alpha, "TimetableEntry").await, 11);
});

db_test!(timetable_permissions_and_scope, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let beta = app.school(&root, "beta").await;
    let admin = alpha.admin.access.clone();
    let t1 = seed::teacher(&app, &alpha, "t1@alpha.test", &[("10", "A")]).await;
    let t2 = seed::teacher(&app, &alpha, "t2@alpha.test", &[("10", "B")]).await;
    let r = post(
        &app,
        &alpha,
        &admin,
        BASE,
        slot("10", "A", 0, "09:00", "10:00", t1.id, "101"),
    )
    .await;
    let ea = r.json["data"]["id"].as_i64().unwrap();
    let r = post(
        &app,
        &alpha,
        &admin,
        BASE,
        slot("10", "B", 0, "09:00", "10:00", t2.id, "102"),
    )
    .await;
    let eb = r.json["data"]["id"].as_i64().unwrap();

    let r = app.at(&alpha, "GET", BASE).send().await;
    assert_error(&r, 401, "ERR_AUTH_02");
    let r = app
        .at(&alpha, "POST", BASE)
        .json(&slot("9", "A", 0, "09:00", "10:00", t1.id, ""))
        .send()
        .await;
    assert_error(&r, 401, "ERR_AUTH_02");
    // Staff read, never write.
    let staff = app.member(&alpha, "office@alpha.test", &["Staff"]).await;
    let r = app
        .at(&alpha, "GET", BASE)
        .bearer(&staff.access)
        .send()
        .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 2);
    let r = post(
        &app,
        &alpha,
        &staff.access,
        BASE,
        slot("9", "A", 0, "09:00", "10:00", t1.id, ""),
    )
    .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app
        .at(&alpha, "PATCH", &format!("{BASE}{ea}/"))
        .bearer(&staff.access)
        .json(&json!({"room": "1"}))
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app
        .at(&alpha, "DELETE", &format!("{BASE}{ea}/"))
        .bearer(&staff.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = post(
        &app,
        &alpha,
        &staff.access,
        "/api/v1/erp/timetable/check/",
        slot("9", "A", 0, "09:00", "10:00", t1.id, ""),
    )
    .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let none = nobody(&app, &alpha, "none@alpha.test").await;
    let r = app
        .at(&alpha, "GET", BASE)
        .bearer(&none.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app
        .at(&alpha, "GET", &format!("{BASE}{ea}/"))
        .bearer(&none.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");

    // A scoped reader (Teacher narrowed to `timetable:read:class`) sees their classes only.
    let r = app
        .at(&alpha, "GET", "/api/v1/roles/")
        .bearer(&admin)
        .send()
        .await;
    let teacher_role = r.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Teacher")
        .unwrap()
        .clone();
    let codes: Vec<Value> = teacher_role["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| *c != "timetable:read")
        .cloned()
        .chain([json!("timetable:read:class")])
        .collect();
    let r = app
        .at(
            &alpha,
            "PATCH",
            &format!("/api/v1/roles/{}/", teacher_role["id"]),
        )
        .bearer(&admin)
        .json(&json!({"permissions": codes}))
        .send()
        .await;
    r.assert_status(200);
    let teacher2 = app.login("alpha", "t2@alpha.test", PASSWORD).await;
    let r = app
        .at(&alpha, "GET", BASE)
        .bearer(&teacher2.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["meta"]["pagination"]["total"], 1);
    assert_eq!(r.json["data"][0]["id"], eb);
    let r = app
        .at(&alpha, "GET", &format!("{BASE}{ea}/"))
        .bearer(&teacher2.access)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = app
        .at(
            &alpha,
            "GET",
            &format!("/api/v1/erp/timetable/teachers/{}/", t1.id),
        )
        .bearer(&teacher2.access)
        .send()
        .await;
    assert_eq!(r.json["data"], json!([]));
    let r = app
        .at(&alpha, "GET", "/api/v1/erp/timetable/class/?class_name=10")
        .bearer(&teacher2.access)
        .send()
        .await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);
    let r = app
        .at(&alpha, "DELETE", &format!("{BASE}{ea}/"))
        .bearer(&teacher2.access)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = app
        .at(&alpha, "DELETE", &format!("{BASE}{eb}/"))
        .bearer(&teacher2.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");

    // A student reads the whole week of the school (Student role: `timetable:read`).
    seed::student(&app, &alpha, "kid@alpha.test", "10", "A").await;
    let kid = app.login("alpha", "kid@alpha.test", PASSWORD).await;
    let r = app
        .at(
            &alpha,
            "GET",
            "/api/v1/erp/timetable/class/?class_name=10&section=A",
        )
        .bearer(&kid.access)
        .send()
        .await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);

    // The routes are documented, with unique operation ids.
    let r = app.get("/api/schema/").send().await;
    r.assert_status(200);
    for path in [
        "/api/v1/erp/timetable/",
        "/api/v1/erp/timetable/{id}/",
        "/api/v1/erp/timetable/class/",
        "/api/v1/erp/timetable/teachers/{id}/",
        "/api/v1/erp/timetable/check/",
        "/api/v1/erp/leave-requests/{id}/approve/",
        "/api/v1/erp/leave-requests/{id}/cancel/",
        "/api/v1/erp/academic-years/current/",
        "/api/v1/erp/academic-years/{id}/activate/",
        "/api/v1/erp/classes/{id}/subjects/",
        "/api/v1/erp/sections/{id}/students/",
        "/api/v1/erp/teacher-assignments/{id}/",
    ] {
        assert!(r.json["paths"][path].is_object(), "{path}");
    }
    let mut count = std::collections::HashMap::<String, usize>::new();
    let mut mine = Vec::new();
    let prefixes = [
        "/api/v1/erp/timetable/",
        "/api/v1/erp/leave-requests/",
        "/api/v1/erp/academic-years/",
        "/api/v1/erp/terms/",
        "/api/v1/erp/classes/",
        "/api/v1/erp/sections/",
        "/api/v1/erp/subjects/",
        "/api/v1/erp/teacher-assignments/",
    ];
    for (path, item) in r.json["paths"].as_object().unwrap() {
        for (_, op) in item.as_object().unwrap() {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                *count.entry(id.to_owned()).or_default() += 1;
                if prefixes.iter().any(|p| path.starts_with(p)) {
                    mine.push(id.to_owned());
                }
            }
        }
    }
    assert!(mine.len() >= 50, "{}", mine.len());
    for id in mine {
        assert_eq!(count[&id], 1, "duplicate operation id {id}");
    }

    // Another school sees nothing.
    let r = app
        .at(&beta, "GET", BASE)
        .bearer(&beta.admin.access)
        .send()
        .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 0);
    let r = app
        .at(&beta, "GET", &format!("{BASE}{ea}/"))
        .bearer(&beta.admin.access)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
});
