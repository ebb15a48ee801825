//! `/api/admin-notes/`: administrators' notes about candidates.

use crate::common::*;

db_test!(administrators_write_and_manage_notes, |app| {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let candidate = app.candidate().await;
    let r = app
        .post("/api/admin-notes/")
        .bearer(&admin.access)
        .json(&json!({"candidate": candidate.id, "note_text": "Needs a quiet room", "tags": " exams, ,accommodation ", "admin": root.id}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["candidate"], candidate.id);
    assert_eq!(r.json["admin"], admin.id, "the author is the caller");
    assert_eq!(r.json["category"], "general");
    assert_eq!(r.json["title"], "");
    assert_eq!(r.json["note_text"], "Needs a quiet room");
    assert_eq!(r.json["content"], "Needs a quiet room");
    assert_eq!(r.json["tags"], "exams,accommodation");
    assert_eq!(r.json["is_important"], false);
    let id = r.json["id"].as_i64().unwrap();

    // The original's shape is accepted too.
    let r = app
        .post("/api/admin-notes/")
        .bearer(&root.access)
        .json(&json!({"candidate": candidate.id, "content": "Great progress", "category": "achievement", "title": "Milestone", "is_important": true}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["note_text"], "Great progress");
    assert_eq!(r.json["admin"], root.id);

    let r = app
        .patch(&format!("/api/admin-notes/{id}/"))
        .bearer(&root.access)
        .json(&json!({"is_important": true, "note_text": "Needs a quiet room for exams"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["is_important"], true);
    assert_eq!(r.json["admin"], admin.id);
    let r = app
        .put(&format!("/api/admin-notes/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"candidate": candidate.id, "note_text": "Rewritten", "category": "concern"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["category"], "concern");
    assert_eq!(
        r.json["tags"], "exams,accommodation",
        "PUT keeps optional fields left out"
    );

    let r = app
        .get("/api/admin-notes/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 2);
    let r = app
        .get("/api/admin-notes/?is_important=true&category=achievement")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    let r = app
        .get("/api/admin-notes/?search=exams")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["id"], id);
    let r = app
        .get(&format!("/api/admin-notes/candidate/{}/", candidate.id))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 2);
    let r = app
        .get(&format!("/api/admin-notes/candidate/{}/", admin.id))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(404);

    let rows = app.audit_rows("AdminNote", id).await;
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["create", "update", "update"]);
    assert_eq!(
        rows[1].changes,
        Some(json!({"note_text": "changed", "is_important": "changed"}))
    );
    app.delete(&format!("/api/admin-notes/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    app.get(&format!("/api/admin-notes/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
    assert_eq!(
        app.audit_rows("AdminNote", id).await.last().unwrap().action,
        "delete"
    );
});

db_test!(bad_notes_are_refused, |app| {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let candidate = app.candidate().await;
    let r = app
        .post("/api/admin-notes/")
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"note_text": ["This field is required."], "candidate": ["This field is required."]})
    );
    // The original's Postman sample names a field it never had.
    let r = app
        .post("/api/admin-notes/")
        .bearer(&admin.access)
        .json(&json!({"candidate": 424242, "content": "x", "note_type": "progress", "category": "gossip", "title": "t".repeat(201), "tags": "a".repeat(256)}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({
            "category": ["\"gossip\" is not a valid choice."],
            "title": ["Ensure this field has no more than 200 characters."],
            "tags": ["Ensure this field has no more than 255 characters."],
            "candidate": ["Invalid pk \"424242\" - object does not exist."],
        })
    );
    // Notes are about candidates only.
    let r = app
        .post("/api/admin-notes/")
        .bearer(&root.access)
        .json(&json!({"candidate": admin.id, "note_text": "x"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"candidate": [format!("Invalid pk \"{}\" - object does not exist.", admin.id)]})
    );
    let r = app
        .post("/api/admin-notes/")
        .bearer(&admin.access)
        .json(&json!({"candidate": "five", "note_text": "x"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"candidate": ["A valid integer is required."]})
    );
    let id = app.note(&admin, candidate.id, "kept").await;
    let r = app
        .patch(&format!("/api/admin-notes/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"note_text": "", "is_important": null}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"note_text": ["This field may not be blank."], "is_important": ["This field may not be null."]})
    );
    let r = app
        .get("/api/admin-notes/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["note_text"], "kept");
    for bad in [
        "/api/admin-notes/x/",
        "/api/admin-notes/0/",
        "/api/admin-notes/31337/",
        "/api/admin-notes/candidate/x/",
    ] {
        app.get(bad)
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(404);
    }
});

db_test!(candidates_never_reach_notes, |app| {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let candidate = app.candidate().await;
    let id = app.note(&admin, candidate.id, "About you").await;
    for (method, path) in [
        ("GET", "/api/admin-notes/".to_owned()),
        ("POST", "/api/admin-notes/".to_owned()),
        ("GET", format!("/api/admin-notes/{id}/")),
        ("PATCH", format!("/api/admin-notes/{id}/")),
        ("PUT", format!("/api/admin-notes/{id}/")),
        ("DELETE", format!("/api/admin-notes/{id}/")),
        (
            "GET",
            format!("/api/admin-notes/candidate/{}/", candidate.id),
        ),
    ] {
        let method: axum::http::Method = method.parse().unwrap();
        let body = json!({"candidate": candidate.id, "note_text": "mine now"});
        let r = app
            .request(method.clone(), &path)
            .bearer(&candidate.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(403);
        let r = app.request(method, &path).json(&body).send().await;
        r.assert_status(401);
    }
    let r = app
        .get(&format!("/api/admin-notes/{id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["note_text"], "About you");
});
