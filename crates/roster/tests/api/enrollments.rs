//! Enrollments (contract §3): every rule with its message, status moves,
//! trainer changes, scope.

use crate::common::*;

db_test!(enrollment_rules, |app| {
    let e = app.enrolled().await;
    let post = |body: Value| {
        let app = &app;
        let token = e.admin.access.clone();
        async move {
            app.post("/api/enrollments/")
                .bearer(&token)
                .json(&body)
                .send()
                .await
        }
    };
    // Not mapped for term 2.
    let unmapped = post(
        json!({"class_group": e.class_group, "course": e.course, "academic_year": e.year.id,
                               "term": e.year.terms[1], "trainer": e.trainer.id}),
    )
    .await;
    unmapped.assert_status(400);
    let programme = app
        .get(&format!("/api/programmes/{}/", e.programme))
        .bearer(&e.admin.access)
        .send()
        .await;
    assert_eq!(
        unmapped.json["course"][0],
        format!(
            "COMP101 is not mapped to {}, year 1, term 2.",
            programme.json["name"].as_str().unwrap()
        )
    );
    // Same class group, course and term.
    let twin = post(
        json!({"class_group": e.class_group, "course": e.course, "academic_year": e.year.id,
                           "term": e.year.terms[0]}),
    )
    .await;
    twin.assert_status(400);
    assert!(twin.json["non_field_errors"].is_array());

    // A trainer outside the course's department.
    let c2 = app
        .course(&e.admin, "COMP102", e.department, 3, 3, 120)
        .await;
    app.mapping(&e.admin, e.programme, c2, 1).await;
    let outsider = app.user("trainer").await;
    let foreign = post(
        json!({"class_group": e.class_group, "course": c2, "academic_year": e.year.id,
                              "term": e.year.terms[0], "trainer": outsider.id}),
    )
    .await;
    foreign.assert_status(400);
    assert_eq!(
        foreign.json["trainer"][0],
        "Trainer must belong to the ICT department."
    );
    let not_trainer = post(
        json!({"class_group": e.class_group, "course": c2, "academic_year": e.year.id,
                                  "term": e.year.terms[0], "trainer": e.hod.id}),
    )
    .await;
    not_trainer.assert_status(400);
    // 3 hours already + 12 = 15: fine; another 12 → 27 > 20.
    let r = post(
        json!({"class_group": e.class_group, "course": c2, "academic_year": e.year.id,
                        "term": e.year.terms[0], "trainer": e.trainer.id}),
    )
    .await;
    r.assert_status(201);
    assert_eq!(r.json["weekly_hours"], 12.0);
    let c3 = app
        .course(&e.admin, "COMP103", e.department, 3, 0, 120)
        .await;
    app.mapping(&e.admin, e.programme, c3, 1).await;
    let heavy = post(
        json!({"class_group": e.class_group, "course": c3, "academic_year": e.year.id,
                            "term": e.year.terms[0], "trainer": e.trainer.id}),
    )
    .await;
    heavy.assert_status(400);
    assert_eq!(
        heavy.json["trainer"][0],
        "This would give the trainer 21 weekly hours; the limit is 20."
    );
    let missing = post(json!({"class_group": e.class_group})).await;
    missing.assert_status(400);
    assert!(missing.json["course"].is_array() && missing.json["term"].is_array());
    let junk = post(json!({"class_group": "x", "course": 1, "academic_year": e.year.id, "term": e.year.terms[0]})).await;
    junk.assert_status(400);
});

db_test!(prerequisites_and_status_moves, |app| {
    let e = app.enrolled().await;
    let c2 = app
        .course(&e.admin, "COMP201", e.department, 1, 0, 60)
        .await;
    app.patch(&format!("/api/courses/{c2}/"))
        .bearer(&e.admin.access)
        .json(&json!({"prerequisites": [e.course]}))
        .send()
        .await
        .assert_status(200);
    app.mapping(&e.admin, e.programme, c2, 2).await;
    let body = json!({"class_group": e.class_group, "course": c2, "academic_year": e.year.id, "term": e.year.terms[1]});
    let early = app
        .post("/api/enrollments/")
        .bearer(&e.hod.access)
        .json(&body)
        .send()
        .await;
    early.assert_status(400);
    assert_eq!(
        early.json["course"][0],
        "Prerequisite COMP101 has not been completed by CS-1A."
    );

    let url = format!("/api/enrollments/{}/", e.enrollment);
    let skip = app
        .patch(&url)
        .bearer(&e.hod.access)
        .json(&json!({"status": "completed"}))
        .send()
        .await;
    skip.assert_status(400);
    assert!(skip.json["status"].is_array());
    app.patch(&url)
        .bearer(&e.hod.access)
        .json(&json!({"status": "in_progress"}))
        .send()
        .await
        .assert_status(200);
    let done = app
        .patch(&url)
        .bearer(&e.hod.access)
        .json(&json!({"status": "completed"}))
        .send()
        .await;
    done.assert_status(200);
    assert_eq!(done.json["status"], "completed");
    let cancel = app
        .patch(&url)
        .bearer(&e.hod.access)
        .json(&json!({"status": "cancelled"}))
        .send()
        .await;
    cancel.assert_status(400);
    let bad = app
        .patch(&url)
        .bearer(&e.hod.access)
        .json(&json!({"status": "paused"}))
        .send()
        .await;
    bad.assert_status(400);

    app.post("/api/enrollments/")
        .bearer(&e.hod.access)
        .json(&body)
        .send()
        .await
        .assert_status(201);
});

