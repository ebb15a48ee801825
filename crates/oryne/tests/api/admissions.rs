//! Admissions (contract §3 "Operations"): applications, their lifecycle to
//! enrolment (user + student in one transaction), notifications to the
//! guardian, the public form, permissions, bad input and audit rows.

use crate::common::*;

const BASE: &str = "/api/v1/erp/admissions/";

fn path(rest: &str) -> String {
    format!("{BASE}{rest}")
}

fn application(first: &str, guardian: &str) -> Value {
    json!({
        "first_name": first, "last_name": "Applicant", "date_of_birth": "2015-04-01",
        "gender": "female", "class_applied": "5", "guardian_name": "Gwen Guardian",
        "guardian_email": guardian, "guardian_phone": "555-0100",
        "previous_school": "Elm Primary", "documents": ["birth-certificate.pdf", 42],
    })
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

db_test!(an_application_goes_from_submitted_to_enrolled, |app| {
    let gns = FakeGns::start().await;
    let app = app
        .node(&[("CAMPUS_GNS_URL", &gns.url), ("CAMPUS_GNS_API_KEY", "k")])
        .await;
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let admin = alpha.admin.clone();
    let office = app.member(&alpha, "office@alpha.test", &["Staff"]).await;
    let teacher = app.member(&alpha, "teach@alpha.test", &["Teacher"]).await;

    // 401 without a token, 403 without the permission.
    let r = app.at(&alpha, "GET", BASE).send().await;
    assert_error(&r, 401, "ERR_AUTH_02");
    let r = app
        .at(&alpha, "POST", BASE)
        .json(&application("Ann", "g@x.test"))
        .send()
        .await;
    assert_error(&r, 401, "ERR_AUTH_02");
    for (method, rest) in [("GET", ""), ("POST", ""), ("GET", "statistics/")] {
        let r = call(
            &app,
            &alpha,
            &teacher,
            method,
            rest,
            Some(application("Ann", "g@x.test")),
        )
        .await;
        assert_error(&r, 403, "ERR_PERM_01");
    }

    // Created by the office: a number of this year, status submitted.
    let year = kernel::time::now().format("%Y").to_string();
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        "",
        Some(application("Ann", "Gwen@Family.test")),
    )
    .await;
    r.assert_status(201);
    let a = r.json["data"].clone();
    assert_eq!(a["application_no"], format!("ADM-{year}-00001"), "{a}");
    assert_eq!(a["status"], "submitted");
    assert_eq!(a["guardian_email"], "gwen@family.test");
    assert_eq!(a["documents"], json!(["birth-certificate.pdf", "42"]));
    assert_eq!(a["full_name"], "Ann Applicant");
    let id = a["id"].as_i64().unwrap();
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        "",
        Some(application("Bob", "bob.parent@family.test")),
    )
    .await;
    r.assert_status(201);
    assert_eq!(
        r.json["data"]["application_no"],
        format!("ADM-{year}-00002")
    );
    let bob = r.json["data"]["id"].as_i64().unwrap();

    // Lists, filters and search.
    let r = call(&app, &alpha, &office, "GET", "?status=submitted", None).await;
    r.assert_status(200);
    assert_eq!(r.json["meta"]["pagination"]["total"], 2);
    let r = call(&app, &alpha, &office, "GET", "?search=bob.parent", None).await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.json["data"][0]["first_name"], "Bob");
    let r = call(
        &app,
        &alpha,
        &office,
        "GET",
        &format!("?search=ADM-{year}-00001"),
        None,
    )
    .await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);
    let r = call(&app, &alpha, &office, "GET", "?class_applied=6", None).await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 0);
    let r = call(&app, &alpha, &office, "GET", "?status=nope", None).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["status"].is_array());
    let r = call(&app, &alpha, &office, "GET", "?academic_year=abc", None).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = call(&app, &alpha, &office, "GET", &format!("{id}/"), None).await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["first_name"], "Ann");

    // Applicant fields may change while submitted.
    let r = call(
        &app,
        &alpha,
        &office,
        "PATCH",
        &format!("{id}/"),
        Some(json!({"previous_school": "Oak Primary", "status": "approved"})),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["previous_school"], "Oak Primary");
    assert_eq!(
        r.json["data"]["status"], "submitted",
        "status is not writable"
    );

    // Under review: no more edits or deletion.
    let r = call(
        &app,
        &alpha,
        &teacher,
        "POST",
        &format!("{id}/review/"),
        None,
    )
    .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        &format!("{id}/review/"),
        Some(json!({"remarks": "Interview on Monday"})),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["status"], "under_review");
    assert_eq!(r.json["data"]["reviewed_by"], office.id);
    assert!(r.json["data"]["reviewed_at"].is_string());
    let r = call(
        &app,
        &alpha,
        &office,
        "PATCH",
        &format!("{id}/"),
        Some(json!({"first_name": "Anne"})),
    )
    .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
    let r = call(&app, &alpha, &admin, "DELETE", &format!("{id}/"), None).await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        &format!("{id}/review/"),
        None,
    )
    .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");

    // Enrolment needs an approved application.
    let enroll = json!({"email": "ann@alpha.test", "enrollment_no": "ENR-2001", "section": "B", "password": "Bright-Meadow-77!"});
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        &format!("{id}/enroll/"),
        Some(enroll.clone()),
    )
    .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        &format!("{id}/reject/"),
        Some(json!({"reason": "  "})),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["reason"].is_array());
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        &format!("{id}/approve/"),
        Some(json!({"remarks": "Welcome"})),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["status"], "approved");
    assert_eq!(r.json["data"]["remarks"], "Welcome");
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        &format!("{id}/reject/"),
        Some(json!({"reason": "Too late"})),
    )
    .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");

    // Bad enrolment input is a 400, never a 500, and changes nothing.
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        &format!("{id}/enroll/"),
        Some(json!({"email": "not-an-email"})),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["email"].is_array());
    assert!(r.json["error"]["details"]["enrollment_no"].is_array());
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        &format!("{id}/enroll/"),
        Some(json!({"email": "office@alpha.test", "enrollment_no": "ENR-2001"})),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["email"].is_array());
    let r = call(
        &app,
        &alpha,
        &teacher,
        "POST",
        &format!("{id}/enroll/"),
        Some(enroll.clone()),
    )
    .await;
    assert_error(&r, 403, "ERR_PERM_01");

    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        &format!("{id}/enroll/"),
        Some(enroll.clone()),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["status"], "enrolled");
    let student_id = r.json["data"]["student"].as_i64().unwrap();
    {
        use oryne::entities::{student, user};
        use sea_orm::EntityTrait;
        let db = seed::db(&app, &alpha).await;
        let s = student::Entity::find_by_id(student_id)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.enrollment_no, "ENR-2001");
        assert_eq!(s.class_name, "5");
        assert_eq!(s.section, "B");
        assert_eq!(s.gender, "female");
        assert_eq!(s.parent_email, "gwen@family.test");
        let u = user::Entity::find_by_id(s.user_id)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u.email, "ann@alpha.test");
        assert_eq!(u.role_names(), vec!["Student".to_owned()]);
        assert_eq!(u.first_name, "Ann");
    }
    // The new student signs in and sees their own student row.
    let ann = app
        .login("alpha", "ann@alpha.test", "Bright-Meadow-77!")
        .await;
    let r = app
        .at(&alpha, "GET", "/api/v1/auth/profile/")
        .bearer(&ann.access)
        .send()
        .await;
    r.assert_status(200);
    // And may not read admissions.
    let r = call(&app, &alpha, &ann, "GET", "", None).await;
    assert_error(&r, 403, "ERR_PERM_01");

    // Enrolled is final.
    for action in ["approve/", "withdraw/", "enroll/", "review/"] {
        let r = call(
            &app,
            &alpha,
            &office,
            "POST",
            &format!("{id}/{action}"),
            Some(json!({"email": "x@alpha.test", "enrollment_no": "X-1", "reason": "r"})),
        )
        .await;
        assert_error(&r, 409, "ERR_CONFLICT_01");
    }
    // Bob is rejected with a reason, then cannot be withdrawn.
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        &format!("{bob}/reject/"),
        Some(json!({"reason": "No seats left"})),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["status"], "rejected");
    assert_eq!(r.json["data"]["remarks"], "No seats left");
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        &format!("{bob}/withdraw/"),
        None,
    )
    .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");

    // Statistics.
    let r = call(&app, &alpha, &office, "GET", "statistics/", None).await;
    r.assert_status(200);
    let d = &r.json["data"];
    assert_eq!(d["total"], 2);
    assert_eq!(d["by_status"]["enrolled"], 1);
    assert_eq!(d["by_status"]["rejected"], 1);
    assert_eq!(d["by_status"]["submitted"], 0);
    assert_eq!(d["by_class"], json!([{"class_applied": "5", "count": 2}]));

    // Each status change reached the guardian through the GNS.
    app.run_jobs().await;
    let sent = gns.events("admission_status");
    let to_gwen: Vec<&Value> = sent
        .iter()
        .filter(|b| b["recipient"]["email"] == "gwen@family.test")
        .collect();
    let statuses: Vec<&str> = to_gwen
        .iter()
        .map(|b| b["data"]["status"].as_str().unwrap())
        .collect();
    for s in ["submitted", "under_review", "approved", "enrolled"] {
        assert!(statuses.contains(&s), "{s} in {statuses:?}");
    }
    let last = to_gwen
        .iter()
        .find(|b| b["data"]["status"] == "enrolled")
        .unwrap();
    assert_eq!(last["data"]["applicant_name"], "Ann Applicant");
    assert_eq!(last["data"]["application_no"], format!("ADM-{year}-00001"));
    assert!(
        sent.iter()
            .any(|b| b["recipient"]["email"] == "bob.parent@family.test"
                && b["data"]["status"] == "rejected")
    );

    // Audit rows for every write.
    assert!(audit_total(&app, &alpha, "Admission").await >= 7);
    assert!(audit_total(&app, &alpha, "Student").await >= 1);
});

