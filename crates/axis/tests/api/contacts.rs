//! A client's contacts (axis contract §5, "Contacts"): the shape, one
//! primary contact, the contact-method and unique-email rules, soft delete
//! and restore, and scoping by the URL's client and by grants (§3),
//! `X-Client-ID` included.

use crate::clients::{create_id, read};
use crate::common::*;

pub const KEYS: &[&str] = &[
    "id",
    "client_id",
    "client_name",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "mobile",
    "role",
    "title",
    "department",
    "is_primary",
    "preferred_contact_method",
    "is_active",
    "notes",
    "metadata",
    "created_at",
    "updated_at",
    "deleted_at",
];

const NO_METHOD: &str = "Contact must have at least one contact method (email, phone, or mobile).";
const TAKEN: &str = "A contact with this email already exists for this client.";

/// Adds a contact to `client` as `actor`; the contact.
pub async fn create(app: &TestApp, actor: &Actor, client: &str, body: Value) -> Value {
    let r = app
        .post(&format!("/api/clients/{client}/contacts/"))
        .bearer(&actor.access)
        .json(&body)
        .send()
        .await;
    r.assert_status(201);
    r.json
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn full_names(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["full_name"].as_str().unwrap().to_owned())
        .collect()
}

db_test!(contact_shapes_and_the_primary_contact, |app| {
    let admin = app.superuser().await;
    let client = create_id(&app, &admin, json!({"name": "Omicron Ltd"})).await;
    let base = format!("/api/clients/{client}/contacts");

    let ana = create(
        &app,
        &admin,
        &client,
        json!({"first_name": " Ana ", "last_name": "Silva", "email": "Ana@Omicron.Example",
               "role": "TECHNICAL", "title": "CTO", "department": "IT"}),
    )
    .await;
    assert_eq!(keys(&ana), sorted(KEYS));
    assert!(is_cuid(ana["id"].as_str().unwrap()));
    assert_eq!(ana["client_id"], client.as_str());
    assert_eq!(ana["client_name"], "Omicron Ltd");
    assert_eq!(ana["first_name"], "Ana");
    assert_eq!(ana["full_name"], "Ana Silva");
    assert_eq!(ana["email"], "ana@omicron.example");
    assert_eq!(ana["role"], "Technical");
    assert_eq!(ana["is_primary"], false);
    assert_eq!(ana["preferred_contact_method"], "Email");
    assert_eq!(ana["is_active"], true);
    assert_eq!(ana["metadata"], json!({}));
    assert_eq!(ana["deleted_at"], Value::Null);

    // No primary yet.
    let r = app
        .get(&format!("{base}/primary/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(
        &r,
        404,
        "not_found",
        "No primary contact found for this client",
    );

    let ben = create(
        &app,
        &admin,
        &client,
        json!({"first_name": "Ben", "last_name": "Dube", "phone": "+27 11 555 0200",
               "is_primary": true, "preferred_contact_method": "PHONE"}),
    )
    .await;
    assert_eq!(ben["is_primary"], true);
    assert_eq!(ben["preferred_contact_method"], "Phone");
    let primary = read(&app, &admin, &format!("{base}/primary/")).await;
    assert_eq!(primary["id"], ben["id"]);
    assert_eq!(keys(&primary), sorted(KEYS));
    let d = read(&app, &admin, &format!("/api/clients/{client}/")).await;
    assert_eq!(
        d["primary_contact"],
        json!({"name": "Ben Dube", "email": null, "phone": "+27 11 555 0200", "method": "Phone"})
    );
    assert_eq!(d["contacts_count"], 2);

    // A new primary clears the old one.
    let cara = create(
        &app,
        &admin,
        &client,
        json!({"first_name": "Cara", "last_name": "Mthembu", "mobile": "+27 82 555 0300",
               "is_primary": true, "is_active": false}),
    )
    .await;
    let b = read(&app, &admin, &format!("{base}/{}/", id_of(&ben))).await;
    assert_eq!(b["is_primary"], false);
    assert_eq!(
        read(&app, &admin, &format!("{base}/primary/")).await["id"],
        cara["id"]
    );
    // So does set_primary (no body), and PATCH is_primary.
    let r = app
        .post(&format!("{base}/{}/set_primary/", id_of(&ana)))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(keys(&r.json), sorted(KEYS));
    assert_eq!(r.json["is_primary"], true);
    let list = read(&app, &admin, &format!("{base}/?is_primary=true")).await;
    assert_page(&list, 1);
    assert_eq!(full_names(&list), ["Ana Silva"]);
    let r = app
        .patch(&format!("{base}/{}/", id_of(&ben)))
        .bearer(&admin.access)
        .json(&json!({"is_primary": true}))
        .send()
        .await;
    r.assert_status(200);
    let list = read(&app, &admin, &format!("{base}/?is_primary=1")).await;
    assert_eq!(full_names(&list), ["Ben Dube"]);

    // The list: envelope, shape, filters, search, ordering.
    let list = read(&app, &admin, &format!("{base}/")).await;
    assert_page(&list, 3);
    for item in list["results"].as_array().unwrap() {
        assert_eq!(keys(item), sorted(KEYS));
    }
    assert_eq!(full_names(&list), ["Cara Mthembu", "Ben Dube", "Ana Silva"]);
    let list = read(&app, &admin, &format!("{base}/?ordering=first_name")).await;
    assert_eq!(full_names(&list), ["Ana Silva", "Ben Dube", "Cara Mthembu"]);
    let list = read(&app, &admin, &format!("{base}/?role=technical")).await;
    assert_eq!(full_names(&list), ["Ana Silva"]);
    let list = read(&app, &admin, &format!("{base}/?is_active=false")).await;
    assert_eq!(full_names(&list), ["Cara Mthembu"]);
    let list = read(&app, &admin, &format!("{base}/?search=OMICRON")).await;
    assert_eq!(full_names(&list), ["Ana Silva"]);
    let list = read(&app, &admin, &format!("{base}/?search=dube")).await;
    assert_eq!(full_names(&list), ["Ben Dube"]);
    for (query, field) in [("?role=Boss", "role"), ("?is_primary=maybe", "is_primary")] {
        let r = app
            .get(&format!("{base}/{query}"))
            .bearer(&admin.access)
            .send()
            .await;
        assert_field_error(&r, field, None);
    }

    // The trail.
    let logs = app.audit_logs_of("ClientContact", &id_of(&ana)).await;
    let actions: Vec<&str> = logs.iter().map(|l| l.action.as_str()).collect();
    assert_eq!(actions, ["Create", "Update"]);
});

db_test!(contact_input_is_validated, |app| {
    let admin = app.superuser().await;
    let client = create_id(&app, &admin, json!({"name": "Pi Co"})).await;
    let other = create_id(&app, &admin, json!({"name": "Rho Co"})).await;
    let base = format!("/api/clients/{client}/contacts/");
    let post = |body: Value| {
        let app = &app;
        let token = admin.access.clone();
        let base = base.clone();
        async move { app.post(&base).bearer(&token).json(&body).send().await }
    };
    let dana = create(
        &app,
        &admin,
        &client,
        json!({"first_name": "Dana", "last_name": "Khumalo", "email": "dana@pi.example"}),
    )
    .await;
    let before = app.trail_counts().await;

    let r = post(json!({"last_name": "X", "email": "x@pi.example"})).await;
    assert_field_error(&r, "first_name", Some("This field is required."));
    let r = post(json!({"first_name": "X", "email": "x@pi.example"})).await;
    assert_field_error(&r, "last_name", Some("This field is required."));
    let r = post(json!({"first_name": " ", "last_name": "X", "email": "x@pi.example"})).await;
    assert_field_error(&r, "first_name", None);
    let r = post(json!({"first_name": "No", "last_name": "Way"})).await;
    assert_field_error(&r, "non_field_errors", Some(NO_METHOD));
    let r = post(json!({"first_name": "No", "last_name": "Way", "email": "", "phone": null})).await;
    assert_field_error(&r, "non_field_errors", Some(NO_METHOD));
    let r = post(json!({"first_name": "E", "last_name": "F", "email": "DANA@pi.example"})).await;
    assert_field_error(&r, "email", Some(TAKEN));
    let r = post(json!({"first_name": "E", "last_name": "F", "email": "not-mail"})).await;
    assert_field_error(&r, "email", Some("Enter a valid email address."));
    let r =
        post(json!({"first_name": "E", "last_name": "F", "email": "e@pi.example", "role": "Boss"}))
            .await;
    assert_field_error(&r, "role", Some("\"Boss\" is not a valid choice."));
    let r = post(
        json!({"first_name": "E", "last_name": "F", "email": "e@pi.example",
                        "preferred_contact_method": "Fax"}),
    )
    .await;
    assert_field_error(
        &r,
        "preferred_contact_method",
        Some("\"Fax\" is not a valid choice."),
    );
    let r = post(
        json!({"first_name": "E", "last_name": "F", "email": "e@pi.example", "is_primary": "yes"}),
    )
    .await;
    assert_field_error(&r, "is_primary", None);
    let r = post(json!({"first_name": 1, "last_name": "F", "email": "e@pi.example"})).await;
    assert_field_error(&r, "first_name", None);
    let r =
        post(json!({"first_name": "E", "last_name": "F", "email": "e@pi.example", "metadata": 3}))
            .await;
    assert_field_error(&r, "metadata", None);
    let r = app
        .post(&base)
        .bearer(&admin.access)
        .raw("application/json", "[1,")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "parse_error");
    // Updates keep the rules.
    let r = app
        .patch(&format!("{base}{}/", id_of(&dana)))
        .bearer(&admin.access)
        .json(&json!({"email": null}))
        .send()
        .await;
    assert_field_error(&r, "non_field_errors", Some(NO_METHOD));
    let r = app
        .put(&format!("{base}{}/", id_of(&dana)))
        .bearer(&admin.access)
        .json(&json!({"first_name": "Dana"}))
        .send()
        .await;
    assert_field_error(&r, "last_name", Some("This field is required."));
    assert_eq!(app.trail_counts().await, before);

    // The same email at another client is fine; a PATCH keeping one's own too.
    create(
        &app,
        &admin,
        &other,
        json!({"first_name": "Dana", "last_name": "Khumalo", "email": "dana@pi.example"}),
    )
    .await;
    let r = app
        .patch(&format!("{base}{}/", id_of(&dana)))
        .bearer(&admin.access)
        .json(&json!({"email": "Dana@Pi.example", "phone": "+27 11 555 0400"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["phone"], "+27 11 555 0400");
    // A deleted contact frees its email.
    app.delete(&format!("{base}{}/", id_of(&dana)))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    let again = create(
        &app,
        &admin,
        &client,
        json!({"first_name": "Dana", "last_name": "Again", "email": "dana@pi.example"}),
    )
    .await;
    assert_eq!(again["email"], "dana@pi.example");
    // ... so restoring the old one clashes: a 400.
    let r = app
        .post(&format!("{base}{}/restore/", id_of(&dana)))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "invalid_state");

    // Path ids.
    for path in [
        format!("{base}nope/"),
        format!("{base}{}/", kernel::cuid::new()),
    ] {
        let r = app.get(&path).bearer(&admin.access).send().await;
        assert_error(&r, 404, "not_found", "Contact not found");
        let r = app.delete(&path).bearer(&admin.access).send().await;
        assert_error(&r, 404, "not_found", "Contact not found");
    }
    for path in [
        "/api/clients/nope/contacts/".to_owned(),
        format!("/api/clients/{}/contacts/", kernel::cuid::new()),
        format!("/api/clients/{}/contacts/primary/", kernel::cuid::new()),
    ] {
        let r = app.get(&path).bearer(&admin.access).send().await;
        assert_error(&r, 404, "not_found", "Client not found");
    }
});

db_test!(contact_delete_and_restore, |app| {
    let admin = app.superuser().await;
    let client = create_id(&app, &admin, json!({"name": "Sigma Co"})).await;
    let base = format!("/api/clients/{client}/contacts/");
    let eve = create(
        &app,
        &admin,
        &client,
        json!({"first_name": "Eve", "last_name": "Naidoo", "email": "eve@sigma.example",
               "is_primary": true}),
    )
    .await;
    let eve = id_of(&eve);
    let r = app
        .post(&format!("{base}{eve}/restore/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "invalid_state");
    let r = app
        .delete(&format!("{base}{eve}/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(204);
    assert!(r.body.is_empty());
    let r = app
        .get(&format!("{base}{eve}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Contact not found");
    for path in [format!("{base}{eve}/set_primary/")] {
        let r = app.post(&path).bearer(&admin.access).send().await;
        assert_error(&r, 404, "not_found", "Contact not found");
    }
    assert_page(&read(&app, &admin, &base).await, 0);
    let r = app
        .get(&format!("{base}primary/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(404);
    let d = read(&app, &admin, &format!("/api/clients/{client}/")).await;
    assert_eq!(d["contacts_count"], 0);
    assert_eq!(d["primary_contact"]["name"], "Sigma Co");

    let r = app
        .post(&format!("{base}{eve}/restore/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(keys(&r.json), sorted(KEYS));
    assert_eq!(r.json["deleted_at"], Value::Null);
    assert_page(&read(&app, &admin, &base).await, 1);
    let types: Vec<String> = app
        .entity_changes_of("ClientContact", &eve)
        .await
        .into_iter()
        .map(|c| c.change_type)
        .collect();
    assert_eq!(types, ["Create", "Delete", "Restore"]);

    // A deleted client's contacts are gone with it.
    app.delete(&format!("/api/clients/{client}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    let r = app.get(&base).bearer(&admin.access).send().await;
    assert_error(&r, 404, "not_found", "Client not found");
    let r = app
        .get(&format!("{base}{eve}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Client not found");
});

db_test!(contacts_are_scoped_by_client_and_grant, |app| {
    let admin = app.superuser().await;
    let scoped = app.scoped(&admin).await;
    let granted = create_id(&app, &admin, json!({"name": "Tau Granted"})).await;
    let hidden = create_id(&app, &admin, json!({"name": "Upsilon Hidden"})).await;
    let grant = app.grant(&admin, &scoped.id, &granted).await;
    let mine = format!("/api/clients/{granted}/contacts/");
    let theirs = format!("/api/clients/{hidden}/contacts/");
    let foreign = create(
        &app,
        &admin,
        &hidden,
        json!({"first_name": "Hal", "last_name": "Hidden", "email": "hal@hidden.example"}),
    )
    .await;
    let foreign = id_of(&foreign);

    // No token.
    for r in [
        app.get(&mine).send().await,
        app.post(&mine)
            .json(&json!({"first_name": "A", "last_name": "B", "email": "a@b.example"}))
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

    // The scoped user reads and writes the granted client's contacts.
    let own = create(
        &app,
        &scoped,
        &granted,
        json!({"first_name": "Gugu", "last_name": "Zwane", "email": "gugu@tau.example"}),
    )
    .await;
    let own = id_of(&own);
    let r = app
        .patch(&format!("{mine}{own}/"))
        .bearer(&scoped.access)
        .json(&json!({"title": "HR Lead"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["title"], "HR Lead");
    let r = app
        .post(&format!("{mine}{own}/set_primary/"))
        .bearer(&scoped.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        read(&app, &scoped, &format!("{mine}primary/")).await["id"],
        own.as_str()
    );
    assert_page(&read(&app, &scoped, &mine).await, 1);

    // A contact of another client under this URL is absent.
    for r in [
        app.get(&format!("{mine}{foreign}/"))
            .bearer(&admin.access)
            .send()
            .await,
        app.patch(&format!("{mine}{foreign}/"))
            .bearer(&admin.access)
            .json(&json!({"title": "Moved"}))
            .send()
            .await,
        app.delete(&format!("{mine}{foreign}/"))
            .bearer(&admin.access)
            .send()
            .await,
        app.post(&format!("{mine}{foreign}/set_primary/"))
            .bearer(&admin.access)
            .send()
            .await,
    ] {
        assert_error(&r, 404, "not_found", "Contact not found");
    }
    let f = read(&app, &admin, &format!("{theirs}{foreign}/")).await;
    assert_eq!(
        (f["title"].clone(), f["is_primary"].clone()),
        (Value::Null, json!(false))
    );

    // Another client's contacts are absent for the scoped user.
    for r in [
        app.get(&theirs).bearer(&scoped.access).send().await,
        app.get(&format!("{theirs}primary/"))
            .bearer(&scoped.access)
            .send()
            .await,
        app.get(&format!("{theirs}{foreign}/"))
            .bearer(&scoped.access)
            .send()
            .await,
        app.post(&theirs)
            .bearer(&scoped.access)
            .json(&json!({"first_name": "I", "last_name": "J", "email": "i@j.example"}))
            .send()
            .await,
        app.patch(&format!("{theirs}{foreign}/"))
            .bearer(&scoped.access)
            .json(&json!({"title": "x"}))
            .send()
            .await,
        app.delete(&format!("{theirs}{foreign}/"))
            .bearer(&scoped.access)
            .send()
            .await,
        app.post(&format!("{theirs}{foreign}/restore/"))
            .bearer(&scoped.access)
            .send()
            .await,
    ] {
        assert_error(&r, 404, "not_found", "Client not found");
    }
    // Restoring is for platform users.
    app.delete(&format!("{mine}{own}/"))
        .bearer(&scoped.access)
        .send()
        .await
        .assert_status(204);
    let r = app
        .post(&format!("{mine}{own}/restore/"))
        .bearer(&scoped.access)
        .send()
        .await;
    assert_error(
        &r,
        403,
        "permission_denied",
        "You do not have permission to perform this action.",
    );

    // X-Client-ID is checked here.
    let with_header = |token: &str, header: &str| {
        let app = &app;
        let token = token.to_owned();
        let header = header.to_owned();
        let mine = mine.clone();
        async move {
            app.get(&mine)
                .bearer(&token)
                .header("x-client-id", &header)
                .send()
                .await
        }
    };
    let r = with_header(&scoped.access, &granted).await;
    r.assert_status(200);
    let r = with_header(&scoped.access, &hidden).await;
    assert_error(
        &r,
        403,
        "permission_denied",
        "You do not have access to this client",
    );
    let r = with_header(&scoped.access, "not-a-client-id").await;
    assert_error(&r, 403, "permission_denied", "Invalid client ID format");
    let r = with_header(&admin.access, &kernel::cuid::new()).await;
    assert_error(
        &r,
        403,
        "permission_denied",
        "Client not found or has been deleted",
    );
    let r = with_header(&admin.access, &hidden).await;
    r.assert_status(200);

    // A revoked grant ends at the next request.
    app.delete(&format!(
        "/api/user-clients/{}/",
        grant["id"].as_str().unwrap()
    ))
    .bearer(&admin.access)
    .send()
    .await
    .assert_status(204);
    let r = app.get(&mine).bearer(&scoped.access).send().await;
    assert_error(&r, 404, "not_found", "Client not found");
});