db_test!(trainer_change_notifies_both, |app| {
    let e = app.enrolled().await;
    let new_trainer = app.user("trainer").await;
    let url = format!("/api/enrollments/{}/", e.enrollment);
    let outside = app
        .patch(&url)
        .bearer(&e.hod.access)
        .json(&json!({"trainer": new_trainer.id}))
        .send()
        .await;
    outside.assert_status(400);
    assert_eq!(
        outside.json["trainer"][0],
        "Trainer must belong to the ICT department."
    );
    app.post(&format!("/api/departments/{}/trainers/", e.department))
        .bearer(&e.hod.access)
        .json(&json!({"trainer_ids": [new_trainer.id]}))
        .send()
        .await
        .assert_status(200);
    let r = app
        .patch(&url)
        .bearer(&e.hod.access)
        .json(&json!({"trainer": new_trainer.id}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["trainer"], new_trainer.id.to_string());
    use roster::entities::notification;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    for who in [e.trainer.id, new_trainer.id] {
        let notes = notification::Entity::find()
            .filter(notification::Column::UserId.eq(who))
            .all(app.db())
            .await
            .unwrap();
        assert_eq!(notes.len(), 1, "one notification for {who}");
        assert_eq!(
            notes[0].related_object_id.as_deref(),
            Some(e.enrollment.to_string().as_str())
        );
    }
    // The old trainer no longer sees it.
    app.get(&url)
        .bearer(&e.trainer.access)
        .send()
        .await
        .assert_status(404);
    app.get(&url)
        .bearer(&new_trainer.access)
        .send()
        .await
        .assert_status(200);
});

db_test!(enrollments_are_scoped, |app| {
    let e = app.enrolled().await;
    let url = format!("/api/enrollments/{}/", e.enrollment);
    for actor in [&e.trainer, &e.trainees[1], &e.hod] {
        app.get(&url)
            .bearer(&actor.access)
            .send()
            .await
            .assert_status(200);
    }
    let other_hod = app.user("hod").await;
    let stranger = app.user("trainee").await;
    for actor in [&other_hod, &stranger] {
        app.get(&url)
            .bearer(&actor.access)
            .send()
            .await
            .assert_status(404);
        let list = app
            .get("/api/enrollments/")
            .bearer(&actor.access)
            .send()
            .await;
        assert_eq!(list.json["count"], 0);
    }
    app.patch(&url)
        .bearer(&e.trainer.access)
        .json(&json!({"notes": "x"}))
        .send()
        .await
        .assert_status(403);
    app.post("/api/enrollments/")
        .bearer(&e.trainer.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(403);
    app.get("/api/enrollments/").send().await.assert_status(401);
    let trainees = app
        .get(&format!("{url}trainees/"))
        .bearer(&e.trainer.access)
        .send()
        .await;
    trainees.assert_status(200);
    assert_eq!(trainees.json.as_array().unwrap().len(), 2);
    app.get(&format!("{url}trainees/"))
        .bearer(&e.trainees[0].access)
        .send()
        .await
        .assert_status(403);
    let stats = app
        .get(&format!("{url}attendance-stats/"))
        .bearer(&e.hod.access)
        .send()
        .await;
    stats.assert_status(200);
    assert_eq!(stats.json["sessions_held"], 0);
    assert_eq!(stats.json["by_trainee"].as_array().unwrap().len(), 2);
    let filtered = app
        .get(&format!(
            "/api/enrollments/?term={}&status=scheduled",
            e.year.terms[0]
        ))
        .bearer(&e.admin.access)
        .send()
        .await;
    assert_eq!(filtered.json["count"], 1);
    app.get("/api/enrollments/?status=nope")
        .bearer(&e.admin.access)
        .send()
        .await
        .assert_status(400);
    app.delete(&url)
        .bearer(&e.trainer.access)
        .send()
        .await
        .assert_status(403);
    app.delete(&url)
        .bearer(&e.hod.access)
        .send()
        .await
        .assert_status(204);
});
