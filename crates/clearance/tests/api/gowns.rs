//! `/api/gown-issuances/`: issuing gowns, returns, deposit refunds, overdue
//! reminders and statistics.

use chrono::{DateTime, Datelike, Duration, Utc};
use clearance::entities::gown;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::common::*;

const BASE: &str = "/api/gown-issuances/";

fn code(year: i32, n: u32) -> String {
    format!("GWN-{year}-{n:05}")
}

fn this_year() -> i32 {
    Utc::now().year()
}

fn at(path: &str, id: &str) -> String {
    format!("{BASE}{id}/{path}")
}

/// A student account with its record and a name of our choosing.
async fn named_student(app: &TestApp, admin: &Actor, name: &str, reg: &str) -> (Actor, String) {
    let email = format!(
        "student-{}@students.mksu.ac.ke",
        &Uuid::new_v4().simple().to_string()[..8]
    );
    let r = app
        .post("/api/students/")
        .bearer(&admin.access)
        .json(&json!({
            "email": email, "full_name": name, "password": PASSWORD,
            "registration_number": reg, "faculty": "Engineering",
            "program": "BSc Computer Science", "graduation_year": 2026
        }))
        .send()
        .await;
    r.assert_status(201);
    let id = r.json["id"].as_str().unwrap().to_owned();
    (app.sign_in(&email, PASSWORD).await, id)
}

