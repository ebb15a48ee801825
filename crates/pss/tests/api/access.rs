//! Every endpoint × anonymous / the candidate itself / another candidate /
//! an administrator / a superuser.

use axum::http::Method;

use crate::common::*;

struct World {
    root: Actor,
    admin: Actor,
    me: Actor,
    other: Actor,
    entry: i64,
    note: i64,
    audit: i64,
}

async fn world(app: &TestApp) -> World {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let me = app.candidate().await;
    let other = app.candidate().await;
    app.post("/api/intake/submit/")
        .bearer(&me.access)
        .json(&json!({"responses": intake_answers()}))
        .send()
        .await
        .assert_status(201);
    let entry = app
        .journal_entry(
            &me,
            json!({"title": "Mine", "content": "Private", "mood": "good", "energy_level": 6}),
        )
        .await;
    let note = app.note(&admin, me.id, "About me").await;
    let r = app
        .get("/api/audit-logs/")
        .bearer(&root.access)
        .send()
        .await;
    let audit = r.json["results"][0]["id"].as_i64().unwrap();
    World {
        root,
        admin,
        me,
        other,
        entry,
        note,
        audit,
    }
}

/// Sends `method path body` as nobody, the candidate, the other candidate,
/// the administrator and the superuser; asserts the statuses.
async fn expect(
    app: &TestApp,
    w: &World,
    method: Method,
    path: &str,
    body: Value,
    statuses: [u16; 5],
) {
    let callers = [
        None,
        Some(&w.me),
        Some(&w.other),
        Some(&w.admin),
        Some(&w.root),
    ];
    let names = ["anonymous", "self", "other candidate", "admin", "superuser"];
    for ((caller, expected), name) in callers.into_iter().zip(statuses).zip(names) {
        let mut request = app.request(method.clone(), path);
        if let Some(actor) = caller {
            request = request.bearer(&actor.access);
        }
        if method != Method::GET && method != Method::DELETE {
            request = request.json(&body);
        }
        let r = request.send().await;
        assert_eq!(
            r.status.as_u16(),
            expected,
            "{method} {path} as {name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        if expected == 200 && method == Method::GET && path != "/api/health/" {
            assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
        }
    }
}

