//! Departments (contract §2): HOD rule, trainers, school first, delete 409, stats.

use crate::common::*;

db_test!(department_needs_the_school_and_a_real_hod, |app| {
    let admin = app.admin().await;
    let hod = app
        .user_named("hod", "hod-mech@example.org", "Ada", "Head")
        .await;
    let early = app
        .post("/api/departments/")
        .bearer(&admin.access)
        .json(&json!({"name": "Mechanical", "code": "MECH"}))
        .send()
        .await;
    early.assert_status(400);
    assert_eq!(
        early.json,
        json!({"non_field_errors": ["Create the school first."]})
    );

    app.school(&admin).await;
    let r = app
        .post("/api/departments/")
        .bearer(&admin.access)
        .json(&json!({"name": "Mechanical", "code": "mech-1", "hod": hod.id}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["code"], "MECH-1");
    assert_eq!(r.json["hod"], hod.id.to_string());
    assert_eq!(r.json["stats"]["total_programmes"], 0);

    let twice = app
        .post("/api/departments/")
        .bearer(&admin.access)
        .json(&json!({"name": "Electrical", "code": "ELEC", "hod": hod.id}))
        .send()
        .await;
    twice.assert_status(400);
    assert_eq!(twice.json["hod"][0], "This HOD already heads Mechanical.");

    let trainer = app
        .user_named("trainer", "t-jo@example.org", "Jo", "Smith")
        .await;
    let not_hod = app
        .post("/api/departments/")
        .bearer(&admin.access)
        .json(&json!({"name": "Electrical", "code": "ELEC", "hod": trainer.id}))
        .send()
        .await;
    not_hod.assert_status(400);
    assert_eq!(not_hod.json["hod"][0], "User must have the HOD role.");

    let not_trainer = app
        .post("/api/departments/")
        .bearer(&admin.access)
        .json(&json!({"name": "Electrical", "code": "ELEC", "trainers": [hod.id]}))
        .send()
        .await;
    not_trainer.assert_status(400);
    assert_eq!(
        not_trainer.json["trainers"][0],
        "Ada Head is not a trainer."
    );

    let dup = app
        .post("/api/departments/")
        .bearer(&admin.access)
        .json(&json!({"name": "Mechanical", "code": "MECH-1"}))
        .send()
        .await;
    dup.assert_status(400);
    assert!(dup.json["name"].is_array() && dup.json["code"].is_array());

    let bad = app
        .post("/api/departments/")
        .bearer(&admin.access)
        .json(&json!({"name": "Weird", "code": "A B!", "hod": "nope"}))
        .send()
        .await;
    bad.assert_status(400);
    assert!(bad.json["code"].is_array());
    assert_eq!(
        bad.json["hod"][0],
        "Invalid pk \"nope\" - object does not exist."
    );

    let hod2 = app.user("hod").await;
    app.post("/api/departments/")
        .bearer(&hod2.access)
        .json(&json!({"name": "Electrical", "code": "ELEC"}))
        .send()
        .await
        .assert_status(403);
    app.get("/api/departments/").send().await.assert_status(401);
    let list = app
        .get("/api/departments/?search=mech")
        .bearer(&trainer.access)
        .send()
        .await;
    list.assert_status(200);
    assert_eq!(list.json["count"], 1);
    let bad_filter = app
        .get("/api/departments/?hod=xyz")
        .bearer(&trainer.access)
        .send()
        .await;
    bad_filter.assert_status(400);
    assert!(bad_filter.json["hod"].is_array());
});

db_test!(department_trainers_and_deletion, |app| {
    let e = app.enrolled().await;
    let other_trainer = app.user("trainer").await;
    let url = format!("/api/departments/{}/trainers/", e.department);

    // The department's own HOD adds a trainer; another HOD may not.
    let stranger = app.user("hod").await;
    app.post(&url)
        .bearer(&stranger.access)
        .json(&json!({"trainer_ids": [other_trainer.id]}))
        .send()
        .await
        .assert_status(403);
    let r = app
        .post(&url)
        .bearer(&e.hod.access)
        .json(&json!({"trainer_ids": [other_trainer.id]}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["trainers"].as_array().unwrap().len(), 2);
    assert_eq!(r.json["stats"]["total_trainers"], 2);
    assert_eq!(r.json["stats"]["total_programmes"], 1);
    assert_eq!(r.json["stats"]["total_class_groups"], 1);
    assert_eq!(r.json["stats"]["total_trainees"], 2);

    let not_trainer = app
        .post(&url)
        .bearer(&e.admin.access)
        .json(&json!({"trainer_ids": [e.trainees[0].id]}))
        .send()
        .await;
    not_trainer.assert_status(400);
    assert!(
        not_trainer.json["trainer_ids"][0]
            .as_str()
            .unwrap()
            .ends_with("is not a trainer.")
    );

    // Teaching in the current term: 409.
    let busy = app
        .delete(&format!("{url}{}/", e.trainer.id))
        .bearer(&e.hod.access)
        .send()
        .await;
    busy.assert_status(409);
    app.delete(&format!("{url}{}/", other_trainer.id))
        .bearer(&e.hod.access)
        .send()
        .await
        .assert_status(204);
    app.delete(&format!("{url}{}/", other_trainer.id))
        .bearer(&e.hod.access)
        .send()
        .await
        .assert_status(404);
    app.delete(&format!("{url}not-a-uuid/"))
        .bearer(&e.hod.access)
        .send()
        .await
        .assert_status(404);

    // Programmes and courses keep a department.
    let del = app
        .delete(&format!("/api/departments/{}/", e.department))
        .bearer(&e.admin.access)
        .send()
        .await;
    del.assert_status(409);
    let empty = app.department(&e.admin, "EMPTY", None, &[]).await;
    app.delete(&format!("/api/departments/{empty}/"))
        .bearer(&e.hod.access)
        .send()
        .await
        .assert_status(403);
    app.delete(&format!("/api/departments/{empty}/"))
        .bearer(&e.admin.access)
        .send()
        .await
        .assert_status(204);
    app.get(&format!("/api/departments/{empty}/"))
        .bearer(&e.admin.access)
        .send()
        .await
        .assert_status(404);

    let patched = app
        .patch(&format!("/api/departments/{}/", e.department))
        .bearer(&e.admin.access)
        .json(&json!({"hod": null, "description": "Computing"}))
        .send()
        .await;
    patched.assert_status(200);
    assert_eq!(patched.json["hod"], Value::Null);
    assert_eq!(patched.json["description"], "Computing");
});
