//! Trainer availability (contract §4, **TrainerAvailability**): who writes
//! whose windows, the overlap rule, scoped reads, `my_availability/` and
//! the all-or-nothing `bulk_create/`.

use crate::common::*;

const WINDOWS: &str = "/api/trainer-availability/";

async fn window_rows(app: &TestApp) -> i64 {
    app.row_counts()
        .await
        .get("roster_trainer_availability")
        .copied()
        .unwrap_or(0)
}

async fn audit_rows(app: &TestApp) -> i64 {
    app.row_counts()
        .await
        .get("campus_audit_log")
        .copied()
        .unwrap_or(0)
}

/// An admin, a school, department ICT (a HOD, two trainers), department
/// ENG (another trainer) and the current year's terms.
struct Staffed {
    admin: Actor,
    hod: Actor,
    trainer: Actor,
    colleague: Actor,
    outsider: Actor,
    terms: Vec<Uuid>,
}

async fn staffed(app: &TestApp) -> Staffed {
    let admin = app.admin().await;
    let hod = app.user("hod").await;
    let trainer = app.user("trainer").await;
    let colleague = app.user("trainer").await;
    let outsider = app.user("trainer").await;
    app.school(&admin).await;
    app.department(&admin, "ICT", Some(&hod), &[&trainer, &colleague])
        .await;
    app.department(&admin, "ENG", None, &[&outsider]).await;
    let terms = app.academic_year_with_terms(&admin).await.terms;
    Staffed {
        admin,
        hod,
        trainer,
        colleague,
        outsider,
        terms,
    }
}

async fn window(app: &TestApp, who: &Actor, body: Value) -> Value {
    let r = app
        .post(WINDOWS)
        .bearer(&who.access)
        .json(&body)
        .send()
        .await;
    assert_eq!(r.status, 201, "POST {body}: {}", r.json);
    r.json
}

