//! ERP people (contract §3): students, parents, teachers and staff created
//! with their users; row scope (own, children, class); links, class lists,
//! statistics, CSV import and export; plan limits and audit rows.

use super::common::*;

const STUDENTS: &str = "/api/v1/erp/students/";
const PARENTS: &str = "/api/v1/erp/parents/";
const TEACHERS: &str = "/api/v1/erp/teachers/";
const STAFF: &str = "/api/v1/erp/staff/";

async fn audit_total(app: &TestApp, school: &School, resource: &str, action: &str) -> u64 {
    let r = app
        .at(
            school,
            "GET",
            &format!("/api/v1/audit-logs/?resource_type={resource}&action={action}"),
        )
        .bearer(&school.admin.access)
        .send()
        .await;
    r.assert_status(200);
    r.json["meta"]["pagination"]["total"].as_u64().unwrap()
}

fn student_body(email: &str, enrollment: &str) -> Value {
    json!({"email": email, "first_name": "Sam", "last_name": "Pupil", "password": PASSWORD,
           "enrollment_no": enrollment, "class_name": "10", "section": "A", "gender": "male",
           "roll_number": 7, "date_of_birth": "2012-03-04", "admission_date": "2020-06-01",
           "blood_group": "O+", "parent_name": "Pat Parent"})
}

async fn post(
    app: &TestApp,
    school: &School,
    token: &str,
    path: &str,
    body: &Value,
) -> kernel::testing::TestResponse {
    app.at(school, "POST", path)
        .bearer(token)
        .json(body)
        .send()
        .await
}

async fn get(
    app: &TestApp,
    school: &School,
    token: &str,
    path: &str,
) -> kernel::testing::TestResponse {
    app.at(school, "GET", path).bearer(token).send().await
}