db_test!(admissions_refuse_bad_input_and_illegal_moves, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let beta = app.school(&root, "beta").await;
    let admin = alpha.admin.clone();
    let office = app.member(&alpha, "office@alpha.test", &["Staff"]).await;

    // Missing and malformed fields: 400 with details, never 500.
    let r = call(&app, &alpha, &admin, "POST", "", Some(json!({}))).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    for field in [
        "first_name",
        "last_name",
        "gender",
        "class_applied",
        "guardian_email",
    ] {
        assert!(
            r.json["error"]["details"][field].is_array(),
            "{field}: {}",
            r.json
        );
    }
    let mut bad = application("Cy", "cy@family.test");
    bad["date_of_birth"] = json!("2999-01-01");
    bad["gender"] = json!("robot");
    bad["guardian_email"] = json!("nope");
    bad["academic_year"] = json!(999);
    bad["documents"] = json!([{"id": 1}]);
    let r = call(&app, &alpha, &admin, "POST", "", Some(bad)).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    for field in ["date_of_birth", "gender", "guardian_email", "documents"] {
        assert!(
            r.json["error"]["details"][field].is_array(),
            "{field}: {}",
            r.json
        );
    }
    let mut bad = application("Cy", "cy@family.test");
    bad["academic_year"] = json!(999);
    let r = call(&app, &alpha, &admin, "POST", "", Some(bad)).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["academic_year"].is_array());
    let mut bad = application("Cy", "cy@family.test");
    bad["date_of_birth"] = json!("01/02/2015");
    let r = call(&app, &alpha, &admin, "POST", "", Some(bad)).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = call(
        &app,
        &alpha,
        &admin,
        "POST",
        "",
        Some(json!({"first_name": 5, "documents": "x"})),
    )
    .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.json);
    let r = call(&app, &alpha, &admin, "GET", "abc/", None).await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = call(&app, &alpha, &admin, "GET", "9999/", None).await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");

    // Withdrawal from an open state; withdrawn is final.
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        "",
        Some(application("Dee", "dee@family.test")),
    )
    .await;
    r.assert_status(201);
    let dee = r.json["data"]["id"].as_i64().unwrap();
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        &format!("{dee}/withdraw/"),
        Some(json!({"reason": "Moved away"})),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["status"], "withdrawn");
    for action in ["review/", "approve/", "withdraw/"] {
        let r = call(
            &app,
            &alpha,
            &office,
            "POST",
            &format!("{dee}/{action}"),
            None,
        )
        .await;
        assert_error(&r, 409, "ERR_CONFLICT_01");
    }
    let r = call(
        &app,
        &alpha,
        &office,
        "PATCH",
        &format!("{dee}/"),
        Some(json!({"first_name": "D"})),
    )
    .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");

    // PATCH validates too.
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        "",
        Some(application("Eve", "eve@family.test")),
    )
    .await;
    let eve = r.json["data"]["id"].as_i64().unwrap();
    let r = call(
        &app,
        &alpha,
        &office,
        "PATCH",
        &format!("{eve}/"),
        Some(json!({"first_name": "", "guardian_email": "bad"})),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["first_name"].is_array());
    assert!(r.json["error"]["details"]["guardian_email"].is_array());

    // Delete: only with admissions:delete, only while submitted.
    let r = call(&app, &alpha, &office, "DELETE", &format!("{eve}/"), None).await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = call(&app, &alpha, &admin, "DELETE", &format!("{eve}/"), None).await;
    r.assert_status(204);
    let r = call(&app, &alpha, &admin, "GET", &format!("{eve}/"), None).await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = call(&app, &alpha, &admin, "DELETE", &format!("{dee}/"), None).await;
    assert_error(&r, 409, "ERR_CONFLICT_01");

    // Enrolment: a taken enrollment number and a full plan are refused,
    // and nothing is half-created.
    seed::student(&app, &alpha, "old@alpha.test", "5", "A").await;
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        "",
        Some(application("Fay", "fay@family.test")),
    )
    .await;
    let fay = r.json["data"]["id"].as_i64().unwrap();
    call(
        &app,
        &alpha,
        &office,
        "POST",
        &format!("{fay}/approve/"),
        None,
    )
    .await
    .assert_status(200);
    let old_enr = {
        use oryne::entities::student;
        use sea_orm::EntityTrait;
        let db = seed::db(&app, &alpha).await;
        student::Entity::find().all(&db).await.unwrap()[0]
            .enrollment_no
            .clone()
    };
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        &format!("{fay}/enroll/"),
        Some(json!({"email": "fay@alpha.test", "enrollment_no": old_enr})),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["enrollment_no"].is_array());
    let r = app
        .patch(&format!("/api/v1/tenants/{}/", alpha.id))
        .bearer(&root.access)
        .json(&json!({"max_users": 1}))
        .send()
        .await;
    r.assert_status(200);
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        &format!("{fay}/enroll/"),
        Some(json!({"email": "fay@alpha.test", "enrollment_no": "ENR-9"})),
    )
    .await;
    assert_error(&r, 403, "ERR_TENANT_03");
    let r = call(&app, &alpha, &office, "GET", &format!("{fay}/"), None).await;
    assert_eq!(r.json["data"]["status"], "approved");
    let r = app
        .at(&alpha, "GET", "/api/v1/users/?search=fay@alpha.test")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(
        r.json["meta"]["pagination"]["total"], 0,
        "no user was left behind"
    );
    let r = app
        .patch(&format!("/api/v1/tenants/{}/", alpha.id))
        .bearer(&root.access)
        .json(&json!({"max_users": 100}))
        .send()
        .await;
    r.assert_status(200);
    // Once classes are defined, the class and section must exist.
    {
        use oryne::entities::{school_class, section};
        use sea_orm::{ActiveModelTrait, ActiveValue::Set};
        let db = seed::db(&app, &alpha).await;
        let now = kernel::time::now();
        let class = school_class::ActiveModel {
            name: Set("5".into()),
            numeric_value: Set(Some(5)),
            board: Set(String::new()),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        section::ActiveModel {
            school_class_id: Set(class.id),
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
    }
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        &format!("{fay}/enroll/"),
        Some(json!({"email": "fay@alpha.test", "enrollment_no": "ENR-9", "section": "Z"})),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(
        r.json["error"]["details"]["section"].is_array(),
        "{}",
        r.json
    );
    // Without a password the student is invited.
    let r = call(
        &app,
        &alpha,
        &office,
        "POST",
        &format!("{fay}/enroll/"),
        Some(json!({"email": "fay@alpha.test", "enrollment_no": "ENR-9", "section": "A"})),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["status"], "enrolled");

    // Another school sees none of this.
    let r = call(&app, &beta, &beta.admin, "GET", "", None).await;
    r.assert_status(200);
    assert_eq!(r.json["meta"]["pagination"]["total"], 0);
    let r = call(&app, &beta, &beta.admin, "GET", &format!("{fay}/"), None).await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let r = call(&app, &beta, &alpha.admin, "GET", "", None).await;
    assert_error(&r, 401, "ERR_TENANT_02");
    // Numbers are per school.
    let r = call(
        &app,
        &beta,
        &beta.admin,
        "POST",
        "",
        Some(application("Gil", "gil@family.test")),
    )
    .await;
    r.assert_status(201);
    assert!(
        r.json["data"]["application_no"]
            .as_str()
            .unwrap()
            .ends_with("-00001")
    );
});