/// Issues a gown to `student` with `extra` fields; returns the response body.
async fn issue(app: &TestApp, admin: &Actor, student: &str, extra: Value) -> Value {
    let mut body = json!({"student": student, "gown_size": "M"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = app
        .post(BASE)
        .bearer(&admin.access)
        .json(&body)
        .send()
        .await;
    r.assert_status(201);
    r.json.clone()
}

async fn gown_count(app: &TestApp) -> u64 {
    gown::Entity::find().count(&app.state.db).await.unwrap()
}

/// Moves a gown's issue and due dates `days` into the past, as if time had passed.
async fn age(app: &TestApp, id: &str, days: i64) {
    let id = Uuid::parse_str(id).unwrap();
    let row = gown::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let shift = Duration::days(days);
    gown::Entity::update_many()
        .col_expr(gown::Column::IssueDate, Expr::val(row.issue_date - shift))
        .col_expr(
            gown::Column::ReturnDate,
            Expr::val(row.return_date.map(|d| d - shift)),
        )
        .filter(gown::Column::Id.eq(id))
        .exec(&app.state.db)
        .await
        .unwrap();
}

fn in_days(days: i64) -> String {
    (Utc::now() + Duration::days(days)).to_rfc3339()
}

fn parse_time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a datetime"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

db_test!(issuing_generates_a_code_notifies_and_audits, |app| {
    let admin = app.admin().await;
    let (student, student_id) =
        named_student(&app, &admin, "Grace Wanjiru", "SCE/CS/0001/2022").await;
    let due = Utc::now() + Duration::days(14);

    let before = Utc::now();
    let r = app
        .post(BASE)
        .bearer(&admin.access)
        .json(&json!({"student": student_id, "gown_size": "XL", "return_date": due.to_rfc3339(), "notes": "  tall  "}))
        .send()
        .await;
    r.assert_status(201);
    let g = &r.json;
    assert_eq!(g["student"], student_id.as_str());
    assert_eq!(g["student_name"], "Grace Wanjiru");
    assert_eq!(g["registration_number"], "SCE/CS/0001/2022");
    assert_eq!(g["gown_size"], "XL");
    assert_eq!(g["gown_code"], code(this_year(), 1));
    assert_eq!(g["deposit_amount"], "1000.00");
    assert_eq!(g["deposit_paid"], false);
    assert_eq!(g["deposit_status"], "pending");
    assert_eq!(g["deposit_refund_date"], Value::Null);
    assert_eq!(g["is_returned"], false);
    assert_eq!(g["returned_date"], Value::Null);
    assert_eq!(g["is_overdue"], false);
    assert_eq!(g["days_overdue"], 0);
    assert_eq!(g["notes"], "tall");
    assert_eq!(
        parse_time(&g["return_date"]).timestamp(),
        due.timestamp(),
        "the due date is kept"
    );
    let issued_at = parse_time(&g["issue_date"]);
    assert!(issued_at >= before - Duration::seconds(1) && issued_at <= Utc::now());
    for key in ["id", "created_at", "updated_at"] {
        assert!(g[key].is_string(), "{key}");
    }
    let id = g["id"].as_str().unwrap().to_owned();

    // `student: null` is refused, not read as "use `student_id`".
    let (_, other_id) = app.student(&admin, "SCE/CS/0002/2022").await;
    let r = app
        .post(BASE)
        .bearer(&admin.access)
        .json(&json!({"student": null, "student_id": other_id, "gown_size": "M"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json, json!({"student": ["This field may not be null."]}));
    let r = app.get(&at("", &id)).bearer(&admin.access).send().await;
    r.assert_status(200);
    assert_eq!(r.json["gown_code"], code(this_year(), 1));

    assert_eq!(
        app.notification_titles(&student).await,
        vec!["Gown Issued".to_owned()]
    );
    let notes = clearance::entities::notification::Entity::find()
        .filter(clearance::entities::notification::Column::UserId.eq(student.id))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(notes[0].notification_type, "gown");
    assert_eq!(notes[0].related_object_type.as_deref(), Some("gown"));
    assert!(notes[0].message.contains(&code(this_year(), 1)));
    let audit = app.audit_rows("create", &id).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].content_type, "GownIssuance");
    assert_eq!(audit[0].user_id, Some(admin.id));
    let changes = audit[0].changes.clone().unwrap();
    assert_eq!(changes["gown_size"], json!([null, "XL"]));
    assert_eq!(changes["gown_code"], json!([null, code(this_year(), 1)]));
});

db_test!(student_id_alias_and_date_only_due_dates, |app| {
    let admin = app.admin().await;
    app.student(&admin, "SCE/CS/0001/2022").await;
    let (_, other_id) = app.student(&admin, "SCE/CS/0002/2022").await;
    let day = (Utc::now() + Duration::days(30)).date_naive();
    let r = app
        .post(BASE)
        .bearer(&admin.access)
        .json(&json!({"student_id": other_id, "gown_size": "S", "deposit_amount": 1500.5, "deposit_paid": true, "expected_return_date": day.to_string()}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["student"], other_id.as_str());
    assert_eq!(r.json["gown_code"], code(this_year(), 1));
    assert_eq!(r.json["deposit_amount"], "1500.50");
    assert_eq!(r.json["deposit_paid"], true);
    assert_eq!(
        parse_time(&r.json["return_date"]),
        day.and_hms_opt(23, 59, 59).unwrap().and_utc(),
        "a bare date is due by the end of that day"
    );
});

db_test!(codes_count_up_within_the_year_and_survive_races, |app| {
    let admin = app.admin().await;
    let mut students = Vec::new();
    for i in 1..=6 {
        let (_, id) = app.student(&admin, &format!("SCE/CS/{i:04}/2022")).await;
        students.push(id);
    }
    let first = issue(&app, &admin, &students[0], json!({})).await;
    assert_eq!(first["gown_code"], code(this_year(), 1));

    // Five administrators' requests at once: every one gets its own next code.
    let mut tasks = Vec::new();
    for student in &students[1..] {
        let client = app.client.clone();
        let token = admin.access.clone();
        let student = student.clone();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(BASE)
                .bearer(&token)
                .json(&json!({"student": student, "gown_size": "L"}))
                .send()
                .await;
            r.assert_status(201);
            r.json["gown_code"].as_str().unwrap().to_owned()
        }));
    }
    let mut codes = vec![first["gown_code"].as_str().unwrap().to_owned()];
    for task in tasks {
        codes.push(task.await.unwrap());
    }
    codes.sort();
    let expected: Vec<String> = (1..=6).map(|n| code(this_year(), n)).collect();
    assert_eq!(codes, expected);

    // After a deletion the sequence continues from the highest code left.
    let r = app
        .get(&format!("{BASE}?ordering=gown_code"))
        .bearer(&admin.access)
        .send()
        .await;
    let second_id = r.json["results"][1]["id"].as_str().unwrap().to_owned();
    app.delete(&at("", &second_id))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    let r = app
        .post(BASE)
        .bearer(&admin.access)
        .json(&json!({"student": r.json["results"][1]["student"], "gown_size": "L"}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["gown_code"], code(this_year(), 7));
});

db_test!(a_student_holds_one_unreturned_gown_at_a_time, |app| {
    let admin = app.admin().await;
    let (_, student_id) = app.student(&admin, "SCE/CS/0001/2022").await;
    let first = issue(&app, &admin, &student_id, json!({})).await;
    let r = app
        .post(BASE)
        .bearer(&admin.access)
        .json(&json!({"student": student_id, "gown_size": "S"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"student": ["This student already has a gown that has not been returned."]})
    );
    assert_eq!(gown_count(&app).await, 1);

    app.post(&at("mark-returned/", first["id"].as_str().unwrap()))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);
    let again = issue(&app, &admin, &student_id, json!({"gown_size": "S"})).await;
    assert_eq!(again["gown_code"], code(this_year(), 2));
    assert_eq!(gown_count(&app).await, 2);
});