fn ids(r: &kernel::testing::TestResponse) -> Vec<i64> {
    let mut ids: Vec<i64> = r.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

db_test!(people_are_created_with_their_users_in_each_school, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let beta = app.school(&root, "beta").await;
    let mut seen = Vec::new();
    for school in [&alpha, &beta] {
        let admin = &school.admin.access;
        let r = post(
            &app,
            school,
            admin,
            STUDENTS,
            &student_body("kid@same.test", "ENR-1"),
        )
        .await;
        r.assert_status(201);
        let s = &r.json["data"];
        assert_eq!(s["user"]["email"], "kid@same.test");
        assert_eq!(s["user"]["is_active"], true);
        assert_eq!(s["full_name"], "Sam Pupil");
        assert_eq!(s["enrollment_no"], "ENR-1");
        assert_eq!(s["blood_group"], "O+");
        assert_eq!(s["status"], "active");
        assert!(s["user"].get("password").is_none());
        let r = post(&app, school, admin, PARENTS, &json!({"email": "mum@same.test", "first_name": "Mia",
            "last_name": "Mum", "password": PASSWORD, "annual_income": "1234.50", "occupation": "Pilot"})).await;
        r.assert_status(201);
        assert_eq!(r.json["data"]["annual_income"], "1234.50");
        assert_eq!(r.json["data"]["can_pickup"], true);
        let p = r.json["data"]["id"].as_i64().unwrap();
        let r = post(&app, school, admin, TEACHERS, &json!({"email": "teach@same.test", "first_name": "Tom",
            "last_name": "Teach", "password": PASSWORD, "employee_no": "T-1", "subjects": ["Maths", "Physics"],
            "department": "Science", "experience_years": 4})).await;
        r.assert_status(201);
        assert_eq!(r.json["data"]["subjects"], json!(["Maths", "Physics"]));
        assert_eq!(r.json["data"]["employment_type"], "permanent");
        let t = r.json["data"]["id"].as_i64().unwrap();
        let r = post(
            &app,
            school,
            admin,
            STAFF,
            &json!({"email": "office@same.test", "first_name": "Olly",
            "last_name": "Office", "employee_no": "S-1", "department": "Admin"}),
        )
        .await;
        r.assert_status(201);
        assert_eq!(r.json["data"]["status"], "active");
        let st = r.json["data"]["id"].as_i64().unwrap();
        seen.push((s["id"].as_i64().unwrap(), p, t, st));
        // The new accounts sign in, each in its own school.
        app.login(&school.subdomain, "kid@same.test", PASSWORD)
            .await;
        app.login(&school.subdomain, "teach@same.test", PASSWORD)
            .await;
        // Role implied by the resource.
        let r = get(&app, school, admin, "/api/v1/users/?search=teach@same.test").await;
        assert_eq!(r.json["data"][0]["roles"], json!(["Teacher"]));
    }
    // Sequences are per school: the same ids exist in both.
    assert_eq!(seen[0], seen[1]);
    // Same email twice in one school: 400 on email; enrollment/employee numbers unique.
    let admin = &alpha.admin.access;
    let r = post(
        &app,
        &alpha,
        admin,
        STUDENTS,
        &student_body("kid@same.test", "ENR-2"),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["email"].is_array(), "{}", r.json);
    let r = post(
        &app,
        &alpha,
        admin,
        STUDENTS,
        &student_body("kid2@same.test", "ENR-1"),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(
        r.json["error"]["details"]["enrollment_no"].is_array(),
        "{}",
        r.json
    );
    let r = post(
        &app,
        &alpha,
        admin,
        TEACHERS,
        &json!({"email": "t2@same.test", "first_name": "A",
        "last_name": "B", "employee_no": "T-1"}),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(
        r.json["error"]["details"]["employee_no"].is_array(),
        "{}",
        r.json
    );
    let r = post(
        &app,
        &alpha,
        admin,
        STAFF,
        &json!({"email": "s2@same.test", "first_name": "A",
        "last_name": "B", "employee_no": "S-1"}),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(
        r.json["error"]["details"]["employee_no"].is_array(),
        "{}",
        r.json
    );
    // Nothing half-written by the refused creates.
    let r = get(&app, &alpha, admin, "/api/v1/users/?search=kid2@same.test").await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 0);
    // Audit rows: one per created person (and their users).
    for kind in ["Student", "Parent", "Teacher", "Staff"] {
        assert_eq!(audit_total(&app, &alpha, kind, "CREATE").await, 1, "{kind}");
    }
});

db_test!(student_input_is_checked, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let admin = &alpha.admin.access;
    let mut bad = student_body("bad@alpha.test", "E-1");
    bad["gender"] = json!("robot");
    bad["blood_group"] = json!("Z+");
    bad["status"] = json!("expelled");
    bad["roll_number"] = json!(0);
    bad["metadata"] = json!([1]);
    bad["parent_email"] = json!("nope");
    bad["email"] = json!("not-an-email");
    let r = post(&app, &alpha, admin, STUDENTS, &bad).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let details = &r.json["error"]["details"];
    for field in [
        "gender",
        "blood_group",
        "status",
        "roll_number",
        "metadata",
        "parent_email",
        "email",
    ] {
        assert!(details[field].is_array(), "{field}: {}", r.json);
    }
    let mut missing = json!({"email": "m@alpha.test"});
    let r = post(&app, &alpha, admin, STUDENTS, &missing).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    for field in [
        "first_name",
        "last_name",
        "enrollment_no",
        "class_name",
        "section",
        "gender",
    ] {
        assert!(
            r.json["error"]["details"][field].is_array(),
            "{field}: {}",
            r.json
        );
    }
    missing["first_name"] = json!(5);
    let r = post(&app, &alpha, admin, STUDENTS, &missing).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    // Dates: born in the future, or after admission.
    let mut future = student_body("f@alpha.test", "E-2");
    future["date_of_birth"] = json!("2999-01-01");
    let r = post(&app, &alpha, admin, STUDENTS, &future).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["date_of_birth"].is_array());
    let mut late = student_body("l@alpha.test", "E-3");
    late["date_of_birth"] = json!("2021-01-01");
    let r = post(&app, &alpha, admin, STUDENTS, &late).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["date_of_birth"].is_array());
    let mut shape = student_body("d@alpha.test", "E-4");
    shape["admission_date"] = json!("01/02/2020");
    let r = post(&app, &alpha, admin, STUDENTS, &shape).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["admission_date"].is_array());
    // Mass assignment: ids, user_id and timestamps are ignored.
    let mut sneaky = student_body("ok@alpha.test", "E-5");
    sneaky["id"] = json!(999);
    sneaky["user_id"] = json!(alpha.admin.id);
    sneaky["created_at"] = json!("2000-01-01T00:00:00Z");
    sneaky["blood_group"] = json!("");
    let r = post(&app, &alpha, admin, STUDENTS, &sneaky).await;
    r.assert_status(201);
    let s = r.json["data"].clone();
    assert_ne!(s["id"], 999);
    assert_ne!(s["user"]["id"], alpha.admin.id);
    assert_ne!(s["created_at"], "2000-01-01T00:00:00Z");
    assert_eq!(s["blood_group"], "");
    let id = s["id"].as_i64().unwrap();
    // PATCH changes what it names (user names too); PUT needs the required fields.
    let path = format!("{STUDENTS}{id}/");
    let r = app
        .at(&alpha, "PATCH", &path)
        .bearer(admin)
        .json(&json!({"roll_number": 3, "first_name": "Samuel", "user_id": 1, "section": "A"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["roll_number"], 3);
    assert_eq!(r.json["data"]["full_name"], "Samuel Pupil");
    assert_eq!(r.json["data"]["user"]["id"], s["user"]["id"]);
    let r = app
        .at(&alpha, "PATCH", &path)
        .bearer(admin)
        .json(&json!({"gender": "x"}))
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = app
        .at(&alpha, "PUT", &path)
        .bearer(admin)
        .json(&json!({"city": "Nairobi"}))
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["enrollment_no"].is_array());
    let r = app.at(&alpha, "PUT", &path).bearer(admin)
        .json(&json!({"enrollment_no": "E-5", "class_name": "11", "section": "B", "gender": "female", "city": "Nairobi"}))
        .send().await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["class_name"], "11");
    assert_eq!(
        r.json["data"]["roll_number"], 3,
        "PUT keeps absent optional fields"
    );
    assert_eq!(audit_total(&app, &alpha, "Student", "UPDATE").await, 2);
    let r = get(&app, &alpha, admin, &format!("{STUDENTS}abc/")).await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = get(&app, &alpha, admin, &format!("{STUDENTS}9999/")).await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    // Filters and their bad values.
    let r = get(&app, &alpha, admin, &format!("{STUDENTS}?gender=robot")).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = get(&app, &alpha, admin, &format!("{STUDENTS}?status=graduated")).await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 0);
    let r = get(&app, &alpha, admin, &format!("{STUDENTS}?search=samuel")).await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 1);
    let r = get(&app, &alpha, admin, &format!("{STUDENTS}?search=e-5")).await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 1);
    let r = get(&app, &alpha, admin, &format!("{STUDENTS}?search=pat")).await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 1, "parent_name");
    // DELETE deactivates: status inactive, no more sign-in, tokens dead.
    let kid = app.login("alpha", "ok@alpha.test", PASSWORD).await;
    let r = app.at(&alpha, "DELETE", &path).bearer(admin).send().await;
    r.assert_status(204);
    let r = get(&app, &alpha, admin, &path).await;
    assert_eq!(r.json["data"]["status"], "inactive");
    assert_eq!(r.json["data"]["user"]["is_active"], false);
    let r = get(&app, &alpha, &kid.access, &path).await;
    assert_eq!(r.status.as_u16(), 401, "{}", r.json);
    let r = app
        .post("/api/v1/auth/login/")
        .header("host", "alpha.localhost")
        .json(&json!({"email": "ok@alpha.test", "password": PASSWORD}))
        .send()
        .await;
    assert_error(&r, 401, "ERR_AUTH_01");
    assert_eq!(audit_total(&app, &alpha, "Student", "DELETE").await, 1);
});

