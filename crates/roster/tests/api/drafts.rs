//! Drafts and publishing (contract §4): one entry's `publish`,
//! `bulk_create` all or nothing, a version's `draft_versions`,
//! `draft_summary`, `publish_draft` (re-checked, the covered enrollments'
//! published entries back to draft, people notified), `revert_to_draft`
//! and `discard_draft`, and the hyphenated aliases.

use roster::entities::{draft_scope, draft_version, notification, timetable_entry};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::common::*;
use crate::timetable::{ENTRIES, Tt, body, entry, entry_count, tt};

async fn notes_of(app: &TestApp, user: Uuid) -> usize {
    notification::Entity::find()
        .filter(notification::Column::UserId.eq(user))
        .all(app.db())
        .await
        .unwrap()
        .len()
}

async fn row(app: &TestApp, id: Uuid) -> timetable_entry::Model {
    timetable_entry::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

/// A generated version `version` of term 1 covering COMP101, with one
/// draft entry of it on `day` 08:00–10:00 in B12.
async fn generated(app: &TestApp, t: &Tt, version: &str, day: i32) -> Uuid {
    let now = chrono::Utc::now();
    draft_version::ActiveModel {
        id: Set(Uuid::new_v4()),
        version: Set(version.to_owned()),
        term_id: Set(t.e.year.terms[0]),
        created_by: Set(Some(t.e.admin.id)),
        created_at: Set(now),
        published_at: Set(None),
    }
    .insert(app.db())
    .await
    .unwrap();
    draft_scope::ActiveModel {
        id: Set(Uuid::new_v4()),
        draft_version: Set(version.to_owned()),
        enrollment_id: Set(t.e.enrollment),
    }
    .insert(app.db())
    .await
    .unwrap();
    let id = Uuid::new_v4();
    timetable_entry::ActiveModel {
        id: Set(id),
        term_id: Set(t.e.year.terms[0]),
        enrollment_id: Set(t.e.enrollment),
        room_id: Set(t.b12),
        day: Set(day),
        start_minute: Set(480),
        end_minute: Set(600),
        session_type: Set("theory".into()),
        is_recurring: Set(true),
        specific_date: Set(None),
        is_makeup: Set(false),
        is_draft: Set(true),
        draft_version: Set(Some(version.to_owned())),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(app.db())
    .await
    .unwrap();
    id
}

db_test!(publishing_one_entry, |app| {
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
    let before = notes_of(&app, t.e.trainees[0].id).await;
    for who in [&t.e.trainer, &t.e.trainees[0]] {
        app.post(&format!("{ENTRIES}{id}/publish/"))
            .bearer(&who.access)
            .send()
            .await
            .assert_status(403);
    }
    let r = app
        .post(&format!("{ENTRIES}{id}/publish/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["is_draft"], false);
    assert_eq!(notes_of(&app, t.e.trainees[0].id).await, before + 1);
    assert!(notes_of(&app, t.e.trainer.id).await >= 1);
    let r = app
        .post(&format!("{ENTRIES}{id}/publish/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json["detail"],
        "This timetable entry is already published."
    );
    app.post(&format!("{ENTRIES}{}/publish/", Uuid::new_v4()))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
    app.post(&format!("{ENTRIES}{id}/publish/"))
        .send()
        .await
        .assert_status(401);
});

db_test!(bulk_create_is_all_or_nothing, |app| {
    let t = tt(&app).await;
    let admin = &t.e.admin;
    // The second clashes with the first: nothing is written.
    let list = json!([
        body(t.e.enrollment, t.b12, "monday", "08:00", "10:00"),
        body(t.comp102, t.b12, "monday", "09:00", "10:00"),
        body(t.comp102, t.b12, "friday", "25:00", "10:00"),
    ]);
    let r = app
        .post("/api/timetable/bulk_create/")
        .bearer(&admin.access)
        .raw("application/json", list.to_string())
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["created"], json!([]));
    let errors = r.json["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["index"], 1);
    assert_eq!(errors[0]["errors"]["conflicts"][0]["type"], "room_conflict");
    assert_eq!(errors[1]["index"], 2);
    assert!(errors[1]["errors"]["start_time"].is_array());
    assert_eq!(entry_count(&app).await, 0);

    let list = json!([
        body(t.e.enrollment, t.b12, "monday", "08:00", "10:00"),
        body(t.comp102, t.b12, "monday", "10:00", "11:00"),
    ]);
    let r = app
        .post("/api/timetable/bulk-create/")
        .bearer(&admin.access)
        .raw("application/json", list.to_string())
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json.as_array().unwrap().len(), 2);
    let r = app
        .post("/api/timetable/bulk_create/")
        .bearer(&admin.access)
        .raw("application/json", "{}")
        .send()
        .await;
    r.assert_status(400);
    let r = app
        .post("/api/timetable/bulk_create/")
        .bearer(&t.e.trainer.access)
        .raw("application/json", list.to_string())
        .send()
        .await;
    r.assert_status(403);
    assert_eq!(entry_count(&app).await, 2);
});

db_test!(
    a_version_is_summarised_published_reverted_and_discarded,
    |app| {
        let t = tt(&app).await;
        let admin = &t.e.admin;
        // A published hand-made entry of COMP101 (covered by the version) and
        // one of COMP102 (not covered).
        let old = id_of(
            &entry(
                &app,
                admin,
                json!({"enrollment": t.e.enrollment, "room": t.big, "day_of_week": "thursday",
        "start_time": "08:00", "end_time": "10:00", "is_draft": false}),
            )
            .await,
        );
        let kept = id_of(
            &entry(
                &app,
                admin,
                json!({"enrollment": t.comp102, "room": t.big, "day_of_week": "friday",
        "start_time": "08:00", "end_time": "09:00", "is_draft": false}),
            )
            .await,
        );
        let generated_id = generated(&app, &t, "T1-20250101000000", 1).await;

        let r = app
            .get(&format!(
                "/api/timetable/draft_versions/?term_id={}",
                t.e.year.terms[0]
            ))
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json[0]["version"], "T1-20250101000000");
        assert_eq!(r.json[0]["total_entries"], 1);
        assert_eq!(r.json[0]["draft_entries"], 1);
        assert_eq!(r.json[0]["is_active"], false);
        assert_eq!(r.json[0]["departments"], json!(["Department ICT"]));
        app.get("/api/timetable/draft-versions/")
            .bearer(&t.e.hod.access)
            .send()
            .await
            .assert_status(200);
        app.get("/api/timetable/draft_versions/")
            .bearer(&t.e.trainer.access)
            .send()
            .await
            .assert_status(403);

        let r = app
            .get("/api/timetable/draft_summary/?draft_version=T1-20250101000000")
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["total_entries"], 1);
        assert_eq!(r.json["by_day"]["tuesday"], 1);
        assert_eq!(r.json["by_class_group"][0]["name"], "CS-1A");
        assert_eq!(r.json["by_room"][0]["name"], "B12");
        assert_eq!(r.json["by_department"][0]["count"], 1);
        app.get("/api/timetable/draft_summary/")
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(400);
        app.get("/api/timetable/draft_summary/?draft_version=nope")
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(400);

        // Publishing: COMP101's published entry goes back to draft.
        let before = notes_of(&app, t.e.trainees[1].id).await;
        let r = app
            .post("/api/timetable/publish_draft/")
            .bearer(&admin.access)
            .json(&json!({"draft_version": "T1-20250101000000"}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["published_count"], 1);
        assert_eq!(r.json["previously_active_count"], 1);
        assert!(r.json["message"].is_string());
        assert_eq!(notes_of(&app, t.e.trainees[1].id).await, before + 1);
        assert!(row(&app, old).await.is_draft);
        assert!(!row(&app, kept).await.is_draft);
        assert!(!row(&app, generated_id).await.is_draft);
        // The trainee now sees the generated entry and COMP102's.
        let r = app
            .get(ENTRIES)
            .bearer(&t.e.trainees[0].access)
            .send()
            .await;
        assert_eq!(r.json["count"], 2);

        let r = app
            .post("/api/timetable/revert-to-draft/")
            .bearer(&admin.access)
            .json(&json!({"draft_version": "T1-20250101000000"}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["reverted_count"], 1);
        assert!(row(&app, generated_id).await.is_draft);

        let r = app
            .post("/api/timetable/discard_draft/")
            .bearer(&admin.access)
            .json(&json!({"draft_version": "T1-20250101000000"}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["deleted_count"], 1);
        assert!(
            timetable_entry::Entity::find_by_id(generated_id)
                .one(app.db())
                .await
                .unwrap()
                .is_none()
        );
        let r = app
            .post("/api/timetable/publish_draft/")
            .bearer(&admin.access)
            .json(&json!({"draft_version": "T1-20250101000000"}))
            .send()
            .await;
        r.assert_status(400);
        app.post("/api/timetable/publish_draft/")
            .bearer(&admin.access)
            .json(&json!({}))
            .send()
            .await
            .assert_status(400);
        app.post("/api/timetable/publish_draft/")
            .bearer(&t.e.trainer.access)
            .json(&json!({"draft_version": "x"}))
            .send()
            .await
            .assert_status(403);
    }
);

db_test!(a_version_that_no_longer_fits_is_not_published, |app| {
    let t = tt(&app).await;
    let admin = &t.e.admin;
    let generated_id = generated(&app, &t, "T1-20250202000000", 2).await;
    // Since generation, COMP102 (outside the version) was published in the
    // same room at the same time.
    entry(
        &app,
        admin,
        json!({"enrollment": t.comp102, "room": t.b12, "day_of_week": "wednesday",
        "start_time": "09:00", "end_time": "10:00", "is_draft": false}),
    )
    .await;
    let r = app
        .post("/api/timetable/publish-draft/")
        .bearer(&admin.access)
        .json(&json!({"draft_version": "T1-20250202000000"}))
        .send()
        .await;
    r.assert_status(400);
    let kinds: Vec<&str> = r.json["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec!["room_conflict", "trainer_conflict", "class_group_conflict"]
    );
    assert!(
        r.json["non_field_errors"][0]
            .as_str()
            .unwrap()
            .starts_with("Room B12 is already booked on Wednesday 09:00–10:00")
    );
    let row = timetable_entry::Entity::find_by_id(generated_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(row.is_draft);
});
