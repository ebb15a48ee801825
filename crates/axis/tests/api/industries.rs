//! Industries (axis contract §4): the tree, its computed fields and
//! queries, the naming and hierarchy rules, soft delete and restore, and who
//! may read and write them (§3).

use crate::common::*;

pub const ITEM_KEYS: &[&str] = &[
    "id",
    "name",
    "code",
    "parent_id",
    "parent_name",
    "level",
    "depth",
    "has_children",
    "client_count",
    "created_at",
    "updated_at",
];

pub const DETAIL_EXTRA: &[&str] = &[
    "description",
    "external_id",
    "metadata",
    "parent",
    "full_path",
    "children",
    "deleted_at",
];

const NODE_KEYS: &[&str] = &["id", "name", "code", "parent_id", "level", "children"];

/// Creates an industry as `actor`; the detail.
pub async fn create(app: &TestApp, actor: &Actor, body: Value) -> Value {
    let r = app
        .post("/api/industries/")
        .bearer(&actor.access)
        .json(&body)
        .send()
        .await;
    r.assert_status(201);
    r.json
}

/// The names of an array of industries (or tree nodes), in order.
fn names(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("an array, got {items}"))
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Finance > Banking > Retail Banking, and Health: the ids in that order.
async fn tree(app: &TestApp, admin: &Actor) -> (String, String, String, String) {
    let finance = create(
        app,
        admin,
        json!({"name": "  Finance ", "code": "FIN", "description": "Money"}),
    )
    .await;
    let finance = finance["id"].as_str().unwrap().to_owned();
    let banking = create(
        app,
        admin,
        json!({"name": "Banking", "code": "BNK", "parent_id": finance}),
    )
    .await;
    let banking = banking["id"].as_str().unwrap().to_owned();
    // `parent` is accepted for `parent_id`.
    let retail = create(
        app,
        admin,
        json!({"name": "Retail Banking", "parent": banking}),
    )
    .await;
    let retail = retail["id"].as_str().unwrap().to_owned();
    let health = create(app, admin, json!({"name": "Health", "code": "HLT"})).await;
    let health = health["id"].as_str().unwrap().to_owned();
    (finance, banking, retail, health)
}

