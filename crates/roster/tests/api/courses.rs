//! Courses (contract §3): ranges, prerequisites and cycles, tree, stats, scope.

use crate::common::*;

db_test!(course_fields_are_validated, |app| {
    let admin = app.admin().await;
    app.school(&admin).await;
    let dept = app.department(&admin, "ICT", None, &[]).await;
    let r = app
        .post("/api/courses/")
        .bearer(&admin.access)
        .json(&json!({"code": "comp101", "name": "Programming", "department": dept}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["code"], "COMP101");
    assert_eq!(r.json["theory_sessions_per_week"], 1);
    assert_eq!(r.json["practical_sessions_per_week"], 0);
    assert_eq!(r.json["session_duration_minutes"], 60);
    assert_eq!(r.json["weekly_hours"], 1.0);
    assert_eq!(r.json["topic_count"], 0);

    let bad = app
        .post("/api/courses/")
        .bearer(&admin.access)
        .json(&json!({"code": "COMP101", "name": "X", "department": dept, "session_duration_minutes": 50,
                      "theory_sessions_per_week": 21, "credit_hours": -1}))
        .send()
        .await;
    bad.assert_status(400);
    assert!(bad.json["code"].is_array());
    assert_eq!(
        bad.json["session_duration_minutes"][0],
        "Ensure this value is a multiple of 15."
    );
    assert!(bad.json["theory_sessions_per_week"].is_array());
    assert!(bad.json["credit_hours"].is_array());
    let none = app
        .post("/api/courses/")
        .bearer(&admin.access)
        .json(&json!({"code": "NONE1", "name": "X", "department": dept, "theory_sessions_per_week": 0}))
        .send()
        .await;
    none.assert_status(400);
    assert!(none.json["non_field_errors"].is_array());
    let long = app
        .post("/api/courses/")
        .bearer(&admin.access)
        .json(&json!({"code": "L1", "name": "X", "department": dept, "session_duration_minutes": 255}))
        .send()
        .await;
    long.assert_status(400);
    let trainer = app.user("trainer").await;
    app.post("/api/courses/")
        .bearer(&trainer.access)
        .json(&json!({"code": "T1", "name": "X", "department": dept}))
        .send()
        .await
        .assert_status(403);
    app.post("/api/courses/").send().await.assert_status(401);
});

db_test!(prerequisites_refuse_cycles, |app| {
    let admin = app.admin().await;
    app.school(&admin).await;
    let dept = app.department(&admin, "ICT", None, &[]).await;
    let c101 = app.course(&admin, "COMP101", dept, 1, 0, 60).await;
    let c201 = app.course(&admin, "COMP201", dept, 1, 0, 60).await;
    let c301 = app.course(&admin, "COMP301", dept, 1, 0, 60).await;
    let set = |id: Uuid, prereqs: Vec<Uuid>| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            app.patch(&format!("/api/courses/{id}/"))
                .bearer(&token)
                .json(&json!({"prerequisites": prereqs}))
                .send()
                .await
        }
    };
    set(c201, vec![c101]).await.assert_status(200);
    set(c301, vec![c201]).await.assert_status(200);
    let cycle = set(c101, vec![c201]).await;
    cycle.assert_status(400);
    assert_eq!(
        cycle.json,
        json!({"prerequisites": ["Circular prerequisite: COMP101 \u{2192} COMP201 \u{2192} COMP101."]})
    );
    let long = set(c101, vec![c301]).await;
    long.assert_status(400);
    assert_eq!(
        long.json["prerequisites"][0],
        "Circular prerequisite: COMP101 \u{2192} COMP301 \u{2192} COMP201 \u{2192} COMP101."
    );
    let own = set(c101, vec![c101]).await;
    own.assert_status(400);
    assert_eq!(
        own.json["prerequisites"][0],
        "A course cannot be its own prerequisite."
    );
    let unknown = set(c101, vec![Uuid::new_v4()]).await;
    unknown.assert_status(400);
    assert!(
        unknown.json["prerequisites"][0]
            .as_str()
            .unwrap()
            .starts_with("Invalid pk")
    );

    let tree = app
        .get(&format!("/api/courses/{c301}/prerequisite-tree/"))
        .bearer(&admin.access)
        .send()
        .await;
    tree.assert_status(200);
    assert_eq!(tree.json["code"], "COMP301");
    assert_eq!(tree.json["prerequisites"][0]["code"], "COMP201");
    assert_eq!(
        tree.json["prerequisites"][0]["prerequisites"][0]["code"],
        "COMP101"
    );
    assert_eq!(
        tree.json["prerequisites"][0]["prerequisites"][0]["prerequisites"],
        json!([])
    );
});

db_test!(courses_are_scoped_and_stats_have_their_shape, |app| {
    let e = app.enrolled().await;
    let url = format!("/api/courses/{}/", e.course);
    // The trainer teaching it, the trainees taking it, the department's HOD.
    for actor in [&e.trainer, &e.trainees[0], &e.hod] {
        app.get(&url)
            .bearer(&actor.access)
            .send()
            .await
            .assert_status(200);
    }
    let outsider = app.user("trainer").await;
    app.get(&url)
        .bearer(&outsider.access)
        .send()
        .await
        .assert_status(404);
    let other_hod = app.user("hod").await;
    app.get(&url)
        .bearer(&other_hod.access)
        .send()
        .await
        .assert_status(404);
    app.patch(&url)
        .bearer(&e.trainer.access)
        .json(&json!({"name": "Mine"}))
        .send()
        .await
        .assert_status(403);
    let dp = app.user("dp_academics").await;
    let r = app
        .patch(&url)
        .bearer(&dp.access)
        .json(&json!({"name": "Programming I"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["weekly_hours"], 3.0);

    let stats = app
        .get(&format!("{url}attendance-stats/"))
        .bearer(&e.hod.access)
        .send()
        .await;
    stats.assert_status(200);
    assert_eq!(stats.json["sessions_held"], 0);
    assert_eq!(stats.json["attendance_rate"], Value::Null);
    assert_eq!(stats.json["punctuality_rate"], Value::Null);
    assert_eq!(
        stats.json["by_enrollment"][0]["enrollment"],
        e.enrollment.to_string()
    );
    assert_eq!(
        stats.json["by_enrollment"][0]["class_group"],
        e.class_group.to_string()
    );
    app.get(&format!("{url}attendance-stats/"))
        .bearer(&e.trainees[0].access)
        .send()
        .await
        .assert_status(403);

    // Enrollments keep a course.
    app.delete(&url)
        .bearer(&e.admin.access)
        .send()
        .await
        .assert_status(409);
    let spare = app.course(&e.admin, "SPARE1", e.department, 1, 0, 60).await;
    app.delete(&format!("/api/courses/{spare}/"))
        .bearer(&e.hod.access)
        .send()
        .await
        .assert_status(204);
    let listed = app
        .get("/api/courses/?search=comp")
        .bearer(&e.trainees[0].access)
        .send()
        .await;
    assert_eq!(listed.json["count"], 1);
});