db_test!(bad_input_is_a_field_error_and_changes_nothing, |app| {
    let admin = app.admin().await;
    let (_, student_id) = app.student(&admin, "SCE/CS/0001/2022").await;
    let unknown = Uuid::new_v4();
    let cases: Vec<(Value, Value)> = vec![
        (
            json!({}),
            json!({"student": ["This field is required."], "gown_size": ["This field is required."]}),
        ),
        (
            json!({"student": unknown, "gown_size": "XS"}),
            json!({"gown_size": ["\"XS\" is not a valid choice."], "student": [format!("Invalid pk \"{unknown}\" - object does not exist.")]}),
        ),
        (
            json!({"student": "not-a-uuid", "gown_size": "M"}),
            json!({"student": ["Must be a valid UUID."]}),
        ),
        (
            json!({"student": student_id, "gown_size": null}),
            json!({"gown_size": ["This field may not be null."]}),
        ),
        (
            json!({"student": student_id, "gown_size": "m"}),
            json!({"gown_size": ["\"m\" is not a valid choice."]}),
        ),
        (
            json!({"student": student_id, "gown_size": "M", "deposit_amount": "-1.00"}),
            json!({"deposit_amount": ["Ensure this value is greater than or equal to 0."]}),
        ),
        (
            json!({"student": student_id, "gown_size": "M", "deposit_amount": "12.345"}),
            json!({"deposit_amount": ["A valid number is required."]}),
        ),
        (
            json!({"student": student_id, "gown_size": "M", "deposit_amount": null}),
            json!({"deposit_amount": ["This field may not be null."]}),
        ),
        (
            json!({"student": student_id, "gown_size": "M", "deposit_paid": "maybe"}),
            json!({"deposit_paid": ["Must be a valid boolean."]}),
        ),
        (
            json!({"student": student_id, "gown_size": "M", "return_date": "next week"}),
            json!({"return_date": ["Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."]}),
        ),
        (
            json!({"student": student_id, "gown_size": "M", "return_date": "2020-01-01T00:00:00Z"}),
            json!({"return_date": ["Return date cannot be before the issue date."]}),
        ),
        (
            json!({"student": student_id, "gown_size": "M", "return_date": "2099-06-30"}),
            json!({"return_date": ["Return date must be within 365 days of the issue date."]}),
        ),
        (
            json!({"student": student_id, "gown_size": "M", "return_date": "10000-01-01T00:00:00Z"}),
            json!({"return_date": ["Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."]}),
        ),
        (
            json!({"student": student_id, "gown_size": "M", "notes": "x".repeat(10_001)}),
            json!({"notes": ["Ensure this field has no more than 10000 characters."]}),
        ),
    ];
    for (body, expected) in cases {
        let r = app
            .post(BASE)
            .bearer(&admin.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json, expected, "for {body}");
    }
    let r = app
        .post(BASE)
        .bearer(&admin.access)
        .raw("application/json", "{\"student\":")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "parse_error");
    let r = app
        .post(BASE)
        .bearer(&admin.access)
        .raw("application/json", "[1]")
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["non_field_errors"].is_array());
    assert_eq!(gown_count(&app).await, 0);
    let audit = clearance::entities::audit_log::Entity::find()
        .filter(clearance::entities::audit_log::Column::ContentType.eq("GownIssuance"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(audit, 0);
});