db_test!(industry_detail_and_list_shapes, |app| {
    let admin = app.superuser().await;
    let (finance, banking, retail, _health) = tree(&app, &admin).await;

    let r = app
        .get(&format!("/api/industries/{banking}/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    let mut detail_keys: Vec<&str> = ITEM_KEYS.to_vec();
    detail_keys.extend(DETAIL_EXTRA);
    assert_eq!(keys(&r.json), sorted(&detail_keys));
    let d = &r.json;
    assert!(is_cuid(d["id"].as_str().unwrap()));
    assert_eq!(d["name"], "Banking");
    assert_eq!(d["code"], "BNK");
    assert_eq!(d["parent_id"], finance.as_str());
    assert_eq!(d["parent_name"], "Finance");
    assert_eq!(
        d["parent"],
        json!({"id": finance, "name": "Finance", "code": "FIN"})
    );
    assert_eq!(
        (d["level"].clone(), d["depth"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(d["has_children"], true);
    assert_eq!(d["client_count"], 0);
    assert_eq!(d["full_path"], "Finance > Banking");
    assert_eq!(
        d["children"],
        json!([{"id": retail, "name": "Retail Banking", "code": null}])
    );
    assert_eq!(d["metadata"], json!({}));
    assert_eq!(d["deleted_at"], Value::Null);
    assert_eq!(d["external_id"], Value::Null);

    let leaf = app
        .get(&format!("/api/industries/{retail}/"))
        .bearer(&admin.access)
        .send()
        .await;
    leaf.assert_status(200);
    assert_eq!(leaf.json["full_path"], "Finance > Banking > Retail Banking");
    assert_eq!(leaf.json["level"], 2);
    assert_eq!(leaf.json["depth"], 2);
    assert_eq!(leaf.json["has_children"], false);
    assert_eq!(leaf.json["children"], json!([]));

    let root = app
        .get(&format!("/api/industries/{finance}/"))
        .bearer(&admin.access)
        .send()
        .await;
    // The name was trimmed.
    assert_eq!(root.json["name"], "Finance");
    assert_eq!(root.json["full_path"], "Finance");
    assert_eq!(root.json["level"], 0);
    assert_eq!(root.json["parent"], Value::Null);
    assert_eq!(root.json["parent_name"], Value::Null);
    assert_eq!(root.json["description"], "Money");

    // The list: the envelope, the item shape, ordered by level then name.
    let r = app
        .get("/api/industries/")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_page(&r.json, 4);
    assert_eq!(r.json["page"], 1);
    assert_eq!(r.json["page_size"], 10);
    assert_eq!(r.json["total_pages"], 1);
    assert_eq!(r.json["next"], Value::Null);
    assert_eq!(r.json["previous"], Value::Null);
    for item in r.json["results"].as_array().unwrap() {
        assert_eq!(keys(item), sorted(ITEM_KEYS));
    }
    assert_eq!(
        names(&r.json["results"]),
        ["Finance", "Health", "Banking", "Retail Banking"]
    );

    // Pages.
    let r = app
        .get("/api/industries/?page_size=3&page=2")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_page(&r.json, 4);
    assert_eq!(r.json["page"], 2);
    assert_eq!(r.json["total_pages"], 2);
    assert_eq!(names(&r.json["results"]), ["Retail Banking"]);
    assert_eq!(r.json["next"], Value::Null);
    assert!(
        r.json["previous"].as_str().unwrap().contains("page=1"),
        "{}",
        r.json
    );
    let r = app
        .get("/api/industries/?page=abc")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["error"], "Invalid page parameter");
    assert_eq!(r.json["message"], "page must be a valid integer, got: abc");
});

db_test!(industry_queries_return_arrays, |app| {
    let admin = app.superuser().await;
    let (finance, banking, retail, health) = tree(&app, &admin).await;
    let get = |path: String| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            let r = app.get(&path).bearer(&token).send().await;
            r.assert_status(200);
            assert!(r.json.is_array(), "{path} answers an array: {}", r.json);
            r.json
        }
    };

    let roots = get("/api/industries/roots/".into()).await;
    assert_eq!(names(&roots), ["Finance", "Health"]);
    assert_eq!(keys(&roots[0]), sorted(ITEM_KEYS));

    let children = get(format!("/api/industries/{finance}/children/")).await;
    assert_eq!(names(&children), ["Banking"]);
    assert_eq!(keys(&children[0]), sorted(ITEM_KEYS));
    let none = get(format!("/api/industries/{health}/children/")).await;
    assert_eq!(none, json!([]));

    let descendants = get(format!("/api/industries/{finance}/descendants/")).await;
    let mut found = names(&descendants);
    found.sort();
    assert_eq!(found, ["Banking", "Retail Banking"]);

    let whole = get("/api/industries/tree/".into()).await;
    assert_eq!(names(&whole), ["Finance", "Health"]);
    assert_eq!(keys(&whole[0]), sorted(NODE_KEYS));
    assert_eq!(whole[0]["level"], 0);
    assert_eq!(whole[0]["children"][0]["name"], "Banking");
    assert_eq!(whole[0]["children"][0]["level"], 1);
    assert_eq!(whole[0]["children"][0]["parent_id"], finance.as_str());
    assert_eq!(
        whole[0]["children"][0]["children"][0],
        json!({"id": retail, "name": "Retail Banking", "code": null, "parent_id": banking,
               "level": 2, "children": []})
    );
    assert_eq!(whole[1]["children"], json!([]));

    let subtree = get(format!("/api/industries/{banking}/subtree/")).await;
    assert_eq!(names(&subtree), ["Banking"]);
    assert_eq!(subtree[0]["level"], 1);
    assert_eq!(names(&subtree[0]["children"]), ["Retail Banking"]);

    let search = get("/api/industries/search/?name=bank".into()).await;
    assert_eq!(names(&search), ["Banking", "Retail Banking"]);
    let search = get("/api/industries/search/?code=fin".into()).await;
    assert_eq!(names(&search), ["Finance"]);
    let search = get(format!("/api/industries/search/?parent_id={banking}")).await;
    assert_eq!(names(&search), ["Retail Banking"]);
    let search = get("/api/industries/search/?has_children=true".into()).await;
    assert_eq!(names(&search), ["Finance", "Banking"]);
    let search = get("/api/industries/search/?has_children=0".into()).await;
    assert_eq!(names(&search), ["Health", "Retail Banking"]);

    // A malformed or unknown id in the path is the model's 404.
    for path in [
        "/api/industries/nope/children/".to_owned(),
        format!("/api/industries/{}/subtree/", kernel::cuid::new()),
        format!("/api/industries/{}/descendants/", kernel::cuid::new()),
        "/api/industries/x'1/".to_owned(),
    ] {
        let r = app.get(&path).bearer(&admin.access).send().await;
        assert_error(&r, 404, "not_found", "Industry not found");
    }
});

db_test!(industry_list_search_filters_and_ordering, |app| {
    let admin = app.superuser().await;
    let (finance, banking, _retail, _health) = tree(&app, &admin).await;
    let list = |query: &str| {
        let app = &app;
        let token = admin.access.clone();
        let path = format!("/api/industries/{query}");
        async move {
            let r = app.get(&path).bearer(&token).send().await;
            r.assert_status(200);
            names(&r.json["results"])
        }
    };
    assert_eq!(list("?search=BANK").await, ["Banking", "Retail Banking"]);
    // Search covers the description too.
    assert_eq!(list("?search=money").await, ["Finance"]);
    assert_eq!(list(&format!("?parent_id={finance}")).await, ["Banking"]);
    assert_eq!(
        list(&format!("?parent_id={banking}")).await,
        ["Retail Banking"]
    );
    assert_eq!(list("?code=HLT").await, ["Health"]);
    assert_eq!(list("?has_children=true").await, ["Finance", "Banking"]);
    assert_eq!(
        list("?ordering=-name").await,
        ["Retail Banking", "Health", "Finance", "Banking"]
    );
    assert_eq!(
        list("?ordering=name").await,
        ["Banking", "Finance", "Health", "Retail Banking"]
    );
    assert_eq!(
        list("?ordering=-level,name").await,
        ["Retail Banking", "Banking", "Finance", "Health"]
    );
    // Unknown ordering names are ignored: the default order.
    assert_eq!(
        list("?ordering=bogus").await,
        ["Finance", "Health", "Banking", "Retail Banking"]
    );
    let r = app
        .get("/api/industries/?has_children=maybe")
        .bearer(&admin.access)
        .send()
        .await;
    assert_field_error(&r, "has_children", None);
});

db_test!(industry_names_and_codes_are_unique_among_live_rows, |app| {
    let admin = app.superuser().await;
    let (finance, _banking, _retail, health) = tree(&app, &admin).await;
    let post = |body: Value| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            app.post("/api/industries/")
                .bearer(&token)
                .json(&body)
                .send()
                .await
        }
    };

    let r = post(json!({"name": "FINANCE"})).await;
    assert_field_error(
        &r,
        "name",
        Some("Industry with name 'FINANCE' already exists"),
    );
    let r = post(json!({"name": "Insurance", "code": "FIN"})).await;
    assert_field_error(&r, "code", Some("Industry with code 'FIN' already exists"));
    // Codes compare the same way on every database.
    let r = post(json!({"name": "Insurance", "code": "fin"})).await;
    assert_field_error(&r, "code", Some("Industry with code 'fin' already exists"));
    let r = post(json!({"name": "Insurance", "external_id": "X-1"})).await;
    r.assert_status(201);
    let r = post(json!({"name": "Mining", "external_id": "X-1"})).await;
    assert_field_error(&r, "external_id", None);

    // Renaming onto another live name is refused; keeping one's own is fine.
    let r = app
        .patch(&format!("/api/industries/{health}/"))
        .bearer(&admin.access)
        .json(&json!({"name": "finance"}))
        .send()
        .await;
    assert_field_error(
        &r,
        "name",
        Some("Industry with name 'finance' already exists"),
    );
    let r = app
        .patch(&format!("/api/industries/{finance}/"))
        .bearer(&admin.access)
        .json(&json!({"name": "FINANCE", "code": "FIN"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["name"], "FINANCE");

    // A deleted industry frees its name and code.
    let r = app
        .delete(&format!("/api/industries/{health}/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(204);
    let again = post(json!({"name": "health", "code": "HLT"})).await;
    again.assert_status(201);
    assert_eq!(again.json["name"], "health");
    // ... and restoring the old one now clashes: a 400, never a 500.
    let r = app
        .post(&format!("/api/industries/{health}/restore/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "invalid_state");
});

db_test!(industry_input_is_validated, |app| {
    let admin = app.superuser().await;
    let (finance, banking, retail, _health) = tree(&app, &admin).await;
    let post = |body: Value| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            app.post("/api/industries/")
                .bearer(&token)
                .json(&body)
                .send()
                .await
        }
    };
    let before = app.trail_counts().await;

    let r = post(json!({})).await;
    assert_field_error(&r, "name", Some("This field is required."));
    let r = post(json!({"name": "   "})).await;
    assert_field_error(&r, "name", Some("Industry name cannot be empty"));
    let r = post(json!({"name": null})).await;
    assert_field_error(&r, "name", None);
    let r = post(json!({"name": 42})).await;
    assert_field_error(&r, "name", None);
    let r = post(json!({"name": "Mining", "metadata": [1]})).await;
    assert_field_error(&r, "metadata", None);
    let r = post(json!({"name": "Mining", "parent_id": 7})).await;
    assert_field_error(&r, "parent_id", None);
    let unknown = kernel::cuid::new();
    let r = post(json!({"name": "Mining", "parent_id": unknown})).await;
    assert_field_error(
        &r,
        "parent_id",
        Some(&format!(
            "Invalid pk \"{unknown}\" - object does not exist."
        )),
    );
    let r = post(json!({"name": "Mining", "parent_id": "x"})).await;
    assert_field_error(
        &r,
        "parent_id",
        Some("Invalid pk \"x\" - object does not exist."),
    );
    let r = app
        .post("/api/industries/")
        .bearer(&admin.access)
        .raw("application/json", "{\"name\": ")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "parse_error");
    assert_eq!(r.json["status_code"], 400);
    assert!(
        r.json["error"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - "),
        "{}",
        r.json
    );

    // The hierarchy cannot loop.
    let r = app
        .patch(&format!("/api/industries/{banking}/"))
        .bearer(&admin.access)
        .json(&json!({"parent_id": banking}))
        .send()
        .await;
    assert_field_error(&r, "parent_id", Some("Industry cannot be its own parent"));
    let r = app
        .patch(&format!("/api/industries/{finance}/"))
        .bearer(&admin.access)
        .json(&json!({"parent_id": retail}))
        .send()
        .await;
    assert_field_error(
        &r,
        "parent_id",
        Some("Cannot update: would create circular reference in hierarchy"),
    );
    // PUT needs the required fields.
    let r = app
        .put(&format!("/api/industries/{banking}/"))
        .bearer(&admin.access)
        .json(&json!({"code": "BNK"}))
        .send()
        .await;
    assert_field_error(&r, "name", Some("This field is required."));
    // Failed writes leave no trace.
    assert_eq!(app.trail_counts().await, before);

    // A valid PUT and PATCH: moving a subtree recomputes levels and paths.
    let r = app
        .put(&format!("/api/industries/{banking}/"))
        .bearer(&admin.access)
        .json(&json!({"name": "Banking", "parent_id": null, "metadata": {"tier": 1}}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["level"], 0);
    assert_eq!(r.json["full_path"], "Banking");
    assert_eq!(r.json["metadata"], json!({"tier": 1}));
    let leaf = app
        .get(&format!("/api/industries/{retail}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(leaf.json["full_path"], "Banking > Retail Banking");
    assert_eq!(leaf.json["level"], 1);
    let audit = app.audit_logs_of("Industry", &banking).await;
    assert_eq!(audit.last().unwrap().action, "Update");

    // Path ids.
    for path in [
        "/api/industries/abc/".to_owned(),
        format!("/api/industries/{unknown}/"),
    ] {
        let r = app.get(&path).bearer(&admin.access).send().await;
        assert_error(&r, 404, "not_found", "Industry not found");
        let r = app
            .patch(&path)
            .bearer(&admin.access)
            .json(&json!({"name": "X"}))
            .send()
            .await;
        assert_error(&r, 404, "not_found", "Industry not found");
        let r = app.delete(&path).bearer(&admin.access).send().await;
        assert_error(&r, 404, "not_found", "Industry not found");
    }
});

db_test!(industry_delete_and_restore, |app| {
    let admin = app.superuser().await;
    let (finance, banking, retail, _health) = tree(&app, &admin).await;
    let client = crate::clients::create(
        &app,
        &admin,
        json!({"name": "Acme Bank", "industry_id": retail}),
    )
    .await;
    let client_id = client["id"].as_str().unwrap().to_owned();
    assert_eq!(client["industry"]["name"], "Retail Banking");
    let r = app
        .get(&format!("/api/industries/{retail}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["client_count"], 1);

    // An industry with live children stays.
    let r = app
        .delete(&format!("/api/industries/{banking}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(
        &r,
        400,
        "invalid_state",
        "Cannot delete an industry that has child industries",
    );

    let r = app
        .delete(&format!("/api/industries/{retail}/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(204);
    assert!(r.body.is_empty());
    let r = app
        .get(&format!("/api/industries/{retail}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Industry not found");
    let r = app
        .get("/api/industries/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_page(&r.json, 3);
    assert!(!names(&r.json["results"]).contains(&"Retail Banking".to_owned()));
    let r = app
        .get(&format!("/api/industries/{banking}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["has_children"], false);
    assert_eq!(r.json["children"], json!([]));
    let r = app
        .get(&format!("/api/industries/{finance}/descendants/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(names(&r.json), ["Banking"]);

    // Its clients keep the reference but show no industry.
    let r = app
        .get(&format!("/api/clients/{client_id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["industry"], Value::Null);
    assert_eq!(r.json["industry_name"], Value::Null);
    let r = app.get("/api/clients/").bearer(&admin.access).send().await;
    assert_eq!(r.json["results"][0]["industry_name"], Value::Null);
    // A client cannot be given the deleted industry.
    let r = app
        .patch(&format!("/api/clients/{client_id}/"))
        .bearer(&admin.access)
        .json(&json!({"industry_id": retail}))
        .send()
        .await;
    assert_field_error(
        &r,
        "industry_id",
        Some(&format!("Invalid pk \"{retail}\" - object does not exist.")),
    );
    // Nor can an industry take it as a parent.
    let r = app
        .post("/api/industries/")
        .bearer(&admin.access)
        .json(&json!({"name": "Micro Lending", "parent_id": retail}))
        .send()
        .await;
    assert_field_error(&r, "parent_id", None);

    // Restore brings it back with its place in the tree.
    let r = app
        .post(&format!("/api/industries/{retail}/restore/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["id"], retail.as_str());
    assert_eq!(r.json["deleted_at"], Value::Null);
    assert_eq!(r.json["full_path"], "Finance > Banking > Retail Banking");
    assert_eq!(r.json["client_count"], 1);
    let r = app
        .get(&format!("/api/clients/{client_id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["industry"]["id"], retail.as_str());
    // Restoring a live industry is refused; an unknown one is absent.
    let r = app
        .post(&format!("/api/industries/{retail}/restore/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "invalid_state");
    let r = app
        .post(&format!("/api/industries/{}/restore/", kernel::cuid::new()))
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Industry not found");

    // The trail: Create, Delete, then the restore.
    let changes = app.entity_changes_of("Industry", &retail).await;
    let types: Vec<&str> = changes.iter().map(|c| c.change_type.as_str()).collect();
    assert_eq!(types, ["Create", "Delete", "Restore"]);
});

db_test!(industry_access_by_role, |app| {
    let admin = app.superuser().await;
    let manager = app.manager(&admin).await;
    let scoped = app.scoped(&admin).await;
    let (finance, _banking, retail, _health) = tree(&app, &admin).await;

    // No token: 401 everywhere.
    for r in [
        app.get("/api/industries/").send().await,
        app.get("/api/industries/tree/").send().await,
        app.get(&format!("/api/industries/{finance}/")).send().await,
        app.post("/api/industries/")
            .json(&json!({"name": "Mining"}))
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

    // A manager writes.
    let mining = create(&app, &manager, json!({"name": "Mining"})).await;
    let mining = mining["id"].as_str().unwrap().to_owned();

    // A scoped user reads everything but writes nothing.
    let r = app
        .get("/api/industries/")
        .bearer(&scoped.access)
        .send()
        .await;
    r.assert_status(200);
    assert_page(&r.json, 5);
    for path in [
        "/api/industries/tree/".to_owned(),
        "/api/industries/roots/".to_owned(),
        format!("/api/industries/{finance}/"),
        format!("/api/industries/{finance}/subtree/"),
    ] {
        app.get(&path)
            .bearer(&scoped.access)
            .send()
            .await
            .assert_status(200);
    }
    let denied = "You do not have permission to perform this action.";
    for r in [
        app.post("/api/industries/")
            .bearer(&scoped.access)
            .json(&json!({"name": "Energy"}))
            .send()
            .await,
        app.put(&format!("/api/industries/{mining}/"))
            .bearer(&scoped.access)
            .json(&json!({"name": "Energy"}))
            .send()
            .await,
        app.patch(&format!("/api/industries/{mining}/"))
            .bearer(&scoped.access)
            .json(&json!({"name": "Energy"}))
            .send()
            .await,
        app.delete(&format!("/api/industries/{mining}/"))
            .bearer(&scoped.access)
            .send()
            .await,
        app.post(&format!("/api/industries/{mining}/restore/"))
            .bearer(&scoped.access)
            .send()
            .await,
    ] {
        assert_error(&r, 403, "permission_denied", denied);
    }
    let r = app
        .get(&format!("/api/industries/{mining}/"))
        .bearer(&scoped.access)
        .send()
        .await;
    assert_eq!(r.json["name"], "Mining");

    // client_count counts only the clients the caller may see.
    let granted = crate::clients::create(
        &app,
        &admin,
        json!({"name": "Granted Bank", "industry_id": retail}),
    )
    .await;
    crate::clients::create(
        &app,
        &admin,
        json!({"name": "Other Bank", "industry_id": retail}),
    )
    .await;
    app.grant(&admin, &scoped.id, granted["id"].as_str().unwrap())
        .await;
    let count = |actor: &Actor| {
        let app = &app;
        let token = actor.access.clone();
        let path = format!("/api/industries/{retail}/");
        async move {
            let r = app.get(&path).bearer(&token).send().await;
            r.json["client_count"].clone()
        }
    };
    assert_eq!(count(&admin).await, 2);
    assert_eq!(count(&manager).await, 2);
    assert_eq!(count(&scoped).await, 1);
});
