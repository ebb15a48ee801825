//! Programme–course mappings (contract §3): room types, uniqueness, bulk import.

use crate::common::*;

db_test!(mappings_rules_and_bulk_import, |app| {
    let e = app.enrolled().await;
    let c2 = app
        .course(&e.admin, "COMP102", e.department, 2, 0, 60)
        .await;
    let c3 = app
        .course(&e.admin, "COMP103", e.department, 1, 1, 60)
        .await;
    let url = "/api/programme-course-mappings/";
    let missing_type = app
        .post(url)
        .bearer(&e.admin.access)
        .json(
            &json!({"programme": e.programme, "course": c3, "year_of_study": 1, "term_number": 2,
                      "theory_room_type": "classroom"}),
        )
        .send()
        .await;
    missing_type.assert_status(400);
    assert_eq!(
        missing_type.json["practical_room_type"][0],
        "COMP103 has practical sessions; give the room type they need."
    );
    let bad_type = app
        .post(url)
        .bearer(&e.admin.access)
        .json(
            &json!({"programme": e.programme, "course": c2, "year_of_study": 1, "term_number": 2,
                      "theory_room_type": "ballroom"}),
        )
        .send()
        .await;
    bad_type.assert_status(400);
    assert!(bad_type.json["theory_room_type"].is_array());
    let dup = app
        .post(url)
        .bearer(&e.admin.access)
        .json(&json!({"programme": e.programme, "course": e.course, "year_of_study": 1, "term_number": 1,
                      "theory_room_type": "classroom", "practical_room_type": "lab"}))
        .send()
        .await;
    dup.assert_status(400);
    assert!(dup.json["non_field_errors"].is_array());
    let term5 = app
        .post(url)
        .bearer(&e.admin.access)
        .json(
            &json!({"programme": e.programme, "course": c2, "year_of_study": 3, "term_number": 5,
                      "theory_room_type": "classroom"}),
        )
        .send()
        .await;
    term5.assert_status(400);
    assert!(term5.json["term_number"].is_array());

    // All or nothing.
    let before = app.get(url).bearer(&e.admin.access).send().await.json["count"].clone();
    let bulk = app
        .post(&format!("{url}bulk-import/"))
        .bearer(&e.admin.access)
        .json(&json!({"mappings": [
            {"programme": e.programme, "course": c2, "year_of_study": 1, "term_number": 2, "theory_room_type": "classroom"},
            {"programme": e.programme, "course": c3, "year_of_study": 1, "term_number": 2, "theory_room_type": "classroom"},
        ]}))
        .send()
        .await;
    bulk.assert_status(400);
    assert_eq!(bulk.json["mappings"][0], json!({}));
    assert!(bulk.json["mappings"][1]["practical_room_type"].is_array());
    let after = app.get(url).bearer(&e.admin.access).send().await.json["count"].clone();
    assert_eq!(before, after);
    let dp = app.user("dp_academics").await;
    let ok = app
        .post(&format!("{url}bulk-import/"))
        .bearer(&dp.access)
        .json(&json!({"mappings": [
            {"programme": e.programme, "course": c2, "year_of_study": 1, "term_number": 2, "theory_room_type": "classroom"},
            {"programme": e.programme, "course": c3, "year_of_study": 1, "term_number": 2, "theory_room_type": "classroom", "practical_room_type": "workshop"},
        ]}))
        .send()
        .await;
    ok.assert_status(201);
    assert_eq!(ok.json["created"], 2);

    // Filters and scope.
    let by_course = app
        .get(&format!("{url}?course={c2}"))
        .bearer(&e.hod.access)
        .send()
        .await;
    assert_eq!(by_course.json["count"], 1);
    app.get(&format!("{url}?course=zzz"))
        .bearer(&e.hod.access)
        .send()
        .await
        .assert_status(400);
    let other_hod = app.user("hod").await;
    let none = app.get(url).bearer(&other_hod.access).send().await;
    assert_eq!(none.json["count"], 0);
    app.get(&format!("{url}{}/", e.mapping))
        .bearer(&other_hod.access)
        .send()
        .await
        .assert_status(404);
    app.post(url)
        .bearer(&e.trainer.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(403);
    app.patch(&format!("{url}{}/", e.mapping))
        .bearer(&e.trainees[0].access)
        .json(&json!({"is_core": false}))
        .send()
        .await
        .assert_status(403);
    let patched = app
        .patch(&format!("{url}{}/", e.mapping))
        .bearer(&e.hod.access)
        .json(&json!({"is_core": false}))
        .send()
        .await;
    patched.assert_status(200);
    assert_eq!(patched.json["is_core"], false);
});
