//! Timetable settings (contract §4, **TimetableSettings**): the defaults,
//! one row per term plus the default row, the grid's rules, the effective
//! grid of a term, and who reads and writes.

use crate::common::*;

const SETTINGS: &str = "/api/timetable-settings/";

async fn settings_rows(app: &TestApp) -> i64 {
    app.row_counts()
        .await
        .get("roster_timetable_settings")
        .copied()
        .unwrap_or(0)
}

db_test!(settings_default_per_term_and_effective, |app| {
    let admin = app.admin().await;
    app.school(&admin).await;
    let terms = app.academic_year_with_terms(&admin).await.terms;
    let effective = |term: Option<Uuid>| {
        let access = admin.access.clone();
        let client = &app;
        async move {
            let q = term.map_or_else(String::new, |t| format!("?term={t}"));
            let r = client
                .get(&format!("{SETTINGS}effective/{q}"))
                .bearer(&access)
                .send()
                .await;
            assert_eq!(r.status, 200, "{}", r.json);
            r.json
        }
    };
    let built_in = effective(Some(terms[0])).await;
    assert_eq!(built_in["id"], Value::Null);
    assert_eq!(
        built_in["working_days"],
        json!(["monday", "tuesday", "wednesday", "thursday", "friday"])
    );
    assert_eq!(built_in["day_start"], "08:00");
    assert_eq!(built_in["day_end"], "17:00");
    assert_eq!(built_in["slot_minutes"], 30);
    assert_eq!(built_in["breaks"], json!([]));
    assert_eq!(built_in["max_sessions_per_day_per_class_group"], 6);

    let r = app
        .post(SETTINGS)
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["term"], Value::Null);
    assert_eq!(r.json["day_start"], "08:00");
    assert_eq!(r.json["slot_minutes"], 30);
    let default_id = id_of(&r.json);
    let r = app
        .post(SETTINGS)
        .bearer(&admin.access)
        .json(&json!({"term": null}))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["term"].is_array());

    let dp = app.user("dp_academics").await;
    let r = app
        .post(SETTINGS)
        .bearer(&dp.access)
        .json(&json!({
            "term": terms[0], "working_days": ["Monday", "wednesday", "saturday"],
            "day_start": "07:30", "day_end": "16:00:00", "slot_minutes": 15,
            "breaks": [{"name": "Lunch", "start": "12:00", "end": "13:00"}, {"name": "Tea", "start": "10:00", "end": "10:15"}],
            "max_sessions_per_day_per_class_group": 4,
        }))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["term"], json!(terms[0]));
    assert_eq!(
        r.json["working_days"],
        json!(["monday", "wednesday", "saturday"])
    );
    assert_eq!(r.json["day_end"], "16:00");
    assert_eq!(r.json["breaks"][0]["name"], "Tea");
    assert_eq!(
        r.json["breaks"][1],
        json!({"name": "Lunch", "start": "12:00", "end": "13:00"})
    );
    let term_id = id_of(&r.json);
    let r = app
        .post(SETTINGS)
        .bearer(&admin.access)
        .json(&json!({"term": terms[0]}))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["term"].is_array());

    assert_eq!(effective(Some(terms[0])).await["id"], json!(term_id));
    assert_eq!(effective(Some(terms[1])).await["id"], json!(default_id));
    assert_eq!(effective(None).await["id"], json!(default_id));
    let r = app
        .get(&format!("{SETTINGS}effective/?term=nope"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);

    let r = app.get(SETTINGS).bearer(&admin.access).send().await;
    assert_eq!(r.json["count"], 2);
    let r = app
        .get(&format!("{SETTINGS}?term={}", terms[0]))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    let r = app
        .get(&format!("{SETTINGS}?term=null"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["results"][0]["id"], json!(default_id));

    let path = format!("{SETTINGS}{term_id}/");
    let r = app
        .patch(&path)
        .bearer(&admin.access)
        .json(&json!({"slot_minutes": 60}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["slot_minutes"], 60);
    assert_eq!(r.json["day_start"], "07:30");
    let r = app
        .patch(&path)
        .bearer(&admin.access)
        .json(&json!({"term": null}))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["term"].is_array());
    app.delete(&path)
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    assert_eq!(effective(Some(terms[0])).await["id"], json!(default_id));
    app.get(&path)
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
    app.get(&format!("{SETTINGS}not-an-id/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
});

db_test!(
    the_grid_rules_refuse_bad_settings_and_write_nothing,
    |app| {
        let admin = app.admin().await;
        let cases = [
            (json!({"working_days": []}), "working_days"),
            (
                json!({"working_days": ["monday", "funday"]}),
                "working_days",
            ),
            (json!({"working_days": "monday"}), "working_days"),
            (json!({"day_start": "17:00", "day_end": "08:00"}), "day_end"),
            (json!({"day_start": "8 o'clock"}), "day_start"),
            (json!({"slot_minutes": 25}), "slot_minutes"),
            (json!({"slot_minutes": 10}), "slot_minutes"),
            (json!({"slot_minutes": 120}), "slot_minutes"),
            (json!({"slot_minutes": "half"}), "slot_minutes"),
            (
                json!({"breaks": [{"name": "Early", "start": "07:00", "end": "08:30"}]}),
                "breaks",
            ),
            (
                json!({"breaks": [{"name": "A", "start": "10:00", "end": "11:00"}, {"name": "B", "start": "10:30", "end": "11:30"}]}),
                "breaks",
            ),
            (
                json!({"breaks": [{"name": "A", "start": "11:00", "end": "10:00"}]}),
                "breaks",
            ),
            (
                json!({"breaks": [{"start": "10:00", "end": "11:00"}]}),
                "breaks",
            ),
            (json!({"breaks": "lunch"}), "breaks"),
            (
                json!({"max_sessions_per_day_per_class_group": 0}),
                "max_sessions_per_day_per_class_group",
            ),
            (json!({"term": "nope"}), "term"),
            (json!({"term": Uuid::new_v4()}), "term"),
        ];
        for (body, field) in cases {
            let r = app
                .post(SETTINGS)
                .bearer(&admin.access)
                .json(&body)
                .send()
                .await;
            assert_eq!(r.status, 400, "{body}: {}", r.json);
            assert!(r.json[field].is_array(), "{body}: {}", r.json);
        }
        assert_eq!(settings_rows(&app).await, 0);
        // Touching breaks and a 20-minute grid are fine.
        let r = app
        .post(SETTINGS)
        .bearer(&admin.access)
        .json(&json!({"slot_minutes": 20, "breaks": [{"name": "A", "start": "10:00", "end": "10:30"}, {"name": "B", "start": "10:30", "end": "11:00"}]}))
        .send()
        .await;
        r.assert_status(201);
    }
);

db_test!(staff_read_settings_and_only_leads_write_them, |app| {
    let admin = app.admin().await;
    let r = app
        .post(SETTINGS)
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(201);
    let path = format!("{SETTINGS}{}/", id_of(&r.json));
    for role in ["hod", "trainer"] {
        let who = app.user(role).await;
        app.get(SETTINGS)
            .bearer(&who.access)
            .send()
            .await
            .assert_status(200);
        app.get(&path)
            .bearer(&who.access)
            .send()
            .await
            .assert_status(200);
        app.get(&format!("{SETTINGS}effective/"))
            .bearer(&who.access)
            .send()
            .await
            .assert_status(200);
        app.post(SETTINGS)
            .bearer(&who.access)
            .json(&json!({}))
            .send()
            .await
            .assert_status(403);
        app.patch(&path)
            .bearer(&who.access)
            .json(&json!({"slot_minutes": 60}))
            .send()
            .await
            .assert_status(403);
        app.delete(&path)
            .bearer(&who.access)
            .send()
            .await
            .assert_status(403);
    }
    let trainee = app.user("trainee").await;
    app.get(SETTINGS)
        .bearer(&trainee.access)
        .send()
        .await
        .assert_status(403);
    app.get(&path)
        .bearer(&trainee.access)
        .send()
        .await
        .assert_status(403);
    app.get(SETTINGS).send().await.assert_status(401);
    app.post(SETTINGS)
        .json(&json!({}))
        .send()
        .await
        .assert_status(401);
});