db_test!(tokens_and_roles_gate_every_endpoint, |app| {
    let admin = app.admin().await;
    let (student, student_id) = app.student(&admin, "SCE/CS/0001/2022").await;
    let staff = app.user(&admin, "department_staff", None).await;
    let g = issue(&app, &admin, &student_id, json!({"deposit_paid": true})).await;
    let id = g["id"].as_str().unwrap();

    for r in [
        app.get(BASE).send().await,
        app.post(BASE).json(&json!({})).send().await,
        app.get(&at("", id)).send().await,
        app.patch(&at("", id)).json(&json!({})).send().await,
        app.delete(&at("", id)).send().await,
        app.post(&at("mark-returned/", id)).send().await,
        app.post(&at("refund-deposit/", id)).send().await,
        app.get(&format!("{BASE}overdue/")).send().await,
        app.get(&format!("{BASE}statistics/")).send().await,
    ] {
        r.assert_status(401);
    }

    let admin_only = json!({"detail": "You must be an administrator to perform this action.", "code": "permission_denied"});
    for actor in [&student, &staff] {
        let body = json!({"student": student_id, "gown_size": "S"});
        for r in [
            app.post(BASE)
                .bearer(&actor.access)
                .json(&body)
                .send()
                .await,
            app.put(&at("", id))
                .bearer(&actor.access)
                .json(&body)
                .send()
                .await,
            app.patch(&at("", id))
                .bearer(&actor.access)
                .json(&json!({"gown_size": "S"}))
                .send()
                .await,
            app.delete(&at("", id)).bearer(&actor.access).send().await,
            app.post(&at("mark-returned/", id))
                .bearer(&actor.access)
                .send()
                .await,
            app.post(&at("mark_returned/", id))
                .bearer(&actor.access)
                .send()
                .await,
            app.post(&at("refund-deposit/", id))
                .bearer(&actor.access)
                .send()
                .await,
            app.post(&at("process_refund/", id))
                .bearer(&actor.access)
                .send()
                .await,
            app.get(&format!("{BASE}overdue/"))
                .bearer(&actor.access)
                .send()
                .await,
            app.get(&format!("{BASE}statistics/"))
                .bearer(&actor.access)
                .send()
                .await,
        ] {
            r.assert_status(403);
            assert_eq!(r.json, admin_only);
        }
    }
    // Nothing changed.
    let r = app.get(&at("", id)).bearer(&admin.access).send().await;
    assert_eq!(r.json["gown_size"], "M");
    assert_eq!(r.json["is_returned"], false);
    assert_eq!(r.json["deposit_status"], "pending");
    assert_eq!(gown_count(&app).await, 1);

    // Office staff read everything.
    let r = app.get(BASE).bearer(&staff.access).send().await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 1);
    app.get(&at("", id))
        .bearer(&staff.access)
        .send()
        .await
        .assert_status(200);
});

db_test!(students_see_only_their_own_gowns, |app| {
    let admin = app.admin().await;
    let (alice, alice_id) = named_student(&app, &admin, "Alice Njeri", "SCE/CS/0001/2022").await;
    let (bob, bob_id) = named_student(&app, &admin, "Bob Otieno", "SCE/CS/0002/2022").await;
    let (carol, _) = named_student(&app, &admin, "Carol Atieno", "SCE/CS/0003/2022").await;
    let a = issue(&app, &admin, &alice_id, json!({})).await;
    let b = issue(&app, &admin, &bob_id, json!({})).await;

    let r = app.get(BASE).bearer(&alice.access).send().await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["id"], a["id"]);
    assert_eq!(r.json["results"][0]["student_name"], "Alice Njeri");
    // Filters and search cannot reach another student's gown.
    for query in [format!("?student={bob_id}"), "?search=Bob".to_owned()] {
        let r = app
            .get(&format!("{BASE}{query}"))
            .bearer(&alice.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["count"], 0, "{query}");
    }
    app.get(&at("", a["id"].as_str().unwrap()))
        .bearer(&alice.access)
        .send()
        .await
        .assert_status(200);
    let r = app
        .get(&at("", b["id"].as_str().unwrap()))
        .bearer(&alice.access)
        .send()
        .await;
    r.assert_status(404);
    assert_eq!(r.json["detail"], "No GownIssuance matches the given query.");
    let r = app
        .get(&at("", b["id"].as_str().unwrap()))
        .bearer(&bob.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["student_name"], "Bob Otieno");
    let r = app.get(BASE).bearer(&carol.access).send().await;
    assert_eq!(r.json["count"], 0);

    // Malformed and unknown ids are 404s, for reads and writes alike.
    for path in [at("", "not-a-uuid"), at("", &Uuid::new_v4().to_string())] {
        app.get(&path)
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(404);
        app.patch(&path)
            .bearer(&admin.access)
            .json(&json!({"gown_size": "S"}))
            .send()
            .await
            .assert_status(404);
        app.delete(&path)
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(404);
    }
    for action in [
        "mark-returned/",
        "refund-deposit/",
        "mark_returned/",
        "process_refund/",
    ] {
        app.post(&at(action, "nope"))
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(404);
        app.post(&at(action, &Uuid::new_v4().to_string()))
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(404);
    }
});

