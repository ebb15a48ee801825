//! Topics and subtopics (contract §3): order, minutes, reorder, scope.

use crate::common::*;

db_test!(topics_and_subtopics, |app| {
    let e = app.enrolled().await;
    let base = format!("/api/courses/{}/topics/", e.course);
    let loops = app
        .post(&base)
        .bearer(&e.hod.access)
        .json(&json!({"title": "Loops", "duration_minutes": 120}))
        .send()
        .await;
    loops.assert_status(201);
    assert_eq!(loops.json["order"], 1);
    let loops = id_of(&loops.json);
    let vars = app
        .post("/api/topics/")
        .bearer(&e.admin.access)
        .json(&json!({"course": e.course, "title": "Variables", "duration_minutes": 60}))
        .send()
        .await;
    vars.assert_status(201);
    assert_eq!(vars.json["order"], 2);
    let vars = id_of(&vars.json);
    let taken = app
        .post(&base)
        .bearer(&e.admin.access)
        .json(&json!({"title": "Functions", "order": 1, "duration_minutes": 60}))
        .send()
        .await;
    taken.assert_status(400);
    assert!(taken.json["order"].is_array());
    let zero = app
        .post(&base)
        .bearer(&e.admin.access)
        .json(&json!({"title": "Nothing", "duration_minutes": 0}))
        .send()
        .await;
    zero.assert_status(400);
    assert!(zero.json["duration_minutes"].is_array());

    // Subtopics never exceed the topic's minutes.
    let subs = format!("/api/topics/{loops}/subtopics/");
    let s1 = app
        .post(&subs)
        .bearer(&e.hod.access)
        .json(&json!({"title": "for", "duration_minutes": 90}))
        .send()
        .await;
    s1.assert_status(201);
    let s1 = id_of(&s1.json);
    let over = app
        .post(&subs)
        .bearer(&e.hod.access)
        .json(&json!({"title": "while", "duration_minutes": 60}))
        .send()
        .await;
    over.assert_status(400);
    assert_eq!(
        over.json,
        json!({"duration_minutes": ["Subtopics of 'Loops' would take 150 of its 120 minutes."]})
    );
    let grow = app
        .patch(&format!("/api/subtopics/{s1}/"))
        .bearer(&e.hod.access)
        .json(&json!({"duration_minutes": 130}))
        .send()
        .await;
    grow.assert_status(400);
    let shrink = app
        .patch(&format!("/api/topics/{loops}/"))
        .bearer(&e.hod.access)
        .json(&json!({"duration_minutes": 60}))
        .send()
        .await;
    shrink.assert_status(400);
    assert_eq!(
        shrink.json["duration_minutes"][0],
        "Subtopics of 'Loops' would take 90 of its 60 minutes."
    );
    app.post(&subs)
        .bearer(&e.hod.access)
        .json(&json!({"title": "while", "duration_minutes": 30}))
        .send()
        .await
        .assert_status(201);

    // Reorder renumbers 1..n.
    let reorder = format!("/api/courses/{}/topics/reorder/", e.course);
    let r = app
        .post(&reorder)
        .bearer(&e.hod.access)
        .json(&json!({"order": [vars, loops]}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json[0]["id"], vars.to_string());
    assert_eq!(r.json[0]["order"], 1);
    assert_eq!(r.json[1]["order"], 2);
    assert_eq!(r.json[1]["subtopics"].as_array().unwrap().len(), 2);
    let partial = app
        .post(&reorder)
        .bearer(&e.hod.access)
        .json(&json!({"order": [vars]}))
        .send()
        .await;
    partial.assert_status(400);
    let twice = app
        .post(&reorder)
        .bearer(&e.hod.access)
        .json(&json!({"order": [vars, vars]}))
        .send()
        .await;
    twice.assert_status(400);

    // Trainees read their course's topics; may not write; outsiders 404.
    let list = app.get(&base).bearer(&e.trainees[0].access).send().await;
    list.assert_status(200);
    assert_eq!(list.json["count"], 2);
    assert_eq!(list.json["results"][0]["title"], "Variables");
    let flat = app
        .get(&format!("/api/topics/?course={}", e.course))
        .bearer(&e.trainer.access)
        .send()
        .await;
    assert_eq!(flat.json["count"], 2);
    app.post(&base)
        .bearer(&e.trainees[0].access)
        .json(&json!({"title": "Mine", "duration_minutes": 10}))
        .send()
        .await
        .assert_status(403);
    let outsider = app.user("trainee").await;
    app.get(&base)
        .bearer(&outsider.access)
        .send()
        .await
        .assert_status(404);
    app.get(&format!("/api/topics/{loops}/"))
        .bearer(&outsider.access)
        .send()
        .await
        .assert_status(404);
    let course = app
        .get(&format!("/api/courses/{}/", e.course))
        .bearer(&e.admin.access)
        .send()
        .await;
    assert_eq!(course.json["topic_count"], 2);
    assert_eq!(course.json["total_topic_minutes"], 180);
    app.delete(&format!("/api/topics/{loops}/"))
        .bearer(&e.hod.access)
        .send()
        .await
        .assert_status(204);
    app.get(&format!("/api/subtopics/{s1}/"))
        .bearer(&e.hod.access)
        .send()
        .await
        .assert_status(404);
});
