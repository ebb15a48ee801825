//! Programmes (contract §2): name unique per department, HOD scope.

use crate::common::*;

db_test!(programmes_are_scoped_to_the_department, |app| {
    let admin = app.admin().await;
    let hod = app.user("hod").await;
    let other_hod = app.user("hod").await;
    app.school(&admin).await;
    let ict = app.department(&admin, "ICT", Some(&hod), &[]).await;
    let mech = app.department(&admin, "MECH", Some(&other_hod), &[]).await;

    let body = json!({"name": "Diploma in IT", "code": "dit", "department": ict, "level": "diploma", "duration_years": 3});
    let r = app
        .post("/api/programmes/")
        .bearer(&hod.access)
        .json(&body)
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["code"], "DIT");
    assert_eq!(r.json["class_group_count"], 0);
    let id = id_of(&r.json);

    // Same name in the same department: refused; in another: fine.
    let dup = app
        .post("/api/programmes/")
        .bearer(&admin.access)
        .json(&json!({"name": "Diploma in IT", "code": "DIT2", "department": ict, "level": "diploma", "duration_years": 2}))
        .send()
        .await;
    dup.assert_status(400);
    assert_eq!(
        dup.json["name"][0],
        "A programme with this name already exists in this department."
    );
    app.post("/api/programmes/")
        .bearer(&admin.access)
        .json(&json!({"name": "Diploma in IT", "code": "DIT3", "department": mech, "level": "diploma", "duration_years": 2}))
        .send()
        .await
        .assert_status(201);

    // A HOD writes only in their own department.
    let foreign = app
        .post("/api/programmes/")
        .bearer(&other_hod.access)
        .json(&json!({"name": "X", "code": "X1", "department": ict, "level": "degree", "duration_years": 4}))
        .send()
        .await;
    foreign.assert_status(403);
    app.get(&format!("/api/programmes/{id}/"))
        .bearer(&other_hod.access)
        .send()
        .await
        .assert_status(404);
    app.patch(&format!("/api/programmes/{id}/"))
        .bearer(&other_hod.access)
        .json(&json!({"name": "Y"}))
        .send()
        .await
        .assert_status(404);
    let mine = app
        .get("/api/programmes/")
        .bearer(&other_hod.access)
        .send()
        .await;
    assert_eq!(mine.json["count"], 1);
    let all = app
        .get("/api/programmes/?level=diploma")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(all.json["count"], 2);
    let bad = app
        .get("/api/programmes/?level=phd")
        .bearer(&admin.access)
        .send()
        .await;
    bad.assert_status(400);
    assert!(bad.json["level"].is_array());

    let invalid = app
        .post("/api/programmes/")
        .bearer(&admin.access)
        .json(&json!({"name": "Z", "code": "Z", "department": Uuid::new_v4(), "level": "phd", "duration_years": 9}))
        .send()
        .await;
    invalid.assert_status(400);
    assert!(
        invalid.json["department"][0]
            .as_str()
            .unwrap()
            .starts_with("Invalid pk")
    );
    assert!(invalid.json["level"].is_array());
    assert!(invalid.json["duration_years"].is_array());

    let trainer = app.user("trainer").await;
    app.post("/api/programmes/")
        .bearer(&trainer.access)
        .json(&body)
        .send()
        .await
        .assert_status(403);
    let patched = app
        .patch(&format!("/api/programmes/{id}/"))
        .bearer(&hod.access)
        .json(&json!({"is_active": false}))
        .send()
        .await;
    patched.assert_status(200);
    assert_eq!(patched.json["is_active"], false);
    app.delete(&format!("/api/programmes/{id}/"))
        .bearer(&hod.access)
        .send()
        .await
        .assert_status(204);
});
