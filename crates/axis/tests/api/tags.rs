//! Client tags (axis contract §5, "Tags"): slugs, colours, unique names,
//! system tags, `stats/`, soft delete and restore, and who may write (§3).

use crate::clients::{create_id, read};
use crate::common::*;

pub const KEYS: &[&str] = &[
    "id",
    "name",
    "slug",
    "color",
    "description",
    "is_system",
    "client_count",
    "created_at",
    "updated_at",
    "deleted_at",
];

/// Creates a tag as `actor`; the tag.
pub async fn create(app: &TestApp, actor: &Actor, body: Value) -> Value {
    let r = app
        .post("/api/tags/")
        .bearer(&actor.access)
        .json(&body)
        .send()
        .await;
    r.assert_status(201);
    r.json
}

fn tag_names(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

db_test!(tag_shapes_slugs_and_colors, |app| {
    let admin = app.superuser().await;
    let t = create(
        &app,
        &admin,
        json!({"name": "  Key Account / Gold  ", "description": "Top tier"}),
    )
    .await;
    assert_eq!(keys(&t), sorted(KEYS));
    assert!(is_cuid(t["id"].as_str().unwrap()));
    assert_eq!(t["name"], "Key Account / Gold");
    assert_eq!(t["slug"], "key-account-gold");
    assert_eq!(t["color"], "#6B7280");
    assert_eq!(t["description"], "Top tier");
    assert_eq!(t["is_system"], false);
    assert_eq!(t["client_count"], 0);
    assert_eq!(t["deleted_at"], Value::Null);
    let id = t["id"].as_str().unwrap().to_owned();

    let c = create(&app, &admin, json!({"name": "Cold", "color": "#a1b2c3"})).await;
    assert!(c["color"].as_str().unwrap().eq_ignore_ascii_case("#A1B2C3"));

    // Renaming moves the slug.
    let r = app
        .patch(&format!("/api/tags/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"name": "Platinum Partner", "color": "#00FF00"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["slug"], "platinum-partner");
    assert_eq!(r.json["color"], "#00FF00");
    assert_eq!(r.json["description"], "Top tier");
    // A null colour is the default again.
    let r = app
        .patch(&format!("/api/tags/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"color": null}))
        .send()
        .await;
    assert_eq!(r.json["color"], "#6B7280");

    let list = read(&app, &admin, "/api/tags/").await;
    assert_page(&list, 2);
    for item in list["results"].as_array().unwrap() {
        assert_eq!(keys(item), sorted(KEYS));
    }
    assert_eq!(tag_names(&list), ["Cold", "Platinum Partner"]);
    let list = read(&app, &admin, "/api/tags/?search=platinum").await;
    assert_eq!(tag_names(&list), ["Platinum Partner"]);
    let list = read(&app, &admin, "/api/tags/?ordering=name").await;
    assert_eq!(tag_names(&list), ["Cold", "Platinum Partner"]);
    let list = read(&app, &admin, "/api/tags/?is_system=true").await;
    assert_page(&list, 0);
    let r = app
        .get("/api/tags/?is_system=sometimes")
        .bearer(&admin.access)
        .send()
        .await;
    assert_field_error(&r, "is_system", None);

    let one = read(&app, &admin, &format!("/api/tags/{id}/")).await;
    assert_eq!(one["name"], "Platinum Partner");
    let changes = app.entity_changes_of("ClientTag", &id).await;
    let types: Vec<&str> = changes.iter().map(|c| c.change_type.as_str()).collect();
    assert_eq!(types, ["Create", "Update", "Update"]);
});

db_test!(tag_input_is_validated, |app| {
    let admin = app.superuser().await;
    let t = create(&app, &admin, json!({"name": "Priority"})).await;
    let id = t["id"].as_str().unwrap().to_owned();
    let post = |body: Value| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            app.post("/api/tags/")
                .bearer(&token)
                .json(&body)
                .send()
                .await
        }
    };
    let before = app.trail_counts().await;
    let taken = "A tag with this name already exists.";
    let r = post(json!({})).await;
    assert_field_error(&r, "name", Some("This field is required."));
    let r = post(json!({"name": ""})).await;
    assert_field_error(&r, "name", None);
    let r = post(json!({"name": 12})).await;
    assert_field_error(&r, "name", None);
    let r = post(json!({"name": "priority"})).await;
    assert_field_error(&r, "name", Some(taken));
    let r = post(json!({"name": " PRIORITY "})).await;
    assert_field_error(&r, "name", Some(taken));
    for color in ["red", "#12345", "#GGGGGG", "123456", "#1234567"] {
        let r = post(json!({"name": "Shade", "color": color})).await;
        assert_field_error(&r, "color", None);
    }
    let r = post(json!({"name": "Shade", "is_system": "yes"})).await;
    assert_field_error(&r, "is_system", None);
    let r = app
        .post("/api/tags/")
        .bearer(&admin.access)
        .raw("application/json", "{")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "parse_error");
    let other = create(&app, &admin, json!({"name": "Other"})).await;
    let r = app
        .patch(&format!("/api/tags/{}/", other["id"].as_str().unwrap()))
        .bearer(&admin.access)
        .json(&json!({"name": "Priority"}))
        .send()
        .await;
    assert_field_error(&r, "name", Some(taken));
    let r = app
        .put(&format!("/api/tags/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"color": "#000000"}))
        .send()
        .await;
    assert_field_error(&r, "name", Some("This field is required."));
    let after = app.trail_counts().await;
    // Only the "Other" tag was written meanwhile.
    assert_eq!(after.0, before.0 + 1);

    for path in [
        "/api/tags/zzz/".to_owned(),
        format!("/api/tags/{}/", kernel::cuid::new()),
    ] {
        let r = app.get(&path).bearer(&admin.access).send().await;
        assert_error(&r, 404, "not_found", "Tag not found");
        let r = app.delete(&path).bearer(&admin.access).send().await;
        assert_error(&r, 404, "not_found", "Tag not found");
    }
});

db_test!(system_tags_keep_their_name_and_stay, |app| {
    let admin = app.superuser().await;
    let s = create(
        &app,
        &admin,
        json!({"name": "Onboarding", "is_system": true}),
    )
    .await;
    assert_eq!(s["is_system"], true);
    let id = s["id"].as_str().unwrap().to_owned();
    let r = app
        .patch(&format!("/api/tags/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"name": "Renamed"}))
        .send()
        .await;
    assert_error(&r, 400, "invalid_state", "System tags cannot be renamed.");
    let r = app
        .put(&format!("/api/tags/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"name": "Renamed", "color": "#111111"}))
        .send()
        .await;
    assert_error(&r, 400, "invalid_state", "System tags cannot be renamed.");
    // Other fields, and its own name, may change.
    let r = app
        .put(&format!("/api/tags/{id}/"))
        .bearer(&admin.access)
        .json(
            &json!({"name": "Onboarding", "color": "#111111", "description": "Set by the system"}),
        )
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["color"], "#111111");
    assert_eq!(r.json["name"], "Onboarding");
    let r = app
        .delete(&format!("/api/tags/{id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(&r, 400, "invalid_state", "System tags cannot be deleted");
    // Nor can it be made custom first, to rename or delete it then.
    let r = app
        .patch(&format!("/api/tags/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"is_system": false}))
        .send()
        .await;
    assert_error(
        &r,
        400,
        "invalid_state",
        "System tags cannot be made custom.",
    );
    let one = read(&app, &admin, &format!("/api/tags/{id}/")).await;
    assert_eq!(one["name"], "Onboarding");
    let list = read(&app, &admin, "/api/tags/?is_system=1").await;
    assert_eq!(tag_names(&list), ["Onboarding"]);
});

db_test!(tag_stats_and_client_counts, |app| {
    let admin = app.superuser().await;
    let scoped = app.scoped(&admin).await;
    let ids = |t: Value| t["id"].as_str().unwrap().to_owned();
    let busy = ids(create(&app, &admin, json!({"name": "Busy"})).await);
    let some = ids(create(&app, &admin, json!({"name": "Some"})).await);
    let _idle = ids(create(&app, &admin, json!({"name": "Idle"})).await);
    let _sys = ids(create(&app, &admin, json!({"name": "System", "is_system": true})).await);
    let gone = ids(create(&app, &admin, json!({"name": "Gone"})).await);
    let a = create_id(&app, &admin, json!({"name": "A", "tag_ids": [busy, some]})).await;
    let b = create_id(&app, &admin, json!({"name": "B", "tag_ids": [busy]})).await;
    let c = create_id(&app, &admin, json!({"name": "C", "tag_ids": [busy, gone]})).await;
    app.delete(&format!("/api/tags/{gone}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);

    let t = read(&app, &admin, &format!("/api/tags/{busy}/")).await;
    assert_eq!(t["client_count"], 3);
    let stats = read(&app, &admin, "/api/tags/stats/").await;
    assert_eq!(
        keys(&stats),
        sorted(&[
            "total_tags",
            "system_tags",
            "custom_tags",
            "most_used",
            "unused_tags"
        ])
    );
    assert_eq!(stats["total_tags"], 4);
    assert_eq!(stats["system_tags"], 1);
    assert_eq!(stats["custom_tags"], 3);
    assert_eq!(stats["unused_tags"], 2);
    assert_eq!(
        stats["most_used"],
        json!([
            {"id": busy, "name": "Busy", "client_count": 3},
            {"id": some, "name": "Some", "client_count": 1},
        ])
    );

    // A deleted client is not counted.
    app.delete(&format!("/api/clients/{c}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    let t = read(&app, &admin, &format!("/api/tags/{busy}/")).await;
    assert_eq!(t["client_count"], 2);
    // A scoped user counts only the clients it may see.
    app.grant(&admin, &scoped.id, &b).await;
    let t = read(&app, &scoped, &format!("/api/tags/{busy}/")).await;
    assert_eq!(t["client_count"], 1);
    let stats = read(&app, &scoped, "/api/tags/stats/").await;
    assert_eq!(
        stats["most_used"],
        json!([{"id": busy, "name": "Busy", "client_count": 1}])
    );
    assert_eq!(stats["unused_tags"], 3);
    let _ = a;
});

db_test!(tag_delete_and_restore, |app| {
    let admin = app.superuser().await;
    let id = create(&app, &admin, json!({"name": "Seasonal"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .post(&format!("/api/tags/{id}/restore/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "invalid_state");
    let r = app
        .delete(&format!("/api/tags/{id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(204);
    assert!(r.body.is_empty());
    let r = app
        .get(&format!("/api/tags/{id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Tag not found");
    assert_page(&read(&app, &admin, "/api/tags/").await, 0);
    assert_eq!(
        read(&app, &admin, "/api/tags/stats/").await["total_tags"],
        0
    );
    let r = app
        .post(&format!("/api/tags/{id}/restore/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(keys(&r.json), sorted(KEYS));
    assert_eq!(r.json["name"], "Seasonal");
    assert_eq!(r.json["deleted_at"], Value::Null);
    // Deleted again, its name is free.
    app.delete(&format!("/api/tags/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    let again = create(&app, &admin, json!({"name": "seasonal"})).await;
    assert_eq!(again["slug"], "seasonal");
    let r = app
        .post(&format!("/api/tags/{id}/restore/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "invalid_state");
    let types: Vec<String> = app
        .entity_changes_of("ClientTag", &id)
        .await
        .into_iter()
        .map(|c| c.change_type)
        .collect();
    assert_eq!(types, ["Create", "Delete", "Restore", "Delete"]);
});

db_test!(tag_access_by_role, |app| {
    let admin = app.superuser().await;
    let manager = app.manager(&admin).await;
    let scoped = app.scoped(&admin).await;
    let id = create(&app, &manager, json!({"name": "Managed"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for r in [
        app.get("/api/tags/").send().await,
        app.get("/api/tags/stats/").send().await,
        app.get(&format!("/api/tags/{id}/")).send().await,
        app.post("/api/tags/")
            .json(&json!({"name": "X"}))
            .send()
            .await,
    ] {
        assert_error(
            &r,
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
        );
    }
    assert_page(&read(&app, &scoped, "/api/tags/").await, 1);
    read(&app, &scoped, &format!("/api/tags/{id}/")).await;
    read(&app, &scoped, "/api/tags/stats/").await;
    let denied = "You do not have permission to perform this action.";
    for r in [
        app.post("/api/tags/")
            .bearer(&scoped.access)
            .json(&json!({"name": "Mine"}))
            .send()
            .await,
        app.put(&format!("/api/tags/{id}/"))
            .bearer(&scoped.access)
            .json(&json!({"name": "Mine"}))
            .send()
            .await,
        app.patch(&format!("/api/tags/{id}/"))
            .bearer(&scoped.access)
            .json(&json!({"color": "#000000"}))
            .send()
            .await,
        app.delete(&format!("/api/tags/{id}/"))
            .bearer(&scoped.access)
            .send()
            .await,
        app.post(&format!("/api/tags/{id}/restore/"))
            .bearer(&scoped.access)
            .send()
            .await,
    ] {
        assert_error(&r, 403, "permission_denied", denied);
    }
    let one = read(&app, &admin, &format!("/api/tags/{id}/")).await;
    assert_eq!(one["color"], "#6B7280");
});
