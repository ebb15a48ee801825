//! Schedules (contract §4): `my_schedule` for trainers and trainees by
//! date, a class group's weekly grid and the cached
//! `/api/class-group-schedules/` rebuilt on publish and on `regenerate`.

use chrono::Datelike;

use crate::common::*;
use crate::timetable::{ENTRIES, body, entry, tt};

const MINE: &str = "/api/timetable/my_schedule/";

db_test!(my_schedule_by_date, |app| {
    let t = tt(&app).await;
    let admin = &t.e.admin;
    let id = id_of(
        &entry(
            &app,
            admin,
            body(t.e.enrollment, t.b12, "monday", "08:00", "10:00"),
        )
        .await,
    );
    entry(
        &app,
        admin,
        body(t.comp102, t.b12, "tuesday", "08:00", "09:00"),
    )
    .await; // a draft
    app.post(&format!("{ENTRIES}{id}/publish/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);

    // The coming Monday, and the week from it (inside term 1).
    let today = chrono::Utc::now().date_naive();
    let monday = today + chrono::Days::new(u64::from(7 - today.weekday().num_days_from_monday()));
    let sunday = monday + chrono::Days::new(6);
    let range = format!("{MINE}?start_date={monday}&end_date={sunday}");

    let r = app.get(&range).bearer(&t.e.trainer.access).send().await;
    r.assert_status(200);
    let days = r.json.as_array().unwrap();
    assert_eq!(days.len(), 7);
    assert_eq!(days[0]["date"], monday.to_string());
    assert_eq!(days[0]["day_name"], "Monday");
    assert_eq!(days[0]["sessions"][0]["id"], id.to_string());
    assert_eq!(days[0]["sessions"][0]["course_name"], "Course COMP101");
    assert_eq!(days[0]["sessions"][0]["room_name"], "B12");
    assert_eq!(days[0]["sessions"][0]["room_building"], "Main");
    assert_eq!(days[0]["sessions"][0]["class_group"], "CS-1A");
    // Drafts are not shown.
    assert_eq!(days[1]["sessions"], json!([]));

    let r = app.get(&range).bearer(&t.e.trainees[0].access).send().await;
    r.assert_status(200);
    assert!(r.json[0]["sessions"][0]["trainer_name"].is_string());
    app.get("/api/timetable/my-schedule/")
        .bearer(&t.e.trainees[0].access)
        .send()
        .await
        .assert_status(200);

    // Others 403; more than 31 days or a bad date 400; anonymous 401.
    for who in [admin, &t.e.hod] {
        app.get(&range)
            .bearer(&who.access)
            .send()
            .await
            .assert_status(403);
    }
    let long = format!(
        "{MINE}?start_date={monday}&end_date={}",
        monday + chrono::Days::new(31)
    );
    app.get(&long)
        .bearer(&t.e.trainer.access)
        .send()
        .await
        .assert_status(400);
    let r = app
        .get(&format!("{MINE}?start_date=yesterday"))
        .bearer(&t.e.trainer.access)
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["start_date"].is_array());
    app.get(MINE).send().await.assert_status(401);
});

db_test!(class_group_schedules, |app| {
    let t = tt(&app).await;
    let admin = &t.e.admin;
    let id = id_of(
        &entry(
            &app,
            admin,
            body(t.e.enrollment, t.b12, "wednesday", "08:00", "10:00"),
        )
        .await,
    );
    app.post(&format!("{ENTRIES}{id}/publish/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);

    let grid = format!(
        "/api/class-groups/{}/schedule/?term={}",
        t.e.class_group, t.e.year.terms[0]
    );
    let r = app.get(&grid).bearer(&t.e.trainees[0].access).send().await;
    r.assert_status(200);
    assert_eq!(r.json["schedule"]["wednesday"][0]["id"], id.to_string());
    assert_eq!(r.json["schedule"]["monday"], json!([]));
    let stranger = app.user("trainee").await;
    app.get(&grid)
        .bearer(&stranger.access)
        .send()
        .await
        .assert_status(404);
    let r = app
        .get(&format!(
            "/api/class-groups/{}/schedule/?term=nope",
            t.e.class_group
        ))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);

    // Publishing cached the schedule.
    let r = app
        .get("/api/class-group-schedules/")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 1);
    let cached = &r.json["results"][0];
    assert_eq!(cached["class_group"], t.e.class_group.to_string());
    assert_eq!(cached["schedule"]["wednesday"][0]["course_code"], "COMP101");
    let cache_id = id_of(cached);
    assert_eq!(
        app.get("/api/class-group-schedules/")
            .bearer(&stranger.access)
            .send()
            .await
            .json["count"],
        0
    );
    app.get(&format!("/api/class-group-schedules/{cache_id}/"))
        .bearer(&t.e.trainees[0].access)
        .send()
        .await
        .assert_status(200);
    app.get(&format!("/api/class-group-schedules/{cache_id}/"))
        .bearer(&stranger.access)
        .send()
        .await
        .assert_status(404);

    // A change to a published entry rebuilds it; regenerate on demand.
    let r = app
        .patch(&format!("{ENTRIES}{id}/"))
        .bearer(&admin.access)
        .json(&json!({"day_of_week": "thursday"}))
        .send()
        .await;
    r.assert_status(200);
    let r = app
        .get(&format!("/api/class-group-schedules/{cache_id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["schedule"]["thursday"][0]["id"], id.to_string());
    assert_eq!(r.json["schedule"]["wednesday"], json!([]));
    let r = app
        .post(&format!(
            "/api/class-group-schedules/{cache_id}/regenerate/"
        ))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    app.post(&format!(
        "/api/class-group-schedules/{cache_id}/regenerate/"
    ))
    .bearer(&t.e.trainees[0].access)
    .send()
    .await
    .assert_status(403);
});