db_test!(every_endpoint_for_every_caller, |app| {
    let w = world(&app).await;
    let me = w.me.id;
    let (entry, note, audit) = (w.entry, w.note, w.audit);
    let none = json!({});
    let user_put = json!({"email": w.me.email, "first_name": "Thandi", "last_name": "Nkosi"});
    let journal_put =
        json!({"title": "Mine", "content": "Private", "mood": "okay", "energy_level": 5});
    let note_put = json!({"candidate": me, "note_text": "About me, revised"});

    let table: Vec<(Method, String, Value, [u16; 5])> = vec![
        (
            Method::GET,
            "/api/health/".into(),
            none.clone(),
            [200, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/users/".into(),
            none.clone(),
            [401, 403, 403, 200, 200],
        ),
        (
            Method::GET,
            "/api/users/candidates/".into(),
            none.clone(),
            [401, 403, 403, 200, 200],
        ),
        (
            Method::GET,
            "/api/users/me/".into(),
            none.clone(),
            [401, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/auth/me/".into(),
            none.clone(),
            [401, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/users/{me}/"),
            none.clone(),
            [401, 200, 404, 200, 200],
        ),
        (
            Method::PATCH,
            format!("/api/users/{me}/"),
            json!({"last_name": "Nkosi"}),
            [401, 200, 404, 200, 200],
        ),
        (
            Method::PUT,
            format!("/api/users/{me}/"),
            user_put,
            [401, 200, 404, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/users/{}/", w.root.id),
            none.clone(),
            [401, 404, 404, 404, 200],
        ),
        (
            Method::GET,
            format!("/api/users/{}/", w.admin.id),
            none.clone(),
            [401, 404, 404, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/users/{me}/profile/"),
            none.clone(),
            [401, 200, 404, 200, 200],
        ),
        (
            Method::PATCH,
            format!("/api/users/{me}/profile/"),
            json!({"support_needs": "More time"}),
            [401, 200, 404, 200, 200],
        ),
        (
            Method::PUT,
            format!("/api/users/{me}/profile/"),
            json!({"learning_style": "Auditory"}),
            [401, 200, 404, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/intake/{me}/"),
            none.clone(),
            [401, 200, 404, 200, 200],
        ),
        (
            Method::GET,
            "/api/journal/".into(),
            none.clone(),
            [401, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/journal/stats/".into(),
            none.clone(),
            [401, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/journal/{entry}/"),
            none.clone(),
            [401, 200, 404, 200, 200],
        ),
        (
            Method::PATCH,
            format!("/api/journal/{entry}/"),
            json!({"energy_level": 4}),
            [401, 200, 404, 200, 200],
        ),
        (
            Method::PUT,
            format!("/api/journal/{entry}/"),
            journal_put,
            [401, 200, 404, 200, 200],
        ),
        (
            Method::GET,
            "/api/admin-notes/".into(),
            none.clone(),
            [401, 403, 403, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/admin-notes/{note}/"),
            none.clone(),
            [401, 403, 403, 200, 200],
        ),
        (
            Method::PATCH,
            format!("/api/admin-notes/{note}/"),
            json!({"is_important": true}),
            [401, 403, 403, 200, 200],
        ),
        (
            Method::PUT,
            format!("/api/admin-notes/{note}/"),
            note_put,
            [401, 403, 403, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/admin-notes/candidate/{me}/"),
            none.clone(),
            [401, 403, 403, 200, 200],
        ),
        (
            Method::GET,
            "/api/dashboard/stats/".into(),
            none.clone(),
            [401, 403, 403, 200, 200],
        ),
        (
            Method::GET,
            "/api/dashboard/admin-stats/".into(),
            none.clone(),
            [401, 403, 403, 200, 200],
        ),
        (
            Method::GET,
            "/api/dashboard/candidate-stats/".into(),
            none.clone(),
            [401, 200, 200, 403, 403],
        ),
        (
            Method::GET,
            "/api/audit-logs/".into(),
            none.clone(),
            [401, 403, 403, 403, 200],
        ),
        (
            Method::GET,
            format!("/api/audit-logs/{audit}/"),
            none.clone(),
            [401, 403, 403, 403, 200],
        ),
    ];
    for (method, path, body, statuses) in table {
        expect(&app, &w, method, &path, body, statuses).await;
    }

    // Everyone writes their own journal and intake; nobody anonymous.
    let journal = json!({"title": "t", "content": "c", "mood": "good", "energy_level": 5});
    expect(
        &app,
        &w,
        Method::POST,
        "/api/journal/",
        journal,
        [401, 201, 201, 201, 201],
    )
    .await;
    let intake = json!({"responses": {"learning_style": "Visual"}});
    expect(
        &app,
        &w,
        Method::POST,
        "/api/intake/submit/",
        intake.clone(),
        [401, 201, 201, 201, 201],
    )
    .await;
    expect(
        &app,
        &w,
        Method::POST,
        "/api/intake/",
        intake,
        [401, 200, 200, 200, 200],
    )
    .await;
    let note_new = json!({"candidate": me, "note_text": "Another"});
    expect(
        &app,
        &w,
        Method::POST,
        "/api/admin-notes/",
        note_new,
        [401, 403, 403, 201, 201],
    )
    .await;

    // Deletion: strangers first (nothing happens), then someone allowed.
    for (path, allowed) in [
        (format!("/api/journal/{entry}/"), &w.me),
        (format!("/api/admin-notes/{note}/"), &w.admin),
    ] {
        app.delete(&path).send().await.assert_status(401);
        let stranger_status = if path.contains("journal") { 404 } else { 403 };
        app.delete(&path)
            .bearer(&w.other.access)
            .send()
            .await
            .assert_status(stranger_status);
        app.delete(&path)
            .bearer(&allowed.access)
            .send()
            .await
            .assert_status(204);
        app.delete(&path)
            .bearer(&allowed.access)
            .send()
            .await
            .assert_status(404);
    }

    // The other candidate saw none of it.
    let r = app
        .get("/api/journal/")
        .bearer(&w.other.access)
        .send()
        .await;
    assert!(
        r.json["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["user"] == w.other.id)
    );
    let r = app
        .get("/api/journal/stats/")
        .bearer(&w.other.access)
        .send()
        .await;
    assert_eq!(r.json["total_entries"], 1, "only its own entry");
    let r = app
        .get("/api/dashboard/candidate-stats/")
        .bearer(&w.other.access)
        .send()
        .await;
    assert_eq!(r.json["admin_notes_count"], 0);

    // Logout: only with a token, for oneself.
    app.post("/api/auth/logout/")
        .json(&json!({}))
        .send()
        .await
        .assert_status(401);
    app.post("/api/auth/logout/")
        .bearer(&w.other.access)
        .json(&json!({"refresh": w.me.refresh}))
        .send()
        .await
        .assert_status(400);
    app.get("/api/users/me/")
        .bearer(&w.me.access)
        .send()
        .await
        .assert_status(200);
});