db_test!(classes_and_sections_must_exist_once_defined, |app| {
    use oryne::entities::{school_class, section};
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let admin = &alpha.admin.access;
    // No classes yet: any class name goes.
    post(
        &app,
        &alpha,
        admin,
        STUDENTS,
        &student_body("a@alpha.test", "E-1"),
    )
    .await
    .assert_status(201);
    let db = seed::db(&app, &alpha).await;
    let now = kernel::time::now();
    let ten = school_class::ActiveModel {
        name: Set("10".into()),
        numeric_value: Set(Some(10)),
        board: Set(String::new()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&db)
    .await
    .unwrap();
    section::ActiveModel {
        school_class_id: Set(ten.id),
        name: Set("A".into()),
        academic_year_id: Set(None),
        capacity: Set(None),
        room: Set(String::new()),
        class_teacher_id: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&db)
    .await
    .unwrap();
    let mut body = student_body("b@alpha.test", "E-2");
    body["class_name"] = json!("11");
    let r = post(&app, &alpha, admin, STUDENTS, &body).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(
        r.json["error"]["details"]["class_name"].is_array(),
        "{}",
        r.json
    );
    body["class_name"] = json!("10");
    body["section"] = json!("Z");
    let r = post(&app, &alpha, admin, STUDENTS, &body).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(
        r.json["error"]["details"]["section"].is_array(),
        "{}",
        r.json
    );
    body["section"] = json!("A");
    post(&app, &alpha, admin, STUDENTS, &body)
        .await
        .assert_status(201);
    // Teachers are assigned to existing classes only, too.
    let t = seed::teacher(&app, &alpha, "t@alpha.test", &[]).await;
    let r = post(
        &app,
        &alpha,
        admin,
        &format!("{TEACHERS}{}/assign_class/", t.id),
        &json!({"class_name": "10", "section": "Q"}),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(
        r.json["error"]["details"]["section"].is_array(),
        "{}",
        r.json
    );
});

db_test!(each_role_sees_only_its_reach, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let admin = &alpha.admin.access;
    let s1 = seed::student(&app, &alpha, "s1@alpha.test", "10", "A").await;
    let s2 = seed::student(&app, &alpha, "s2@alpha.test", "10", "B").await;
    let s3 = seed::student(&app, &alpha, "s3@alpha.test", "9", "A").await;
    let p1 = seed::parent(&app, &alpha, "p1@alpha.test", &[s1.id]).await;
    let p2 = seed::parent(&app, &alpha, "p2@alpha.test", &[s3.id]).await;
    let t1 = seed::teacher(&app, &alpha, "t1@alpha.test", &[("10", "A")]).await;
    let t2 = seed::teacher(&app, &alpha, "t2@alpha.test", &[("9", "A")]).await;
    let parent = app.login("alpha", "p1@alpha.test", PASSWORD).await;
    let teacher = app.login("alpha", "t1@alpha.test", PASSWORD).await;
    let student = app.login("alpha", "s2@alpha.test", PASSWORD).await;

    // Admin sees everyone.
    let r = get(&app, &alpha, admin, STUDENTS).await;
    assert_eq!(ids(&r), vec![s1.id, s2.id, s3.id]);
    // Default order: class, section, roll number ("10" < "9" as text).
    let order: Vec<i64> = r.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(order, vec![s1.id, s2.id, s3.id]);

    // A parent: only linked children.
    let r = get(&app, &alpha, &parent.access, STUDENTS).await;
    r.assert_status(200);
    assert_eq!(ids(&r), vec![s1.id]);
    get(
        &app,
        &alpha,
        &parent.access,
        &format!("{STUDENTS}{}/", s1.id),
    )
    .await
    .assert_status(200);
    for other in [s2.id, s3.id] {
        let r = get(&app, &alpha, &parent.access, &format!("{STUDENTS}{other}/")).await;
        assert_error(&r, 404, "ERR_NOT_FOUND_01");
        let r = get(
            &app,
            &alpha,
            &parent.access,
            &format!("{STUDENTS}{other}/parents/"),
        )
        .await;
        assert_error(&r, 404, "ERR_NOT_FOUND_01");
    }
    // Visible but read-only: 403; invisible: 404.
    let r = app
        .at(&alpha, "PATCH", &format!("{STUDENTS}{}/", s1.id))
        .bearer(&parent.access)
        .json(&json!({"city": "X"}))
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app
        .at(&alpha, "PATCH", &format!("{STUDENTS}{}/", s2.id))
        .bearer(&parent.access)
        .json(&json!({"city": "X"}))
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = app
        .at(&alpha, "DELETE", &format!("{STUDENTS}{}/", s1.id))
        .bearer(&parent.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = post(
        &app,
        &alpha,
        &parent.access,
        STUDENTS,
        &student_body("x@alpha.test", "X"),
    )
    .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = get(
        &app,
        &alpha,
        &parent.access,
        &format!("{STUDENTS}statistics/"),
    )
    .await;
    assert_eq!(r.json["data"]["total"], 1);
    // Their own parent row, not another's; their children listed.
    let r = get(&app, &alpha, &parent.access, PARENTS).await;
    assert_eq!(ids(&r), vec![p1.id]);
    let r = get(
        &app,
        &alpha,
        &parent.access,
        &format!("{PARENTS}{}/", p2.id),
    )
    .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = get(
        &app,
        &alpha,
        &parent.access,
        &format!("{PARENTS}{}/children/", p1.id),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.json["data"][0]["student"]["id"], s1.id);
    let r = get(&app, &alpha, &parent.access, TEACHERS).await;
    assert_error(&r, 403, "ERR_PERM_01");

    // A teacher: students of their class and section only.
    let r = get(&app, &alpha, &teacher.access, STUDENTS).await;
    assert_eq!(ids(&r), vec![s1.id]);
    for other in [s2.id, s3.id] {
        let r = get(
            &app,
            &alpha,
            &teacher.access,
            &format!("{STUDENTS}{other}/"),
        )
        .await;
        assert_error(&r, 404, "ERR_NOT_FOUND_01");
    }
    let r = get(
        &app,
        &alpha,
        &teacher.access,
        &format!("{STUDENTS}by_class/?class_name=10"),
    )
    .await;
    assert_eq!(ids(&r), vec![s1.id]);
    let r = get(
        &app,
        &alpha,
        &teacher.access,
        &format!("{STUDENTS}by_class/?class_name=9&section=A"),
    )
    .await;
    assert_eq!(ids(&r), Vec::<i64>::new());
    let r = get(
        &app,
        &alpha,
        &teacher.access,
        &format!("{STUDENTS}by_class/"),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    // Parents of their students; teachers: only themself.
    let r = get(&app, &alpha, &teacher.access, PARENTS).await;
    assert_eq!(ids(&r), vec![p1.id]);
    let r = get(
        &app,
        &alpha,
        &teacher.access,
        &format!("{PARENTS}{}/", p2.id),
    )
    .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = get(&app, &alpha, &teacher.access, TEACHERS).await;
    assert_eq!(ids(&r), vec![t1.id]);
    let r = get(
        &app,
        &alpha,
        &teacher.access,
        &format!("{TEACHERS}{}/", t2.id),
    )
    .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = get(
        &app,
        &alpha,
        &teacher.access,
        &format!("{TEACHERS}{}/assignments/", t1.id),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["data"][0]["class_name"], "10");
    let r = post(
        &app,
        &alpha,
        &teacher.access,
        &format!("{TEACHERS}{}/assign_class/", t1.id),
        &json!({"class_name": "9", "section": "A"}),
    )
    .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = get(&app, &alpha, &teacher.access, STAFF).await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = get(&app, &alpha, &teacher.access, &format!("{STUDENTS}export/")).await;
    r.assert_status(200);
    let text = String::from_utf8(r.body.clone()).unwrap();
    assert!(
        text.contains("s1@alpha.test")
            && !text.contains("s2@alpha.test")
            && !text.contains("s3@alpha.test")
    );

    // A student: only themself.
    let r = get(&app, &alpha, &student.access, STUDENTS).await;
    assert_eq!(ids(&r), vec![s2.id]);
    get(
        &app,
        &alpha,
        &student.access,
        &format!("{STUDENTS}{}/", s2.id),
    )
    .await
    .assert_status(200);
    let r = get(
        &app,
        &alpha,
        &student.access,
        &format!("{STUDENTS}{}/", s1.id),
    )
    .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = get(
        &app,
        &alpha,
        &student.access,
        &format!("{STUDENTS}statistics/"),
    )
    .await;
    assert_eq!(r.json["data"]["total"], 1);
    let r = get(&app, &alpha, &student.access, PARENTS).await;
    assert_error(&r, 403, "ERR_PERM_01");

    // A later assignment widens the teacher's reach at once.
    let r = post(
        &app,
        &alpha,
        admin,
        &format!("{TEACHERS}{}/assign_class/", t1.id),
        &json!({"class_name": "10", "section": "B", "role": "class_teacher"}),
    )
    .await;
    r.assert_status(201);
    assert_eq!(r.json["data"]["role"], "class_teacher");
    let r = post(
        &app,
        &alpha,
        admin,
        &format!("{TEACHERS}{}/assign_class/", t1.id),
        &json!({"class_name": "10", "section": "B", "role": "class_teacher"}),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = post(
        &app,
        &alpha,
        admin,
        &format!("{TEACHERS}{}/assign_class/", t1.id),
        &json!({"class_name": "10", "section": "C", "role": "boss", "subject_id": 999}),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["role"].is_array());
    let r = get(&app, &alpha, &teacher.access, STUDENTS).await;
    assert_eq!(ids(&r), vec![s1.id, s2.id]);
    assert_eq!(
        audit_total(&app, &alpha, "TeacherAssignment", "CREATE").await,
        1
    );

    // No token: 401, on every route.
    for path in [
        STUDENTS.to_owned(),
        PARENTS.to_owned(),
        TEACHERS.to_owned(),
        STAFF.to_owned(),
        format!("{STUDENTS}{}/", s1.id),
        format!("{STUDENTS}statistics/"),
        format!("{STUDENTS}export/"),
    ] {
        let r = app.at(&alpha, "GET", &path).send().await;
        assert_error(&r, 401, "ERR_AUTH_02");
    }
    let r = app
        .at(&alpha, "POST", STUDENTS)
        .json(&student_body("n@alpha.test", "N"))
        .send()
        .await;
    assert_error(&r, 401, "ERR_AUTH_02");
    // Another school's token: refused.
    let beta = app.school(&root, "beta").await;
    let r = app
        .at(&alpha, "GET", STUDENTS)
        .bearer(&beta.admin.access)
        .send()
        .await;
    assert_error(&r, 401, "ERR_TENANT_02");
});

db_test!(parents_link_to_students, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let admin = &alpha.admin.access;
    let r = post(
        &app,
        &alpha,
        admin,
        STUDENTS,
        &student_body("kid@alpha.test", "E-1"),
    )
    .await;
    let sid = r.json["data"]["id"].as_i64().unwrap();
    let r = post(
        &app,
        &alpha,
        admin,
        STUDENTS,
        &student_body("kid2@alpha.test", "E-2"),
    )
    .await;
    let other = r.json["data"]["id"].as_i64().unwrap();
    // Bad parent input.
    for (field, value) in [
        ("annual_income", json!("12.345")),
        ("annual_income", json!("-5")),
        ("annual_income", json!("lots")),
        ("can_pickup", json!("maybe")),
    ] {
        let mut body = json!({"email": "x@alpha.test", "first_name": "X", "last_name": "Y"});
        body[field] = value;
        let r = post(&app, &alpha, admin, PARENTS, &body).await;
        assert_error(&r, 400, "ERR_VALIDATION_01");
        assert!(r.json["error"]["details"][field].is_array(), "{}", r.json);
    }
    let r = post(
        &app,
        &alpha,
        admin,
        PARENTS,
        &json!({"email": "dad@alpha.test", "first_name": "Dan",
        "last_name": "Dad", "password": PASSWORD, "annual_income": 99000, "can_pickup": false}),
    )
    .await;
    r.assert_status(201);
    assert_eq!(r.json["data"]["annual_income"], "99000.00");
    let pid = r.json["data"]["id"].as_i64().unwrap();
    let link = format!("{STUDENTS}{sid}/add_parent/");
    let r = post(
        &app,
        &alpha,
        admin,
        &link,
        &json!({"parent_id": pid, "relationship": "uncle"}),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["relationship"].is_array());
    let r = post(
        &app,
        &alpha,
        admin,
        &link,
        &json!({"parent_id": 999, "relationship": "father"}),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["parent_id"].is_array());
    let r = post(
        &app,
        &alpha,
        admin,
        &link,
        &json!({"parent_id": pid, "relationship": "father", "is_primary": true}),
    )
    .await;
    r.assert_status(201);
    assert_eq!(r.json["data"]["parent"]["id"], pid);
    assert_eq!(r.json["data"]["is_primary"], true);
    let r = post(
        &app,
        &alpha,
        admin,
        &link,
        &json!({"parent_id": pid, "relationship": "father"}),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = post(
        &app,
        &alpha,
        admin,
        &format!("{STUDENTS}9999/add_parent/"),
        &json!({"parent_id": pid, "relationship": "father"}),
    )
    .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = get(&app, &alpha, admin, &format!("{STUDENTS}{sid}/parents/")).await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.json["data"][0]["relationship"], "father");
    assert_eq!(
        r.json["data"][0]["parent"]["user"]["email"],
        "dad@alpha.test"
    );
    let r = get(&app, &alpha, admin, &format!("{PARENTS}{pid}/children/")).await;
    assert_eq!(r.json["data"][0]["student"]["id"], sid);
    // The parent, signed in, sees their child and no other.
    let dad = app.login("alpha", "dad@alpha.test", PASSWORD).await;
    let r = get(&app, &alpha, &dad.access, STUDENTS).await;
    assert_eq!(ids(&r), vec![sid]);
    let r = get(&app, &alpha, &dad.access, &format!("{STUDENTS}{other}/")).await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = get(
        &app,
        &alpha,
        &dad.access,
        &format!("{STUDENTS}{sid}/parents/"),
    )
    .await;
    r.assert_status(200);
    // Parent changes and delete.
    let r = app
        .at(&alpha, "PATCH", &format!("{PARENTS}{pid}/"))
        .bearer(admin)
        .json(&json!({"annual_income": null, "occupation": "Chef"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["annual_income"], Value::Null);
    assert_eq!(r.json["data"]["occupation"], "Chef");
    let r = app
        .at(&alpha, "PATCH", &format!("{PARENTS}{pid}/"))
        .bearer(&dad.access)
        .json(&json!({"occupation": "Spy"}))
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app
        .at(&alpha, "DELETE", &format!("{PARENTS}{pid}/"))
        .bearer(admin)
        .send()
        .await;
    r.assert_status(204);
    let r = get(&app, &alpha, admin, &format!("{PARENTS}{pid}/")).await;
    assert_eq!(r.json["data"]["user"]["is_active"], false);
    for action in ["CREATE", "UPDATE", "DELETE"] {
        assert_eq!(
            audit_total(&app, &alpha, "Parent", action).await,
            1,
            "{action}"
        );
    }
    assert_eq!(
        audit_total(&app, &alpha, "StudentParent", "CREATE").await,
        1
    );
});

db_test!(teachers_and_staff, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let admin = &alpha.admin.access;
    for (n, dept, kind, subjects) in [
        (1, "Science", "permanent", json!(["Maths", "Physics"])),
        (2, "Science", "contract", json!(["Chemistry"])),
        (3, "Arts", "visiting", json!(["maths"])),
    ] {
        let r = post(
            &app,
            &alpha,
            admin,
            TEACHERS,
            &json!({"email": format!("t{n}@alpha.test"),
            "first_name": "T", "last_name": format!("Teacher{n}"), "employee_no": format!("T-{n}"),
            "department": dept, "employment_type": kind, "subjects": subjects,
            "joining_date": "2020-01-15"}),
        )
        .await;
        r.assert_status(201);
    }
    let r = post(
        &app,
        &alpha,
        admin,
        TEACHERS,
        &json!({"email": "bad@alpha.test", "first_name": "B",
        "last_name": "B", "employee_no": "T-9", "experience_years": -1, "employment_type": "gig",
        "status": "fired", "subjects": "Maths", "joining_date": "soon"}),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = post(
        &app,
        &alpha,
        admin,
        TEACHERS,
        &json!({"email": "bad@alpha.test", "first_name": "B",
        "last_name": "B", "employee_no": "T-9", "experience_years": -1, "employment_type": "gig",
        "status": "fired", "joining_date": "soon"}),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    for field in [
        "experience_years",
        "employment_type",
        "status",
        "joining_date",
    ] {
        assert!(
            r.json["error"]["details"][field].is_array(),
            "{field}: {}",
            r.json
        );
    }
    let r = get(
        &app,
        &alpha,
        admin,
        &format!("{TEACHERS}?department=Science"),
    )
    .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 2);
    let r = get(
        &app,
        &alpha,
        admin,
        &format!("{TEACHERS}?employment_type=visiting"),
    )
    .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 1);
    let r = get(
        &app,
        &alpha,
        admin,
        &format!("{TEACHERS}?employment_type=gig"),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = get(&app, &alpha, admin, &format!("{TEACHERS}?search=teacher2")).await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 1);
    let r = get(
        &app,
        &alpha,
        admin,
        &format!("{TEACHERS}by_subject/?subject=Maths"),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["data"].as_array().unwrap().len(), 2);
    let r = get(
        &app,
        &alpha,
        admin,
        &format!("{TEACHERS}by_subject/?subject=Chem"),
    )
    .await;
    assert_eq!(
        r.json["data"].as_array().unwrap().len(),
        0,
        "whole subjects only"
    );
    let r = get(&app, &alpha, admin, &format!("{TEACHERS}by_subject/")).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = get(&app, &alpha, admin, &format!("{TEACHERS}statistics/")).await;
    assert_eq!(r.json["data"]["total"], 3);
    assert_eq!(
        r.json["data"]["by_department"],
        json!({"Arts": 1, "Science": 2})
    );
    assert_eq!(
        r.json["data"]["by_employment_type"],
        json!({"contract": 1, "permanent": 1, "visiting": 1})
    );
    assert_eq!(r.json["data"]["by_status"], json!({"active": 3}));
    let r = get(&app, &alpha, admin, TEACHERS).await;
    let t1 = r.json["data"][0]["id"].as_i64().unwrap();
    let r = app
        .at(&alpha, "PATCH", &format!("{TEACHERS}{t1}/"))
        .bearer(admin)
        .json(&json!({"employee_no": "T-2"}))
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = app
        .at(&alpha, "PATCH", &format!("{TEACHERS}{t1}/"))
        .bearer(admin)
        .json(&json!({"status": "on_leave", "experience_years": 5}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["status"], "on_leave");
    let r = app
        .at(&alpha, "DELETE", &format!("{TEACHERS}{t1}/"))
        .bearer(admin)
        .send()
        .await;
    r.assert_status(204);
    let r = get(&app, &alpha, admin, &format!("{TEACHERS}{t1}/")).await;
    assert_eq!(r.json["data"]["status"], "resigned");
    assert_eq!(r.json["data"]["user"]["is_active"], false);
    for action in ["CREATE", "UPDATE", "DELETE"] {
        assert!(
            audit_total(&app, &alpha, "Teacher", action).await >= 1,
            "{action}"
        );
    }

    // Staff: CRUD, and what the Staff role may do with people.
    let r = post(&app, &alpha, admin, STAFF, &json!({"email": "desk@alpha.test", "first_name": "D",
        "last_name": "Desk", "password": PASSWORD, "employee_no": "S-1", "employment_type": "contract"})).await;
    r.assert_status(201);
    let sid = r.json["data"]["id"].as_i64().unwrap();
    let r = post(
        &app,
        &alpha,
        admin,
        STAFF,
        &json!({"email": "x@alpha.test", "first_name": "D",
        "last_name": "Desk", "employment_type": "gig"}),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["employee_no"].is_array());
    assert!(r.json["error"]["details"]["employment_type"].is_array());
    let desk = app.login("alpha", "desk@alpha.test", PASSWORD).await;
    let r = get(&app, &alpha, &desk.access, STAFF).await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 1);
    let r = post(
        &app,
        &alpha,
        &desk.access,
        STUDENTS,
        &student_body("k@alpha.test", "E-1"),
    )
    .await;
    r.assert_status(201);
    let kid = r.json["data"]["id"].as_i64().unwrap();
    let r = app
        .at(&alpha, "DELETE", &format!("{STUDENTS}{kid}/"))
        .bearer(&desk.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app
        .at(&alpha, "DELETE", &format!("{STAFF}{sid}/"))
        .bearer(&desk.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app
        .at(&alpha, "PUT", &format!("{STAFF}{sid}/"))
        .bearer(admin)
        .json(&json!({"employee_no": "S-1", "department": "Front", "last_name": "Counter"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["department"], "Front");
    assert_eq!(r.json["data"]["full_name"], "D Counter");
    let r = app
        .at(&alpha, "DELETE", &format!("{STAFF}{sid}/"))
        .bearer(admin)
        .send()
        .await;
    r.assert_status(204);
    let r = get(&app, &alpha, &desk.access, STAFF).await;
    assert_eq!(r.status.as_u16(), 401);
    for action in ["CREATE", "UPDATE", "DELETE"] {
        assert_eq!(
            audit_total(&app, &alpha, "Staff", action).await,
            1,
            "{action}"
        );
    }
});

db_test!(import_is_all_or_nothing_and_export_is_csv, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let admin = &alpha.admin.access;
    let import = format!("{STUDENTS}import/");
    let bad = "email,first_name,last_name,enrollment_no,class_name,section,gender,roll_number,date_of_birth\n\
               ann@alpha.test,Ann,One,E-1,10,A,female,1,2012-01-01\n\
               bob@alpha.test,Bob,Two,E-2,10,A,robot,two,someday\n\
               ann@alpha.test,Ann,Again,E-1,10,B,female,,\n";
    let r = app
        .at(&alpha, "POST", &import)
        .bearer(admin)
        .raw("text/csv", bad.to_owned())
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let rows = r.json["error"]["details"]["rows"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 2, "{}", r.json);
    assert_eq!(rows[0]["row"], 2);
    assert!(rows[0]["errors"].is_object());
    assert_eq!(rows[1]["row"], 3);
    assert!(rows[1]["errors"]["email"].is_array(), "{}", r.json);
    assert!(rows[1]["errors"]["enrollment_no"].is_array(), "{}", r.json);
    let r = get(&app, &alpha, admin, STUDENTS).await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 0, "nothing written");
    let r = get(&app, &alpha, admin, "/api/v1/users/?search=ann@alpha.test").await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 0);
    // Missing columns, wrong media type.
    let r = app
        .at(&alpha, "POST", &import)
        .bearer(admin)
        .raw("text/csv", "email,first_name\na@b.test,A\n")
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["file"].is_array());
    let r = app
        .at(&alpha, "POST", &import)
        .bearer(admin)
        .raw("application/xml", "<x/>")
        .send()
        .await;
    assert_error(&r, 415, "ERR_REQUEST_03");
    // A good file, as multipart.
    let good = "Email,First_Name,Last_Name,Enrollment_No,Class_Name,Section,Gender,Roll_Number,Parent_Name\n\
                ann@alpha.test,Ann,One,E-1,10,A,female,1,=cmd()\n\
                bob@alpha.test,Bob,Two,E-2,10,B,male,2,Bea Two\n";
    let form =
        kernel::testing::Multipart::new().file("file", "students.csv", "text/csv", good.as_bytes());
    let r = app
        .at(&alpha, "POST", &import)
        .bearer(admin)
        .multipart(form)
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["data"]["created"], 2);
    let r = get(&app, &alpha, admin, STUDENTS).await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 2);
    assert_eq!(audit_total(&app, &alpha, "Student", "CREATE").await, 2);
    // Rows are checked against the school's existing users too.
    let r = app.at(&alpha, "POST", &import).bearer(admin)
        .raw("text/csv", "email,first_name,last_name,enrollment_no,class_name,section,gender\nann@alpha.test,A,B,E-9,10,A,female\n").send().await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["rows"][0]["errors"]["email"].is_array());
    // Export: CSV attachment of the reach, audited.
    let r = get(&app, &alpha, admin, &format!("{STUDENTS}export/")).await;
    r.assert_status(200);
    assert!(r.header("content-type").unwrap().starts_with("text/csv"));
    assert!(
        r.header("content-disposition")
            .unwrap()
            .starts_with("attachment")
    );
    let text = String::from_utf8(r.body.clone()).unwrap();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("id,enrollment_no,email,first_name,last_name")
    );
    assert_eq!(text.lines().count(), 3);
    assert!(text.contains("ann@alpha.test") && text.contains("bob@alpha.test"));
    assert!(text.contains("'=cmd()"), "formulas are defused: {text}");
    let r = get(&app, &alpha, admin, &format!("{STUDENTS}export/?section=B")).await;
    assert_eq!(
        String::from_utf8(r.body.clone()).unwrap().lines().count(),
        2
    );
    assert_eq!(audit_total(&app, &alpha, "Student", "EXPORT").await, 2);
    // Statistics and class lists.
    let r = get(&app, &alpha, admin, &format!("{STUDENTS}statistics/")).await;
    assert_eq!(r.json["data"]["total"], 2);
    assert_eq!(r.json["data"]["by_status"], json!({"active": 2}));
    assert_eq!(r.json["data"]["by_gender"], json!({"female": 1, "male": 1}));
    assert_eq!(
        r.json["data"]["by_class"],
        json!([{"class_name": "10", "section": "A", "count": 1},
        {"class_name": "10", "section": "B", "count": 1}])
    );
    // A role without students:write cannot import.
    let teacher = {
        seed::teacher(&app, &alpha, "t@alpha.test", &[("10", "A")]).await;
        app.login("alpha", "t@alpha.test", PASSWORD).await
    };
    let r = app
        .at(&alpha, "POST", &import)
        .bearer(&teacher.access)
        .raw("text/csv", good.to_owned())
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
});