db_test!(edits_touch_only_editable_fields_and_are_audited, |app| {
    let admin = app.admin().await;
    let (_, student_id) = app.student(&admin, "SCE/CS/0001/2022").await;
    let g = issue(&app, &admin, &student_id, json!({"notes": "first"})).await;
    let id = g["id"].as_str().unwrap();
    let code_before = g["gown_code"].clone();

    let due = Utc::now() + Duration::days(10);
    let r = app
        .patch(&at("", id))
        .bearer(&admin.access)
        .json(&json!({"gown_size": "XXL", "deposit_paid": true, "deposit_amount": 1200, "return_date": due.to_rfc3339(),
                      "gown_code": "HACKED", "is_returned": true, "deposit_status": "refunded"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["gown_size"], "XXL");
    assert_eq!(r.json["deposit_paid"], true);
    assert_eq!(r.json["deposit_amount"], "1200.00");
    assert_eq!(r.json["notes"], "first", "absent fields keep their value");
    assert_eq!(r.json["gown_code"], code_before);
    assert_eq!(r.json["is_returned"], false);
    assert_eq!(r.json["deposit_status"], "pending");
    let audit = app.audit_rows("update", id).await;
    assert_eq!(audit.len(), 1);
    let changes = audit[0].changes.clone().unwrap();
    assert_eq!(changes["gown_size"], json!(["M", "XXL"]));
    assert_eq!(changes["deposit_paid"], json!([false, true]));
    assert_eq!(changes["deposit_amount"], json!(["1000.00", "1200.00"]));
    assert_eq!(changes["return_date"][0], Value::Null);
    assert!(
        changes.get("notes").is_none(),
        "unchanged fields are not listed"
    );
    assert!(changes.get("gown_code").is_none());

    // PUT needs the size; other fields left out keep their value; null clears the due date.
    let r = app
        .put(&at("", id))
        .bearer(&admin.access)
        .json(&json!({"notes": "second"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json, json!({"gown_size": ["This field is required."]}));
    let r = app
        .put(&at("", id))
        .bearer(&admin.access)
        .json(&json!({"gown_size": "L", "return_date": null, "notes": "second"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["gown_size"], "L");
    assert_eq!(r.json["return_date"], Value::Null);
    assert_eq!(r.json["notes"], "second");
    assert_eq!(r.json["deposit_amount"], "1200.00");
    let audit = app.audit_rows("update", id).await;
    assert_eq!(audit.len(), 2);

    // Invalid edits change nothing.
    for (body, field) in [
        (json!({"gown_size": "XS"}), "gown_size"),
        (json!({"deposit_amount": "-5"}), "deposit_amount"),
        (json!({"return_date": "2000-01-01"}), "return_date"),
        (json!({"notes": null}), "notes"),
        (json!({"deposit_paid": null}), "deposit_paid"),
    ] {
        let r = app
            .patch(&at("", id))
            .bearer(&admin.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(400);
        assert!(r.json[field].is_array(), "{body}: {}", r.json);
    }
    let r = app.get(&at("", id)).bearer(&admin.access).send().await;
    assert_eq!(r.json["gown_size"], "L");
    assert_eq!(r.json["deposit_amount"], "1200.00");
    assert_eq!(app.audit_rows("update", id).await.len(), 2);

    let r = app.delete(&at("", id)).bearer(&admin.access).send().await;
    r.assert_status(204);
    let audit = app.audit_rows("delete", id).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(
        audit[0].changes.clone().unwrap()["gown_code"],
        json!([code_before, null])
    );
    app.get(&at("", id))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
    assert_eq!(gown_count(&app).await, 0);
});

db_test!(returns_and_refunds_follow_the_rules, |app| {
    let admin = app.admin().await;
    let (student, student_id) = app.student(&admin, "SCE/CS/0001/2022").await;
    let (_, unpaid_id) = app.student(&admin, "SCE/CS/0002/2022").await;
    let g = issue(
        &app,
        &admin,
        &student_id,
        json!({"deposit_paid": true, "deposit_amount": "1000", "notes": "issued new"}),
    )
    .await;
    let id = g["id"].as_str().unwrap();

    let r = app
        .post(&at("refund-deposit/", id))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json["detail"],
        "Gown must be returned before processing refund."
    );

    let r = app
        .post(&at("mark-returned/", id))
        .bearer(&admin.access)
        .json(&json!({"notes": "  small tear on sleeve "}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["is_returned"], true);
    assert_eq!(r.json["notes"], "issued new\nsmall tear on sleeve");
    let returned_at = parse_time(&r.json["returned_date"]);
    assert!((Utc::now() - returned_at).num_seconds().abs() < 60);
    assert_eq!(r.json["deposit_status"], "pending");
    let audit = app.audit_rows("update", id).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(
        audit[0].changes.clone().unwrap()["is_returned"],
        json!([false, true])
    );

    for path in ["mark-returned/", "mark_returned/"] {
        let r = app.post(&at(path, id)).bearer(&admin.access).send().await;
        r.assert_status(400);
        assert_eq!(r.json["detail"], "Gown already marked as returned.");
    }

    let r = app
        .post(&at("refund-deposit/", id))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["deposit_status"], "refunded");
    assert!(r.json["deposit_refund_date"].is_string());
    assert_eq!(r.json["deposit_paid"], true);
    let audit = app.audit_rows("update", id).await;
    assert_eq!(audit.len(), 2);
    assert!(
        audit
            .iter()
            .any(|a| a.changes.clone().unwrap()["deposit_status"] == json!(["pending", "refunded"]))
    );
    assert_eq!(
        app.notification_titles(&student).await,
        vec!["Gown Deposit Refunded".to_owned(), "Gown Issued".to_owned()]
    );
    for path in ["refund-deposit/", "process_refund/"] {
        let r = app.post(&at(path, id)).bearer(&admin.access).send().await;
        r.assert_status(400);
        assert_eq!(r.json["detail"], "Deposit already refunded.");
    }
    // A refunded deposit no longer changes.
    let r = app
        .patch(&at("", id))
        .bearer(&admin.access)
        .json(&json!({"deposit_amount": "1.00", "deposit_paid": false}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"deposit_amount": ["The deposit has already been refunded and can no longer change."],
               "deposit_paid": ["The deposit has already been refunded and can no longer change."]})
    );
    app.patch(&at("", id))
        .bearer(&admin.access)
        .json(&json!({"deposit_amount": "1000.00", "notes": "archived"}))
        .send()
        .await
        .assert_status(200);
    assert_eq!(app.audit_rows("update", id).await.len(), 3);

    // An unpaid deposit cannot be refunded; the aliases work as the spec paths do.
    let u = issue(&app, &admin, &unpaid_id, json!({})).await;
    let uid = u["id"].as_str().unwrap();
    let r = app
        .post(&at("mark_returned/", uid))
        .bearer(&admin.access)
        .json(&json!({"condition_notes": "fine"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["notes"], "fine");
    let r = app
        .post(&at("process_refund/", uid))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json["detail"],
        "No deposit was paid for this gown, so there is nothing to refund."
    );
    let r = app.get(&at("", uid)).bearer(&admin.access).send().await;
    assert_eq!(r.json["deposit_status"], "pending");
    assert_eq!(r.json["deposit_refund_date"], Value::Null);
});

db_test!(lists_filter_search_and_order, |app| {
    let admin = app.admin().await;
    let (_, a) = named_student(&app, &admin, "Alice Njeri", "SCE/CS/0001/2022").await;
    let (_, b) = named_student(&app, &admin, "Bob Otieno", "SED/ED/0002/2021").await;
    let (_, c) = named_student(&app, &admin, "Carol Atieno", "SCE/IT/0003/2022").await;
    let ga = issue(
        &app,
        &admin,
        &a,
        json!({"gown_size": "S", "deposit_paid": true, "return_date": in_days(30)}),
    )
    .await;
    let gb = issue(
        &app,
        &admin,
        &b,
        json!({"gown_size": "L", "return_date": in_days(10)}),
    )
    .await;
    let gc = issue(
        &app,
        &admin,
        &c,
        json!({"gown_size": "L", "deposit_paid": true}),
    )
    .await;
    app.post(&at("mark-returned/", gc["id"].as_str().unwrap()))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);
    app.post(&at("refund-deposit/", gc["id"].as_str().unwrap()))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);

    let ids = |r: &Value| -> Vec<String> {
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let id = |g: &Value| g["id"].as_str().unwrap().to_owned();
    let list = |query: &str| {
        let query = query.to_owned();
        let access = admin.access.clone();
        let client = app.client.clone();
        async move {
            let r = client
                .get(&format!("{BASE}{query}"))
                .bearer(&access)
                .send()
                .await;
            r.assert_status(200);
            r.json
        }
    };

    let all = list("").await;
    assert_eq!(all["count"], 3);
    assert_eq!(
        ids(&all),
        vec![id(&gc), id(&gb), id(&ga)],
        "newest issue first"
    );
    assert_eq!(
        ids(&list("?ordering=gown_code").await),
        vec![id(&ga), id(&gb), id(&gc)]
    );
    assert_eq!(
        ids(&list("?ordering=-gown_code").await),
        vec![id(&gc), id(&gb), id(&ga)]
    );
    assert_eq!(
        ids(&list("?ordering=issue_date").await),
        vec![id(&ga), id(&gb), id(&gc)]
    );
    let by_due = ids(&list("?ordering=-return_date").await);
    assert_eq!(by_due.len(), 3);
    let dated: Vec<&String> = by_due.iter().filter(|i| **i != id(&gc)).collect();
    assert_eq!(dated, vec![&id(&ga), &id(&gb)]);

    assert_eq!(ids(&list(&format!("?student={b}")).await), vec![id(&gb)]);
    assert_eq!(
        ids(&list("?gown_size=L&ordering=gown_code").await),
        vec![id(&gb), id(&gc)]
    );
    assert_eq!(ids(&list("?is_returned=true").await), vec![id(&gc)]);
    assert_eq!(
        ids(&list("?is_returned=false&ordering=gown_code").await),
        vec![id(&ga), id(&gb)]
    );
    assert_eq!(ids(&list("?deposit_status=refunded").await), vec![id(&gc)]);
    assert_eq!(
        ids(&list("?deposit_status=retained").await),
        Vec::<String>::new()
    );
    assert_eq!(ids(&list("?deposit_paid=false").await), vec![id(&gb)]);
    assert_eq!(ids(&list("?search=otieno").await), vec![id(&gb)]);
    assert_eq!(ids(&list("?search=SCE/IT").await), vec![id(&gc)]);
    assert_eq!(
        ids(&list("?search=alice%20SCE&ordering=gown_code").await),
        vec![id(&ga)]
    );
    let code_b = gb["gown_code"].as_str().unwrap();
    assert_eq!(
        ids(&list(&format!("?search={code_b}")).await),
        vec![id(&gb)]
    );
    assert_eq!(
        list("?page_size=2").await["results"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    for (query, field) in [
        ("?student=nope", "student"),
        ("?gown_size=XS", "gown_size"),
        ("?is_returned=maybe", "is_returned"),
        ("?deposit_status=lost", "deposit_status"),
    ] {
        let r = app
            .get(&format!("{BASE}{query}"))
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(400);
        assert!(r.json[field].is_array(), "{query}: {}", r.json);
    }
    app.get(&format!("{BASE}?page=9"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
});

db_test!(statistics_are_exact, |app| {
    let admin = app.admin().await;
    let r = app
        .get(&format!("{BASE}statistics/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json,
        json!({"total_issued": 0, "currently_issued": 0, "returned": 0, "overdue": 0,
               "deposits_held": "0.00", "deposits_refunded": "0.00", "deposits_pending": 0})
    );

    let mut students = Vec::new();
    for i in 1..=5 {
        let (_, id) = app.student(&admin, &format!("SCE/CS/{i:04}/2022")).await;
        students.push(id);
    }
    // 1: paid 1000.00, returned and refunded.
    let g1 = issue(&app, &admin, &students[0], json!({"deposit_paid": true})).await;
    // 2: paid 1500.25, returned, not refunded (still held).
    let g2 = issue(
        &app,
        &admin,
        &students[1],
        json!({"deposit_paid": true, "deposit_amount": "1500.25"}),
    )
    .await;
    // 3: paid 2000.10, out and overdue.
    let g3 = issue(
        &app,
        &admin,
        &students[2],
        json!({"deposit_paid": true, "deposit_amount": "2000.10", "return_date": in_days(1)}),
    )
    .await;
    // 4: unpaid, out, due later.
    issue(
        &app,
        &admin,
        &students[3],
        json!({"return_date": in_days(5)}),
    )
    .await;
    // 5: unpaid, out, no due date.
    issue(&app, &admin, &students[4], json!({"deposit_amount": "0"})).await;
    for g in [&g1, &g2] {
        app.post(&at("mark-returned/", g["id"].as_str().unwrap()))
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(200);
    }
    app.post(&at("refund-deposit/", g1["id"].as_str().unwrap()))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);
    age(&app, g3["id"].as_str().unwrap(), 3).await;

    let r = app
        .get(&format!("{BASE}statistics/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json,
        json!({"total_issued": 5, "currently_issued": 3, "returned": 2, "overdue": 1,
               "deposits_held": "3500.35", "deposits_refunded": "1000.00", "deposits_pending": 2})
    );
});

db_test!(overdue_gowns_are_listed_and_reminded_once, |app| {
    let admin = app.admin().await;
    let (late, late_id) = app.student(&admin, "SCE/CS/0001/2022").await;
    let (later, later_id) = app.student(&admin, "SCE/CS/0002/2022").await;
    let (back, back_id) = app.student(&admin, "SCE/CS/0003/2022").await;
    let (_, ontime_id) = app.student(&admin, "SCE/CS/0004/2022").await;
    let g_late = issue(&app, &admin, &late_id, json!({"return_date": in_days(1)})).await;
    let g_later = issue(&app, &admin, &later_id, json!({"return_date": in_days(2)})).await;
    let g_back = issue(&app, &admin, &back_id, json!({"return_date": in_days(1)})).await;
    issue(&app, &admin, &ontime_id, json!({"return_date": in_days(7)})).await;
    let late_gown = g_late["id"].as_str().unwrap().to_owned();
    app.post(&at("mark-returned/", g_back["id"].as_str().unwrap()))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);

    let overdue_list = || {
        let client = app.client.clone();
        let access = admin.access.clone();
        async move {
            let r = client
                .get(&format!("{BASE}overdue/"))
                .bearer(&access)
                .send()
                .await;
            r.assert_status(200);
            r.json
        }
    };
    assert_eq!(overdue_list().await, json!([]));
    assert_eq!(
        clearance::gowns::notify_overdue(&app.state).await.unwrap(),
        0
    );

    age(&app, &late_gown, 5).await; // due 4 days ago
    age(&app, g_later["id"].as_str().unwrap(), 3).await; // due 1 day ago
    age(&app, g_back["id"].as_str().unwrap(), 5).await; // returned: never overdue

    let list = overdue_list().await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], late_gown.as_str(), "most overdue first");
    assert_eq!(list[0]["is_overdue"], true);
    assert_eq!(list[0]["days_overdue"], 4);
    assert_eq!(list[1]["id"], g_later["id"]);
    assert_eq!(list[1]["days_overdue"], 1);
    let r = app
        .get(&at("", &late_gown))
        .bearer(&late.access)
        .send()
        .await;
    assert_eq!(r.json["is_overdue"], true);
    assert_eq!(r.json["days_overdue"], 4);

    assert_eq!(
        clearance::gowns::notify_overdue(&app.state).await.unwrap(),
        2
    );
    assert_eq!(
        app.notification_titles(&late).await,
        vec!["Gown Overdue".to_owned(), "Gown Issued".to_owned()]
    );
    assert_eq!(app.notification_titles(&later).await[0], "Gown Overdue");
    assert!(
        !app.notification_titles(&back)
            .await
            .contains(&"Gown Overdue".to_owned())
    );
    // Once only.
    assert_eq!(
        clearance::gowns::notify_overdue(&app.state).await.unwrap(),
        0
    );
    assert_eq!(
        app.notification_titles(&late)
            .await
            .iter()
            .filter(|t| *t == "Gown Overdue")
            .count(),
        1
    );

    // A new due date earns a new reminder once it passes too.
    let r = app
        .patch(&at("", &late_gown))
        .bearer(&admin.access)
        .json(&json!({"return_date": in_days(1)}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["is_overdue"], false);
    assert_eq!(r.json["days_overdue"], 0);
    assert_eq!(
        clearance::gowns::notify_overdue(&app.state).await.unwrap(),
        0
    );
    age(&app, &late_gown, 2).await;
    assert_eq!(
        clearance::gowns::notify_overdue(&app.state).await.unwrap(),
        1
    );
    // Returned gowns leave the overdue list.
    app.post(&at("mark-returned/", &late_gown))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);
    let list = overdue_list().await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], g_later["id"]);
});
