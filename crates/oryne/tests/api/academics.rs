//! Academic structure: years (one current), terms, classes, sections,
//! subjects, teacher assignments and the students of a class or section.

use super::common::*;

/// A member whose only role holds no academics permission.
pub async fn nobody(app: &TestApp, school: &School, email: &str) -> Actor {
    let r = app
        .at(school, "POST", "/api/v1/roles/")
        .bearer(&school.admin.access)
        .json(&json!({"name": "Nobody", "permissions": ["users:read"]}))
        .send()
        .await;
    assert!(
        r.status.as_u16() == 201 || r.status.as_u16() == 400,
        "{}",
        r.json
    );
    app.member(school, email, &["Nobody"]).await
}

/// How many audit rows of `resource` the school has.
pub async fn audit_count(app: &TestApp, school: &School, resource: &str) -> u64 {
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

db_test!(academic_years_one_current_protected_and_scoped, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let beta = app.school(&root, "beta").await;
    let admin = alpha.admin.access.clone();
    let base = "/api/v1/erp/academic-years/";

    let r = app
        .at(&alpha, "GET", "/api/v1/erp/academic-years/current/")
        .bearer(&admin)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = app.at(&alpha, "GET", base).send().await;
    assert_error(&r, 401, "ERR_AUTH_02");

    let r = post(&app, &alpha, &admin, base, json!({"name": "2025-2026", "start_date": "2025-04-01", "end_date": "2026-03-31", "is_current": true})).await;
    r.assert_status(201);
    let y1 = r.json["data"]["id"].as_i64().unwrap();
    assert_eq!(r.json["data"]["is_current"], true);
    assert_eq!(r.json["data"]["start_date"], "2025-04-01");
    let r = post(&app, &alpha, &admin, base, json!({"name": "2026-2027", "start_date": "2026-04-01", "end_date": "2027-03-31", "is_current": true})).await;
    r.assert_status(201);
    let y2 = r.json["data"]["id"].as_i64().unwrap();
    let r = app
        .at(&alpha, "GET", &format!("{base}{y1}/"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(
        r.json["data"]["is_current"], false,
        "setting one current clears the others"
    );
    let r = app
        .at(&alpha, "GET", "/api/v1/erp/academic-years/current/")
        .bearer(&admin)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["id"], y2);
    let r = app
        .at(&alpha, "POST", &format!("{base}{y1}/activate/"))
        .bearer(&admin)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["is_current"], true);
    let r = app
        .at(&alpha, "GET", &format!("{base}?is_current=true"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 1);
    assert_eq!(r.json["data"][0]["id"], y1);
    let r = app
        .at(&alpha, "GET", &format!("{base}?is_current=maybe"))
        .bearer(&admin)
        .send()
        .await;
    details(&r, "is_current");

    // Bad input.
    let r = post(
        &app,
        &alpha,
        &admin,
        base,
        json!({"name": "2025-2026", "start_date": "2030-04-01", "end_date": "2031-03-31"}),
    )
    .await;
    details(&r, "name");
    let r = post(
        &app,
        &alpha,
        &admin,
        base,
        json!({"name": "X", "start_date": "2030-04-01", "end_date": "2030-03-31"}),
    )
    .await;
    details(&r, "end_date");
    let r = post(
        &app,
        &alpha,
        &admin,
        base,
        json!({"name": "Y", "start_date": "01/04/2030", "end_date": "2030-03-31"}),
    )
    .await;
    details(&r, "start_date");
    let r = post(&app, &alpha, &admin, base, json!({"start_date": 5})).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = app
        .at(&alpha, "PATCH", &format!("{base}{y1}/"))
        .bearer(&admin)
        .json(&json!({"end_date": "2025-01-01"}))
        .send()
        .await;
    details(&r, "end_date");
    let r = app
        .at(&alpha, "PATCH", &format!("{base}{y1}/"))
        .bearer(&admin)
        .json(&json!({"name": "2026-2027"}))
        .send()
        .await;
    details(&r, "name");
    let r = app
        .at(&alpha, "PUT", &format!("{base}{y1}/"))
        .bearer(&admin)
        .json(&json!({"name": "2025-26"}))
        .send()
        .await;
    details(&r, "start_date");
    let r = app
        .at(&alpha, "PUT", &format!("{base}{y1}/"))
        .bearer(&admin)
        .json(&json!({"name": "2025-26", "start_date": "2025-04-01", "end_date": "2026-03-31"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["name"], "2025-26");
    assert_eq!(
        r.json["data"]["is_current"], true,
        "PUT leaves absent optional fields"
    );
    let r = app
        .at(&alpha, "GET", &format!("{base}999999/"))
        .bearer(&admin)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = app
        .at(&alpha, "GET", &format!("{base}abc/"))
        .bearer(&admin)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");

    // Permissions: every role reads; Staff cannot write; no role no read.
    let staff = app.member(&alpha, "office@alpha.test", &["Staff"]).await;
    let r = app
        .at(&alpha, "GET", base)
        .bearer(&staff.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["meta"]["pagination"]["total"], 2);
    let r = post(
        &app,
        &alpha,
        &staff.access,
        base,
        json!({"name": "Z", "start_date": "2030-04-01", "end_date": "2031-03-31"}),
    )
    .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app
        .at(&alpha, "DELETE", &format!("{base}{y2}/"))
        .bearer(&staff.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app
        .at(&alpha, "POST", &format!("{base}{y2}/activate/"))
        .bearer(&staff.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let none = nobody(&app, &alpha, "none@alpha.test").await;
    let r = app
        .at(&alpha, "GET", base)
        .bearer(&none.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    seed::student(&app, &alpha, "kid@alpha.test", "10", "A").await;
    let kid = app.login("alpha", "kid@alpha.test", PASSWORD).await;
    let r = app
        .at(&alpha, "GET", "/api/v1/erp/academic-years/current/")
        .bearer(&kid.access)
        .send()
        .await;
    r.assert_status(200);

    // Another school sees none of it.
    let r = app
        .at(&beta, "GET", base)
        .bearer(&beta.admin.access)
        .send()
        .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 0);
    let r = app
        .at(&beta, "GET", &format!("{base}{y1}/"))
        .bearer(&beta.admin.access)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");

    // Terms: inside the year, number unique per year; a year with terms is protected.
    let r = post(&app, &alpha, &admin, "/api/v1/erp/terms/", json!({"academic_year": y2, "name": "Term 1", "number": 1, "start_date": "2026-04-01", "end_date": "2026-09-30"})).await;
    r.assert_status(201);
    let t1 = r.json["data"]["id"].as_i64().unwrap();
    assert_eq!(r.json["data"]["academic_year"], y2);
    let r = post(&app, &alpha, &admin, "/api/v1/erp/terms/", json!({"academic_year": y2, "name": "Term 1b", "number": 1, "start_date": "2026-10-01", "end_date": "2027-03-01"})).await;
    details(&r, "number");
    let r = post(&app, &alpha, &admin, "/api/v1/erp/terms/", json!({"academic_year": y2, "name": "Term 2", "number": 2, "start_date": "2026-10-01", "end_date": "2027-06-01"})).await;
    details(&r, "non_field_errors");
    let r = post(&app, &alpha, &admin, "/api/v1/erp/terms/", json!({"academic_year": 999999, "name": "T", "number": 3, "start_date": "2026-10-01", "end_date": "2027-01-01"})).await;
    details(&r, "academic_year");
    let r = post(&app, &alpha, &admin, "/api/v1/erp/terms/", json!({"academic_year": y2, "name": "T", "number": 0, "start_date": "2026-10-01", "end_date": "2027-01-01"})).await;
    details(&r, "number");
    let r = app
        .at(&alpha, "PATCH", &format!("/api/v1/erp/terms/{t1}/"))
        .bearer(&admin)
        .json(&json!({"name": "First term"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["name"], "First term");
    let r = app
        .at(
            &alpha,
            "GET",
            &format!("/api/v1/erp/terms/?academic_year={y2}"),
        )
        .bearer(&staff.access)
        .send()
        .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 1);
    let r = app
        .at(&alpha, "GET", "/api/v1/erp/terms/?academic_year=x")
        .bearer(&admin)
        .send()
        .await;
    details(&r, "academic_year");
    let r = app
        .at(&alpha, "DELETE", &format!("{base}{y2}/"))
        .bearer(&admin)
        .send()
        .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
    let r = app
        .at(&alpha, "DELETE", &format!("/api/v1/erp/terms/{t1}/"))
        .bearer(&admin)
        .send()
        .await;
    r.assert_status(204);
    let r = app
        .at(&alpha, "DELETE", &format!("{base}{y2}/"))
        .bearer(&admin)
        .send()
        .await;
    r.assert_status(204);
    let r = app
        .at(&alpha, "GET", &format!("/api/v1/erp/terms/{t1}/"))
        .bearer(&admin)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");

    assert_eq!(audit_count(&app, &alpha, "AcademicYear").await, 5);
    assert_eq!(audit_count(&app, &alpha, "Term").await, 3);
});

db_test!(classes_sections_subjects_and_assignments, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let admin = alpha.admin.access.clone();
    let r = post(
        &app,
        &alpha,
        &admin,
        "/api/v1/erp/academic-years/",
        json!({"name": "2025-2026", "start_date": "2025-04-01", "end_date": "2026-03-31"}),
    )
    .await;
    let year = r.json["data"]["id"].as_i64().unwrap();

    // Classes.
    let r = post(
        &app,
        &alpha,
        &admin,
        "/api/v1/erp/classes/",
        json!({"name": "10", "numeric_value": 10, "board": "CBSE"}),
    )
    .await;
    r.assert_status(201);
    let c10 = r.json["data"]["id"].as_i64().unwrap();
    let r = post(
        &app,
        &alpha,
        &admin,
        "/api/v1/erp/classes/",
        json!({"name": "9", "numeric_value": 9}),
    )
    .await;
    r.assert_status(201);
    let c9 = r.json["data"]["id"].as_i64().unwrap();
    assert_eq!(r.json["data"]["board"], "");
    let r = post(
        &app,
        &alpha,
        &admin,
        "/api/v1/erp/classes/",
        json!({"name": "10"}),
    )
    .await;
    details(&r, "name");
    let r = post(
        &app,
        &alpha,
        &admin,
        "/api/v1/erp/classes/",
        json!({"name": ""}),
    )
    .await;
    details(&r, "name");
    let r = post(
        &app,
        &alpha,
        &admin,
        "/api/v1/erp/classes/",
        json!({"name": "11", "numeric_value": "x"}),
    )
    .await;
    details(&r, "numeric_value");
    let r = app
        .at(&alpha, "GET", "/api/v1/erp/classes/")
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(r.json["data"][0]["name"], "9", "ordered by numeric value");
    let r = app
        .at(&alpha, "PATCH", &format!("/api/v1/erp/classes/{c9}/"))
        .bearer(&admin)
        .json(&json!({"board": "ICSE"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["board"], "ICSE");
    let r = app
        .at(&alpha, "PUT", &format!("/api/v1/erp/classes/{c9}/"))
        .bearer(&admin)
        .json(&json!({"name": "10"}))
        .send()
        .await;
    details(&r, "name");

    // Sections.
    let t1 = seed::teacher(&app, &alpha, "t1@alpha.test", &[]).await;
    let sec = "/api/v1/erp/sections/";
    let r = post(&app, &alpha, &admin, sec, json!({"school_class": c10, "name": "A", "academic_year": year, "capacity": 40, "room": "101", "class_teacher": t1.id})).await;
    r.assert_status(201);
    let s10a = r.json["data"]["id"].as_i64().unwrap();
    assert_eq!(r.json["data"]["class_name"], "10");
    assert_eq!(r.json["data"]["class_teacher"], t1.id);
    let r = post(
        &app,
        &alpha,
        &admin,
        sec,
        json!({"school_class": c10, "name": "B", "academic_year": year}),
    )
    .await;
    r.assert_status(201);
    let s10b = r.json["data"]["id"].as_i64().unwrap();
    let r = post(
        &app,
        &alpha,
        &admin,
        sec,
        json!({"school_class": c10, "name": "A", "academic_year": year}),
    )
    .await;
    details(&r, "non_field_errors");
    let r = post(
        &app,
        &alpha,
        &admin,
        sec,
        json!({"school_class": c10, "name": "C", "capacity": 0}),
    )
    .await;
    details(&r, "capacity");
    let r = post(
        &app,
        &alpha,
        &admin,
        sec,
        json!({"school_class": 999999, "name": "C"}),
    )
    .await;
    details(&r, "school_class");
    let r = post(
        &app,
        &alpha,
        &admin,
        sec,
        json!({"school_class": c10, "name": "C", "class_teacher": 999999}),
    )
    .await;
    details(&r, "class_teacher");
    let r = post(
        &app,
        &alpha,
        &admin,
        sec,
        json!({"school_class": c10, "name": "C", "academic_year": 999999}),
    )
    .await;
    details(&r, "academic_year");
    let r = post(&app, &alpha, &admin, sec, json!({"name": "C"})).await;
    details(&r, "school_class");
    let r = app
        .at(&alpha, "PATCH", &format!("{sec}{s10b}/"))
        .bearer(&admin)
        .json(&json!({"name": "A"}))
        .send()
        .await;
    details(&r, "non_field_errors");
    let r = app
        .at(&alpha, "PATCH", &format!("{sec}{s10b}/"))
        .bearer(&admin)
        .json(&json!({"capacity": 30, "room": "102"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["capacity"], 30);
    let r = app
        .at(&alpha, "GET", &format!("{sec}?school_class={c10}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 2);
    let r = app
        .at(&alpha, "GET", &format!("{sec}?school_class=ten"))
        .bearer(&admin)
        .send()
        .await;
    details(&r, "school_class");
    let r = app
        .at(&alpha, "DELETE", &format!("/api/v1/erp/classes/{c10}/"))
        .bearer(&admin)
        .send()
        .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
    let r = app
        .at(
            &alpha,
            "DELETE",
            &format!("/api/v1/erp/academic-years/{year}/"),
        )
        .bearer(&admin)
        .send()
        .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");

    // Subjects.
    let sub = "/api/v1/erp/subjects/";
    let r = post(&app, &alpha, &admin, sub, json!({"name": "Mathematics", "code": "MATH", "type": "core", "max_marks": 100, "passing_marks": 35})).await;
    r.assert_status(201);
    let math = r.json["data"]["id"].as_i64().unwrap();
    assert_eq!(r.json["data"]["type"], "core");
    let r = post(
        &app,
        &alpha,
        &admin,
        sub,
        json!({"name": "Hindi", "code": "HIN", "type": "language"}),
    )
    .await;
    r.assert_status(201);
    assert_eq!(r.json["data"]["max_marks"], 100);
    let r = post(
        &app,
        &alpha,
        &admin,
        sub,
        json!({"name": "Maths 2", "code": "MATH"}),
    )
    .await;
    details(&r, "code");
    let r = post(
        &app,
        &alpha,
        &admin,
        sub,
        json!({"name": "Art", "code": "ART", "type": "hobby"}),
    )
    .await;
    details(&r, "type");
    let r = post(
        &app,
        &alpha,
        &admin,
        sub,
        json!({"name": "Art", "code": "ART", "max_marks": 50, "passing_marks": 60}),
    )
    .await;
    details(&r, "passing_marks");
    let r = post(
        &app,
        &alpha,
        &admin,
        sub,
        json!({"name": "Art", "code": "ART", "max_marks": 0}),
    )
    .await;
    details(&r, "max_marks");
    let r = app
        .at(&alpha, "PATCH", &format!("{sub}{math}/"))
        .bearer(&admin)
        .json(&json!({"passing_marks": 101}))
        .send()
        .await;
    details(&r, "passing_marks");
    let r = app
        .at(&alpha, "PATCH", &format!("{sub}{math}/"))
        .bearer(&admin)
        .json(&json!({"type": "elective"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["type"], "elective");
    let r = app
        .at(&alpha, "GET", &format!("{sub}?type=language"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 1);
    let r = app
        .at(&alpha, "GET", &format!("{sub}?type=hobby"))
        .bearer(&admin)
        .send()
        .await;
    details(&r, "type");

    // Teacher assignments.
    let ta = "/api/v1/erp/teacher-assignments/";
    let t2 = seed::teacher(&app, &alpha, "t2@alpha.test", &[]).await;
    let r = post(&app, &alpha, &admin, ta, json!({"teacher": t2.id, "class_name": "10", "section": "B", "subject": math, "academic_year": year})).await;
    r.assert_status(201);
    let a1 = r.json["data"]["id"].as_i64().unwrap();
    assert_eq!(r.json["data"]["role"], "subject_teacher");
    let r = post(
        &app,
        &alpha,
        &admin,
        ta,
        json!({"teacher": 999999, "class_name": "10", "section": "B"}),
    )
    .await;
    details(&r, "teacher");
    let r = post(
        &app,
        &alpha,
        &admin,
        ta,
        json!({"teacher": t2.id, "class_name": "12", "section": "B"}),
    )
    .await;
    details(&r, "class_name");
    let r = post(
        &app,
        &alpha,
        &admin,
        ta,
        json!({"teacher": t2.id, "class_name": "10", "section": "Z"}),
    )
    .await;
    details(&r, "section");
    let r = post(
        &app,
        &alpha,
        &admin,
        ta,
        json!({"teacher": t2.id, "class_name": "10", "section": "B", "role": "principal"}),
    )
    .await;
    details(&r, "role");
    let r = post(
        &app,
        &alpha,
        &admin,
        ta,
        json!({"teacher": t2.id, "class_name": "10", "section": "B", "subject": 999999}),
    )
    .await;
    details(&r, "subject");
    let r = app
        .at(&alpha, "PATCH", &format!("{ta}{a1}/"))
        .bearer(&admin)
        .json(&json!({"role": "class_teacher"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["role"], "class_teacher");
    let r = app
        .at(&alpha, "GET", &format!("{ta}?teacher={}", t2.id))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 1);
    let r = app
        .at(
            &alpha,
            "GET",
            &format!("/api/v1/erp/classes/{c10}/subjects/"),
        )
        .bearer(&admin)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.json["data"][0]["code"], "MATH");
    let r = app
        .at(&alpha, "DELETE", &format!("{sub}{math}/"))
        .bearer(&admin)
        .send()
        .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");

    // Students of a class / section follow the students reach.
    let s1 = seed::student(&app, &alpha, "s1@alpha.test", "10", "A").await;
    let s2 = seed::student(&app, &alpha, "s2@alpha.test", "10", "B").await;
    seed::student(&app, &alpha, "s3@alpha.test", "9", "A").await;
    seed::parent(&app, &alpha, "p1@alpha.test", &[s1.id]).await;
    let r = app
        .at(
            &alpha,
            "GET",
            &format!("/api/v1/erp/classes/{c10}/students/"),
        )
        .bearer(&admin)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["meta"]["pagination"]["total"], 2);
    assert!(r.json["data"][0]["user"]["email"].is_string());
    let r = app
        .at(&alpha, "GET", &format!("{sec}{s10a}/students/"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 1);
    assert_eq!(r.json["data"][0]["id"], s1.id);
    let p1 = app.login("alpha", "p1@alpha.test", PASSWORD).await;
    let r = app
        .at(
            &alpha,
            "GET",
            &format!("/api/v1/erp/classes/{c10}/students/"),
        )
        .bearer(&p1.access)
        .send()
        .await;
    assert_eq!(
        r.json["meta"]["pagination"]["total"], 1,
        "a parent sees their child only"
    );
    let kid = app.login("alpha", "s2@alpha.test", PASSWORD).await;
    let r = app
        .at(
            &alpha,
            "GET",
            &format!("/api/v1/erp/classes/{c10}/students/"),
        )
        .bearer(&kid.access)
        .send()
        .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 1);
    assert_eq!(r.json["data"][0]["id"], s2.id);
    let teacher2 = app.login("alpha", "t2@alpha.test", PASSWORD).await;
    let r = app
        .at(
            &alpha,
            "GET",
            &format!("/api/v1/erp/classes/{c10}/students/"),
        )
        .bearer(&teacher2.access)
        .send()
        .await;
    assert_eq!(
        r.json["meta"]["pagination"]["total"], 1,
        "a teacher sees their section only"
    );
    assert_eq!(r.json["data"][0]["id"], s2.id);
    let r = app
        .at(&alpha, "GET", &format!("{sec}{s10a}/students/"))
        .bearer(&teacher2.access)
        .send()
        .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 0);
    let r = app
        .at(&alpha, "GET", "/api/v1/erp/classes/999999/students/")
        .bearer(&admin)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = app
        .at(
            &alpha,
            "GET",
            &format!("/api/v1/erp/classes/{c10}/students/"),
        )
        .send()
        .await;
    assert_error(&r, 401, "ERR_AUTH_02");
    // Teachers read but do not write.
    let r = post(
        &app,
        &alpha,
        &teacher2.access,
        ta,
        json!({"teacher": t2.id, "class_name": "10", "section": "A"}),
    )
    .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app
        .at(&alpha, "GET", &format!("{sub}{math}/"))
        .bearer(&teacher2.access)
        .send()
        .await;
    r.assert_status(200);
    let r = app
        .at(&alpha, "DELETE", &format!("{sec}{s10a}/"))
        .bearer(&teacher2.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");

    // Deletes.
    let r = app
        .at(&alpha, "DELETE", &format!("{ta}{a1}/"))
        .bearer(&admin)
        .send()
        .await;
    r.assert_status(204);
    let r = app
        .at(&alpha, "DELETE", &format!("{sub}{math}/"))
        .bearer(&admin)
        .send()
        .await;
    r.assert_status(204);
    for id in [s10a, s10b] {
        let r = app
            .at(&alpha, "DELETE", &format!("{sec}{id}/"))
            .bearer(&admin)
            .send()
            .await;
        r.assert_status(204);
    }
    let r = app
        .at(&alpha, "DELETE", &format!("/api/v1/erp/classes/{c10}/"))
        .bearer(&admin)
        .send()
        .await;
    r.assert_status(204);
    let r = app
        .at(&alpha, "GET", &format!("/api/v1/erp/classes/{c10}/"))
        .bearer(&admin)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");

    assert_eq!(audit_count(&app, &alpha, "SchoolClass").await, 4);
    assert_eq!(audit_count(&app, &alpha, "Section").await, 5);
    assert_eq!(audit_count(&app, &alpha, "Subject").await, 4);
    assert_eq!(audit_count(&app, &alpha, "TeacherAssignment").await, 3);
});