db_test!(plan_limits_hold_for_people, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let admin = &alpha.admin.access;
    app.patch(&format!("/api/v1/tenants/{}/", alpha.id))
        .bearer(&root.access)
        .json(&json!({"max_users": 2}))
        .send()
        .await
        .assert_status(200);
    post(
        &app,
        &alpha,
        admin,
        STUDENTS,
        &student_body("one@alpha.test", "E-1"),
    )
    .await
    .assert_status(201);
    let r = post(
        &app,
        &alpha,
        admin,
        STUDENTS,
        &student_body("two@alpha.test", "E-2"),
    )
    .await;
    assert_error(&r, 403, "ERR_TENANT_03");
    let r = post(
        &app,
        &alpha,
        admin,
        PARENTS,
        &json!({"email": "p@alpha.test", "first_name": "P", "last_name": "P"}),
    )
    .await;
    assert_error(&r, 403, "ERR_TENANT_03");
    let r = post(&app, &alpha, admin, TEACHERS, &json!({"email": "t@alpha.test", "first_name": "T", "last_name": "T", "employee_no": "T-1"})).await;
    assert_error(&r, 403, "ERR_TENANT_03");
    let r = post(&app, &alpha, admin, STAFF, &json!({"email": "s@alpha.test", "first_name": "S", "last_name": "S", "employee_no": "S-1"})).await;
    assert_error(&r, 403, "ERR_TENANT_03");
    // An import past the limit writes nothing.
    let csv = "email,first_name,last_name,enrollment_no,class_name,section,gender\na@alpha.test,A,A,E-8,1,A,male\n";
    let r = app
        .at(&alpha, "POST", &format!("{STUDENTS}import/"))
        .bearer(admin)
        .raw("text/csv", csv)
        .send()
        .await;
    assert_error(&r, 403, "ERR_TENANT_03");
    let r = get(&app, &alpha, admin, STUDENTS).await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 1);
    let r = get(&app, &alpha, admin, "/api/v1/users/").await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 2);
});

