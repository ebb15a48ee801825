//! Class groups (contract §2): one class group per trainee per year, capacity, scope.

use crate::common::*;

db_test!(class_group_membership_rules, |app| {
    let e = app.enrolled().await;
    let jane = app
        .user_named("trainee", "jane@example.org", "Jane", "Doe")
        .await;
    let cs1b = app
        .class_group(&e.admin, "CS-1B", e.programme, e.year.id, &[])
        .await;
    let add = |group: Uuid, ids: Vec<Uuid>| {
        let app = &app;
        let token = e.hod.access.clone();
        async move {
            app.post(&format!("/api/class-groups/{group}/trainees/"))
                .bearer(&token)
                .json(&json!({"trainee_ids": ids}))
                .send()
                .await
        }
    };
    let r = add(e.class_group, vec![jane.id]).await;
    r.assert_status(200);
    assert_eq!(r.json["trainee_count"], 3);
    let again = add(cs1b, vec![jane.id]).await;
    again.assert_status(400);
    assert_eq!(
        again.json["trainee_ids"][0],
        format!("Jane Doe is already in CS-1A for {}.", e.year.name)
    );
    let create = app
        .post("/api/class-groups/")
        .bearer(&e.admin.access)
        .json(
            &json!({"name": "CS-1C", "programme": e.programme, "academic_year": e.year.id,
                      "year_of_study": 1, "trainees": [jane.id]}),
        )
        .send()
        .await;
    create.assert_status(400);
    assert_eq!(
        create.json["trainees"][0],
        format!("Jane Doe is already in CS-1A for {}.", e.year.name)
    );
    app.get("/api/class-groups/?search=CS-1C")
        .bearer(&e.admin.access)
        .send()
        .await;

    let not_trainee = add(cs1b, vec![e.trainer.id]).await;
    not_trainee.assert_status(400);

    // Capacity.
    let small = app
        .patch(&format!("/api/class-groups/{cs1b}/"))
        .bearer(&e.hod.access)
        .json(&json!({"capacity": 1}))
        .send()
        .await;
    small.assert_status(200);
    let a = app.user("trainee").await;
    let b = app.user("trainee").await;
    let over = add(cs1b, vec![a.id, b.id]).await;
    over.assert_status(400);
    assert!(
        over.json["trainee_ids"][0]
            .as_str()
            .unwrap()
            .contains("holds at most 1")
    );
    add(cs1b, vec![a.id]).await.assert_status(200);

    // Remove, then the trainee may join another class group.
    app.delete(&format!(
        "/api/class-groups/{}/trainees/{}/",
        e.class_group, jane.id
    ))
    .bearer(&e.hod.access)
    .send()
    .await
    .assert_status(204);
    app.delete(&format!(
        "/api/class-groups/{}/trainees/{}/",
        e.class_group, jane.id
    ))
    .bearer(&e.hod.access)
    .send()
    .await
    .assert_status(404);
    let members = app
        .get(&format!("/api/class-groups/{}/trainees/", e.class_group))
        .bearer(&e.trainer.access)
        .send()
        .await;
    members.assert_status(200);
    assert_eq!(members.json.as_array().unwrap().len(), 2);

    // Year of study bound by the programme (2 years).
    let y3 = app
        .post("/api/class-groups/")
        .bearer(&e.admin.access)
        .json(&json!({"name": "CS-3A", "programme": e.programme, "academic_year": e.year.id, "year_of_study": 3}))
        .send()
        .await;
    y3.assert_status(400);
    assert!(y3.json["year_of_study"].is_array());
    let dup = app
        .post("/api/class-groups/")
        .bearer(&e.admin.access)
        .json(&json!({"name": "CS-1A", "programme": e.programme, "academic_year": e.year.id, "year_of_study": 1}))
        .send()
        .await;
    dup.assert_status(400);
    assert!(dup.json["name"].is_array());
    let junk = app
        .post("/api/class-groups/")
        .bearer(&e.admin.access)
        .json(&json!({"name": 5, "programme": "x"}))
        .send()
        .await;
    junk.assert_status(400);
});

db_test!(class_groups_are_scoped, |app| {
    let e = app.enrolled().await;
    let other_hod = app.user("hod").await;
    app.department(&e.admin, "MECH", Some(&other_hod), &[])
        .await;
    let url = format!("/api/class-groups/{}/", e.class_group);
    app.get(&url)
        .bearer(&other_hod.access)
        .send()
        .await
        .assert_status(404);
    app.patch(&url)
        .bearer(&other_hod.access)
        .json(&json!({"capacity": 5}))
        .send()
        .await
        .assert_status(404);
    // Trainer teaching it and trainees in it read it; may not change it.
    app.get(&url)
        .bearer(&e.trainer.access)
        .send()
        .await
        .assert_status(200);
    let r = app.get(&url).bearer(&e.trainees[0].access).send().await;
    r.assert_status(200);
    assert_eq!(r.json["department"], e.department.to_string());
    assert_eq!(r.json["trainee_count"], 2);
    app.patch(&url)
        .bearer(&e.trainees[0].access)
        .json(&json!({"capacity": 5}))
        .send()
        .await
        .assert_status(403);
    let outsider = app.user("trainee").await;
    app.get(&url)
        .bearer(&outsider.access)
        .send()
        .await
        .assert_status(404);
    let none = app
        .get("/api/class-groups/")
        .bearer(&outsider.access)
        .send()
        .await;
    assert_eq!(none.json["count"], 0);
    let by_dept = app
        .get(&format!("/api/class-groups/?department={}", e.department))
        .bearer(&e.admin.access)
        .send()
        .await;
    assert_eq!(by_dept.json["count"], 1);
    app.get("/api/class-groups/?department=nope")
        .bearer(&e.admin.access)
        .send()
        .await
        .assert_status(400);
    // Enrollments keep a class group.
    app.delete(&url)
        .bearer(&e.hod.access)
        .send()
        .await
        .assert_status(409);
    app.get("/api/class-groups/")
        .send()
        .await
        .assert_status(401);
});