db_test!(public_applications_need_the_school_setting, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let r = app
        .at(&alpha, "POST", &path("apply/"))
        .json(&application("Hal", "hal@family.test"))
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app
        .at(&alpha, "PATCH", "/api/v1/tenant/")
        .bearer(&alpha.admin.access)
        .json(&json!({"settings": {"public_admissions": true}}))
        .send()
        .await;
    r.assert_status(200);
    let r = app
        .at(&alpha, "POST", &path("apply/"))
        .json(&json!({"first_name": "Hal"}))
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = app
        .at(&alpha, "POST", &path("apply/"))
        .json(&application("Hal", "hal@family.test"))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["data"]["status"], "submitted");
    let id = r.json["data"]["id"].as_i64().unwrap();
    let r = call(&app, &alpha, &alpha.admin, "GET", &format!("{id}/"), None).await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["first_name"], "Hal");
    assert!(audit_total(&app, &alpha, "Admission").await >= 1);

    // Concurrent applications still get distinct numbers.
    let send = |n: &str| {
        app.at(&alpha, "POST", &path("apply/"))
            .json(&application(
                n,
                &format!("{}@family.test", n.to_lowercase()),
            ))
            .send()
    };
    let (a, b, c, d) = tokio::join!(send("Ida"), send("Jon"), send("Kim"), send("Lou"));
    let mut numbers = Vec::new();
    for r in [a, b, c, d] {
        r.assert_status(201);
        numbers.push(
            r.json["data"]["application_no"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 4, "{numbers:?}");
});