db_test!(odd_input_is_refused_not_crashed, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let admin = &alpha.admin.access;
    let mut body = student_body("nul@alpha.test", "E-1");
    body["metadata"] = json!({"note": "a\u{0}b"});
    body["date_of_birth"] = json!("0000-01-01");
    body["city"] = json!("x\u{0}y");
    let r = post(&app, &alpha, admin, STUDENTS, &body).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    for field in ["metadata", "date_of_birth", "city"] {
        assert!(
            r.json["error"]["details"][field].is_array(),
            "{field}: {}",
            r.json
        );
    }
    let r = post(
        &app,
        &alpha,
        admin,
        TEACHERS,
        &json!({"email": "t@alpha.test", "first_name": "T",
        "last_name": "T", "employee_no": "T-1", "subjects": ["a\u{0}"]}),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = get(
        &app,
        &alpha,
        admin,
        &format!("{TEACHERS}by_subject/?subject=%25_%22"),
    )
    .await;
    r.assert_status(200);
    let r = app
        .at(&alpha, "POST", &format!("{STUDENTS}import/"))
        .bearer(admin)
        .raw("text/csv", vec![0xff_u8, 0xfe, 0x00])
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let form = kernel::testing::Multipart::new().text("other", "x");
    let r = app
        .at(&alpha, "POST", &format!("{STUDENTS}import/"))
        .bearer(admin)
        .multipart(form)
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = app
        .at(&alpha, "POST", &format!("{STUDENTS}import/"))
        .bearer(admin)
        .raw(
            "text/csv",
            "email,first_name,last_name,enrollment_no,class_name,section,gender\n",
        )
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    // JSON bodies carry the file's text under `csv`.
    let import = format!("{STUDENTS}import/");
    let r = app
        .at(&alpha, "POST", &import)
        .bearer(admin)
        .raw("application/json", "{\"csv\": ")
        .send()
        .await;
    assert_error(&r, 400, "ERR_REQUEST_01");
    let r = post(&app, &alpha, admin, &import, &json!({"file": "x"})).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["csv"].is_array());
    let csv = "email,first_name,last_name,enrollment_no,class_name,section,gender\nj@alpha.test,J,Son,E-7,1,A,male\n";
    let r = post(&app, &alpha, admin, &import, &json!({"csv": csv})).await;
    r.assert_status(201);
    assert_eq!(r.json["data"]["created"], 1);
    // The routes are in the OpenAPI document.
    let r = app.get("/api/schema/").send().await;
    r.assert_status(200);
    for path in [
        "/api/v1/erp/students/",
        "/api/v1/erp/students/{id}/add_parent/",
        "/api/v1/erp/students/import/",
        "/api/v1/erp/students/export/",
        "/api/v1/erp/parents/{id}/children/",
        "/api/v1/erp/teachers/{id}/assign_class/",
        "/api/v1/erp/teachers/by_subject/",
        "/api/v1/erp/teachers/statistics/",
        "/api/v1/erp/staff/{id}/",
    ] {
        assert!(r.json["paths"][path].is_object(), "{path}");
    }
});