db_test!(a_trainer_writes_their_own_windows_without_overlaps, |app| {
    let s = staffed(&app).await;
    let audits = audit_rows(&app).await;
    let w = window(&app, &s.trainer, json!({
        "trainer": s.colleague.id, "day_of_week": "Monday", "start_time": "08:00", "end_time": "12:00",
    }))
    .await;
    assert_eq!(
        w["trainer"],
        json!(s.trainer.id),
        "a trainer's window is their own"
    );
    assert_eq!(w["day_of_week"], "monday");
    assert_eq!(w["start_time"], "08:00");
    assert_eq!(w["end_time"], "12:00");
    assert_eq!(w["term"], Value::Null);
    assert_eq!(audit_rows(&app).await, audits + 1);

    // Touching windows, another day, and the same hours for one term are fine.
    window(
        &app,
        &s.trainer,
        json!({"day_of_week": "monday", "start_time": "12:00", "end_time": "13:00"}),
    )
    .await;
    window(
        &app,
        &s.trainer,
        json!({"day_of_week": 1, "start_time": "09:00", "end_time": "10:00"}),
    )
    .await;
    let termly = window(
        &app,
        &s.trainer,
        json!({
            "term": s.terms[0], "day_of_week": "monday", "start_time": "09:00", "end_time": "11:00",
        }),
    )
    .await;
    assert_eq!(termly["term"], json!(s.terms[0]));

    let rows = window_rows(&app).await;
    let audits = audit_rows(&app).await;
    let cases = [
        (
            json!({"day_of_week": "monday", "start_time": "11:00", "end_time": "12:30"}),
            "non_field_errors",
        ),
        (
            json!({"term": s.terms[0], "day_of_week": "monday", "start_time": "10:30", "end_time": "11:30"}),
            "non_field_errors",
        ),
        (
            json!({"day_of_week": "friday", "start_time": "10:00", "end_time": "09:00"}),
            "non_field_errors",
        ),
        (
            json!({"day_of_week": "friday", "start_time": "10:00", "end_time": "10:00"}),
            "non_field_errors",
        ),
        (
            json!({"day_of_week": "funday", "start_time": "08:00", "end_time": "09:00"}),
            "day_of_week",
        ),
        (
            json!({"day_of_week": 7, "start_time": "08:00", "end_time": "09:00"}),
            "day_of_week",
        ),
        (
            json!({"day_of_week": "friday", "start_time": "8am", "end_time": "09:00"}),
            "start_time",
        ),
        (
            json!({"day_of_week": "friday", "start_time": "08:00"}),
            "end_time",
        ),
        (
            json!({"start_time": "08:00", "end_time": "09:00"}),
            "day_of_week",
        ),
        (
            json!({"day_of_week": "friday", "start_time": 800, "end_time": "09:00"}),
            "start_time",
        ),
        (
            json!({"term": "nope", "day_of_week": "friday", "start_time": "08:00", "end_time": "09:00"}),
            "term",
        ),
        (
            json!({"term": Uuid::new_v4(), "day_of_week": "friday", "start_time": "08:00", "end_time": "09:00"}),
            "term",
        ),
    ];
    for (body, field) in cases {
        let r = app
            .post(WINDOWS)
            .bearer(&s.trainer.access)
            .json(&body)
            .send()
            .await;
        assert_eq!(r.status, 400, "{body}: {}", r.json);
        assert!(r.json[field].is_array(), "{body}: {}", r.json);
    }
    assert_eq!(window_rows(&app).await, rows);
    assert_eq!(audit_rows(&app).await, audits);

    // Updates keep the rule, excluding the window itself.
    let path = format!("{WINDOWS}{}/", id_of(&w));
    let r = app
        .patch(&path)
        .bearer(&s.trainer.access)
        .json(&json!({"end_time": "12:30"}))
        .send()
        .await;
    r.assert_status(400);
    assert!(
        r.json["non_field_errors"][0]
            .as_str()
            .unwrap()
            .contains("Monday 12:00–13:00"),
        "{}",
        r.json
    );
    let r = app
        .patch(&path)
        .bearer(&s.trainer.access)
        .json(&json!({"start_time": "07:00", "trainer": s.colleague.id}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["start_time"], "07:00");
    assert_eq!(r.json["end_time"], "12:00");
    assert_eq!(r.json["trainer"], json!(s.trainer.id));
    app.delete(&path)
        .bearer(&s.trainer.access)
        .send()
        .await
        .assert_status(204);
    app.get(&path)
        .bearer(&s.trainer.access)
        .send()
        .await
        .assert_status(404);
});

db_test!(reads_are_scoped_and_trainees_are_refused, |app| {
    let s = staffed(&app).await;
    let mine = window(
        &app,
        &s.trainer,
        json!({"day_of_week": "monday", "start_time": "08:00", "end_time": "10:00"}),
    )
    .await;
    window(
        &app,
        &s.colleague,
        json!({"day_of_week": "tuesday", "start_time": "08:00", "end_time": "10:00"}),
    )
    .await;
    let outside = window(&app, &s.admin, json!({
        "trainer": s.outsider.id, "day_of_week": "wednesday", "start_time": "08:00", "end_time": "10:00",
    }))
    .await;

    let count = |who: &Actor, q: &str| {
        let access = who.access.clone();
        let path = format!("{WINDOWS}{q}");
        let client = &app;
        async move {
            let r = client.get(&path).bearer(&access).send().await;
            assert_eq!(r.status, 200, "{path}: {}", r.json);
            r.json["count"].as_u64().unwrap()
        }
    };
    assert_eq!(count(&s.trainer, "").await, 1);
    assert_eq!(count(&s.hod, "").await, 2);
    assert_eq!(count(&s.admin, "").await, 3);
    assert_eq!(
        count(&s.admin, &format!("?trainer={}", s.outsider.id)).await,
        1
    );
    assert_eq!(count(&s.admin, "?day_of_week=tuesday").await, 1);
    assert_eq!(count(&s.admin, "?term=null").await, 3);
    assert_eq!(count(&s.admin, &format!("?term={}", s.terms[0])).await, 0);
    let r = app
        .get(&format!("{WINDOWS}?ordering=-day_of_week"))
        .bearer(&s.admin.access)
        .send()
        .await;
    assert_eq!(r.json["results"][0]["day_of_week"], "wednesday");
    app.get(&format!("{WINDOWS}?day_of_week=someday"))
        .bearer(&s.admin.access)
        .send()
        .await
        .assert_status(400);
    app.get(&format!("{WINDOWS}?trainer=x"))
        .bearer(&s.admin.access)
        .send()
        .await
        .assert_status(400);

    let outside_path = format!("{WINDOWS}{}/", id_of(&outside));
    app.get(&outside_path)
        .bearer(&s.hod.access)
        .send()
        .await
        .assert_status(404);
    app.get(&outside_path)
        .bearer(&s.trainer.access)
        .send()
        .await
        .assert_status(404);
    app.patch(&outside_path)
        .bearer(&s.trainer.access)
        .json(&json!({"end_time": "11:00"}))
        .send()
        .await
        .assert_status(404);
    app.delete(&outside_path)
        .bearer(&s.hod.access)
        .send()
        .await
        .assert_status(404);
    app.get(&outside_path)
        .bearer(&s.admin.access)
        .send()
        .await
        .assert_status(200);
    app.get(&format!("{WINDOWS}{}/", id_of(&mine)))
        .bearer(&s.hod.access)
        .send()
        .await
        .assert_status(200);

    let trainee = app.user("trainee").await;
    app.get(WINDOWS)
        .bearer(&trainee.access)
        .send()
        .await
        .assert_status(403);
    app.post(WINDOWS)
        .bearer(&trainee.access)
        .json(&json!({"day_of_week": "monday", "start_time": "08:00", "end_time": "09:00"}))
        .send()
        .await
        .assert_status(403);
    app.get(&format!("{WINDOWS}my_availability/"))
        .bearer(&trainee.access)
        .send()
        .await
        .assert_status(403);
    app.get(WINDOWS).send().await.assert_status(401);

    for path in [
        format!("{WINDOWS}my_availability/"),
        format!("{WINDOWS}mine/"),
        "/api/trainer-availabilities/mine/".to_owned(),
    ] {
        let r = app.get(&path).bearer(&s.trainer.access).send().await;
        r.assert_status(200);
        assert_eq!(r.json.as_array().unwrap().len(), 1, "{path}");
        assert_eq!(r.json[0]["id"], mine["id"]);
    }
    let r = app
        .get("/api/trainer-availabilities/")
        .bearer(&s.hod.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 2);
});

db_test!(
    a_hod_writes_the_windows_of_their_departments_trainers,
    |app| {
        let s = staffed(&app).await;
        let w = window(&app, &s.hod, json!({
        "trainer": s.colleague.id, "day_of_week": "thursday", "start_time": "08:00", "end_time": "16:00",
    }))
    .await;
        assert_eq!(w["trainer"], json!(s.colleague.id));
        let rows = window_rows(&app).await;
        let r = app
        .post(WINDOWS)
        .bearer(&s.hod.access)
        .json(&json!({"trainer": s.outsider.id, "day_of_week": "thursday", "start_time": "08:00", "end_time": "16:00"}))
        .send()
        .await;
        r.assert_status(403);
        let r = app
            .post(WINDOWS)
            .bearer(&s.hod.access)
            .json(&json!({"day_of_week": "thursday", "start_time": "08:00", "end_time": "16:00"}))
            .send()
            .await;
        r.assert_status(400);
        assert!(r.json["trainer"].is_array());
        let r = app
        .post(WINDOWS)
        .bearer(&s.admin.access)
        .json(&json!({"trainer": s.hod.id, "day_of_week": "thursday", "start_time": "08:00", "end_time": "16:00"}))
        .send()
        .await;
        r.assert_status(400);
        assert!(r.json["trainer"].is_array());
        let r = app
        .post(WINDOWS)
        .bearer(&s.admin.access)
        .json(&json!({"trainer": Uuid::new_v4(), "day_of_week": "thursday", "start_time": "08:00", "end_time": "16:00"}))
        .send()
        .await;
        r.assert_status(400);
        assert_eq!(window_rows(&app).await, rows);

        let path = format!("{WINDOWS}{}/", id_of(&w));
        app.patch(&path)
            .bearer(&s.hod.access)
            .json(&json!({"trainer": s.outsider.id}))
            .send()
            .await
            .assert_status(403);
        let r = app.put(&path).bearer(&s.hod.access).json(&json!({
        "trainer": s.trainer.id, "day_of_week": "friday", "start_time": "09:00", "end_time": "10:00",
    })).send().await;
        r.assert_status(200);
        assert_eq!(r.json["trainer"], json!(s.trainer.id));
        assert_eq!(r.json["day_of_week"], "friday");
        let dp = app.user("dp_academics").await;
        window(&app, &dp, json!({"trainer": s.outsider.id, "day_of_week": "friday", "start_time": "09:00", "end_time": "10:00"})).await;
    }
);

db_test!(bulk_create_is_all_or_nothing, |app| {
    let s = staffed(&app).await;
    let bulk = format!("{WINDOWS}bulk_create/");
    let audits = audit_rows(&app).await;
    let r = app
        .post(&bulk)
        .bearer(&s.trainer.access)
        .json(&json!([
            {"day_of_week": "monday", "start_time": "08:00", "end_time": "10:00"},
            {"day_of_week": "monday", "start_time": "10:00", "end_time": "12:00"},
            {"day_of_week": "monday", "start_time": "09:00", "end_time": "11:00"},
            {"day_of_week": "noday", "start_time": "09:00", "end_time": "11:00"},
        ]))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["created"], json!([]));
    let errors = r.json["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{}", r.json);
    assert_eq!(errors[0]["index"], 2);
    assert!(errors[0]["errors"]["non_field_errors"].is_array());
    assert_eq!(errors[1]["index"], 3);
    assert!(errors[1]["errors"]["day_of_week"].is_array());
    assert_eq!(window_rows(&app).await, 0);
    assert_eq!(audit_rows(&app).await, audits);

    let r = app
        .post(&bulk)
        .bearer(&s.hod.access)
        .json(&json!([
            {"trainer": s.trainer.id, "day_of_week": "monday", "start_time": "08:00", "end_time": "10:00"},
            {"trainer": s.colleague.id, "term": s.terms[1], "day_of_week": "monday", "start_time": "08:00", "end_time": "10:00"},
        ]))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["created"].as_array().unwrap().len(), 2);
    assert_eq!(r.json["errors"], json!([]));
    assert_eq!(window_rows(&app).await, 2);
    assert_eq!(audit_rows(&app).await, audits + 1);

    // Against stored windows, and a trainer outside the HOD's department.
    let r = app
        .post(&bulk)
        .bearer(&s.hod.access)
        .json(&json!([
            {"trainer": s.trainer.id, "day_of_week": "monday", "start_time": "09:00", "end_time": "11:00"},
            {"trainer": s.outsider.id, "day_of_week": "monday", "start_time": "08:00", "end_time": "10:00"},
            {"trainer": s.colleague.id, "day_of_week": "monday", "start_time": "08:00", "end_time": "10:00"},
        ]))
        .send()
        .await;
    r.assert_status(400);
    let indexes: Vec<u64> = r.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [0, 1]);
    assert_eq!(window_rows(&app).await, 2);

    for (content_type, body) in [
        ("application/json", "{\"day_of_week\": \"monday\"}"),
        ("application/json", "[]"),
        ("application/json", "[1, 2"),
        ("application/json", "[1]"),
    ] {
        let r = app
            .post(&bulk)
            .bearer(&s.trainer.access)
            .raw(content_type, body)
            .send()
            .await;
        assert_eq!(r.status, 400, "{body}: {}", r.json);
    }
    let r = app
        .post(&bulk)
        .bearer(&s.trainer.access)
        .raw("text/plain", "[]")
        .send()
        .await;
    r.assert_status(415);
    let trainee = app.user("trainee").await;
    app.post(&bulk)
        .bearer(&trainee.access)
        .json(&json!([]))
        .send()
        .await
        .assert_status(403);
    app.post(&bulk)
        .json(&json!([]))
        .send()
        .await
        .assert_status(401);
    assert_eq!(window_rows(&app).await, 2);
});
