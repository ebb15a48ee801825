//! Academic years and terms (contract §2).

use crate::common::*;

db_test!(academic_years_rules, |app| {
    let admin = app.admin().await;
    let trainee = app.user("trainee").await;
    let post = |body: Value| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            app.post("/api/academic-years/")
                .bearer(&token)
                .json(&body)
                .send()
                .await
        }
    };
    let bad =
        post(json!({"name": "2025-2026", "start_date": "2025-09-01", "end_date": "2026-08-31"}))
            .await;
    bad.assert_status(400);
    assert!(bad.json["name"][0].as_str().unwrap().contains("YYYY/YYYY"));
    let seq =
        post(json!({"name": "2025/2027", "start_date": "2025-09-01", "end_date": "2026-08-31"}))
            .await;
    seq.assert_status(400);
    assert!(
        seq.json["name"][0]
            .as_str()
            .unwrap()
            .contains("first plus one")
    );
    let backwards =
        post(json!({"name": "2025/2026", "start_date": "2026-09-01", "end_date": "2025-08-31"}))
            .await;
    backwards.assert_status(400);
    assert_eq!(
        backwards.json["non_field_errors"][0],
        "End date must be after start date."
    );
    let bad_date =
        post(json!({"name": "2025/2026", "start_date": "1st Sept", "end_date": "2026-08-31"}))
            .await;
    bad_date.assert_status(400);
    assert!(bad_date.json["start_date"].is_array());

    let first = post(json!({"name": "2025/2026", "start_date": "2025-09-01", "end_date": "2026-08-31", "is_active": true})).await;
    first.assert_status(201);
    let first = id_of(&first.json);
    let overlap =
        post(json!({"name": "2026/2027", "start_date": "2026-08-01", "end_date": "2027-07-31"}))
            .await;
    overlap.assert_status(400);
    assert_eq!(
        overlap.json["non_field_errors"][0],
        "Dates overlap academic year 2025/2026 (2025-09-01 \u{2013} 2026-08-31)."
    );
    let second = post(json!({"name": "2026/2027", "start_date": "2026-09-01", "end_date": "2027-08-31", "is_active": true})).await;
    second.assert_status(201);
    let second = id_of(&second.json);
    let current = app
        .get("/api/academic-years/current/")
        .bearer(&trainee.access)
        .send()
        .await;
    assert_eq!(current.json["id"], second.to_string());
    let r = app
        .post(&format!("/api/academic-years/{first}/activate/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["is_active"], true);
    let active = app
        .get("/api/academic-years/?is_active=true")
        .bearer(&trainee.access)
        .send()
        .await;
    assert_eq!(active.json["count"], 1);
    assert_eq!(active.json["results"][0]["id"], first.to_string());
    app.post(&format!("/api/academic-years/{first}/activate/"))
        .bearer(&trainee.access)
        .send()
        .await
        .assert_status(403);
    app.post("/api/academic-years/")
        .send()
        .await
        .assert_status(401);
    app.get(&format!("/api/academic-years/{}/", Uuid::new_v4()))
        .bearer(&trainee.access)
        .send()
        .await
        .assert_status(404);
    app.delete(&format!("/api/academic-years/{second}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
});

db_test!(terms_rules, |app| {
    let admin = app.admin().await;
    let year = app
        .post("/api/academic-years/")
        .bearer(&admin.access)
        .json(&json!({"name": "2025/2026", "start_date": "2025-09-01", "end_date": "2026-08-31"}))
        .send()
        .await;
    let year = id_of(&year.json);
    let post = |body: Value| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            app.post("/api/terms/")
                .bearer(&token)
                .json(&body)
                .send()
                .await
        }
    };
    let t1 = post(json!({"academic_year": year, "name": "Term 1", "number": 1, "start_date": "2025-09-01", "end_date": "2025-12-05"})).await;
    t1.assert_status(201);
    assert_eq!(t1.json["duration_days"], 96);
    assert_eq!(t1.json["is_current"], false);
    let overlap = post(json!({"academic_year": year, "name": "Term 2", "number": 2, "start_date": "2025-12-01", "end_date": "2026-03-31"})).await;
    overlap.assert_status(400);
    assert_eq!(
        overlap.json,
        json!({"non_field_errors": ["Term dates overlap Term 1 (2025-09-01 \u{2013} 2025-12-05)."]})
    );
    let outside = post(json!({"academic_year": year, "name": "Term 2", "number": 2, "start_date": "2026-06-01", "end_date": "2026-09-30"})).await;
    outside.assert_status(400);
    assert!(
        outside.json["non_field_errors"][0]
            .as_str()
            .unwrap()
            .starts_with("Term dates must fall within 2025/2026")
    );
    let same_number = post(json!({"academic_year": year, "name": "Term 1b", "number": 1, "start_date": "2026-01-05", "end_date": "2026-03-31"})).await;
    same_number.assert_status(400);
    assert!(same_number.json["number"].is_array());
    let five = post(json!({"academic_year": year, "name": "Term 5", "number": 5, "start_date": "2026-01-05", "end_date": "2026-03-31"})).await;
    five.assert_status(400);
    assert!(five.json["number"].is_array());
    let missing = post(json!({"name": "Term 2"})).await;
    missing.assert_status(400);
    assert!(missing.json["academic_year"].is_array() && missing.json["number"].is_array());

    let t2 = post(json!({"academic_year": year, "name": "Term 2", "number": 2, "start_date": "2026-01-05", "end_date": "2026-03-31"})).await;
    t2.assert_status(201);
    let listed = app
        .get(&format!("/api/academic-years/{year}/terms/"))
        .bearer(&admin.access)
        .send()
        .await;
    listed.assert_status(200);
    assert_eq!(listed.json.as_array().unwrap().len(), 2);
    let y = app
        .get(&format!("/api/academic-years/{year}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(y.json["terms"].as_array().unwrap().len(), 2);
    let trainer = app.user("trainer").await;
    app.patch(&format!("/api/terms/{}/", id_of(&t2.json)))
        .bearer(&trainer.access)
        .json(&json!({"name": "T2"}))
        .send()
        .await
        .assert_status(403);
    // Deleting a year with terms: 409.
    app.delete(&format!("/api/academic-years/{year}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(409);
});

db_test!(current_term_and_year, |app| {
    let admin = app.admin().await;
    let trainee = app.user("trainee").await;
    app.get("/api/terms/current/")
        .bearer(&trainee.access)
        .send()
        .await
        .assert_status(404);
    let y = app.academic_year_with_terms(&admin).await;
    let r = app
        .get("/api/terms/current/")
        .bearer(&trainee.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["id"], y.terms[0].to_string());
    assert_eq!(r.json["is_current"], true);
    let year = app
        .get("/api/academic-years/current/")
        .bearer(&trainee.access)
        .send()
        .await;
    assert_eq!(year.json["id"], y.id.to_string());
    let list = app
        .get(&format!("/api/terms/?academic_year={}&number=2", y.id))
        .bearer(&trainee.access)
        .send()
        .await;
    assert_eq!(list.json["count"], 1);
    let bad = app
        .get("/api/terms/?number=two")
        .bearer(&trainee.access)
        .send()
        .await;
    bad.assert_status(400);
});
