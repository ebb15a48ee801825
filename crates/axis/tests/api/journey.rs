//! The whole back office end to end, as the "done when" of the clients work
//! reads: an admin signs in, makes a manager and a scoped user, grants the
//! scoped user one client, builds an industry tree and clients with contacts
//! and activities; the scoped user sees only its client; deleting a client
//! hides it everywhere while its audit history stays readable field by field.

use crate::clients::{name_set, names, read};
use crate::common::*;

db_test!(back_office_journey, |app| {
    // The admin signs in; it makes a manager and a scoped user.
    let admin = app.superuser().await;
    let me = read(&app, &admin, "/api/auth/me/").await;
    assert_eq!(me["email"], "root@axis.example");
    let manager = app.manager(&admin).await;
    let scoped = app.scoped(&admin).await;

    // The industry tree, built by the admin and the manager.
    let finance =
        crate::industries::create(&app, &admin, json!({"name": "Finance", "code": "FIN"})).await;
    let finance = finance["id"].as_str().unwrap().to_owned();
    let banking = crate::industries::create(
        &app,
        &manager,
        json!({"name": "Banking", "parent_id": finance}),
    )
    .await;
    assert_eq!(banking["full_path"], "Finance > Banking");
    let banking = banking["id"].as_str().unwrap().to_owned();
    let health = crate::industries::create(&app, &admin, json!({"name": "Health"})).await;
    let health = health["id"].as_str().unwrap().to_owned();
    let tree = read(&app, &scoped, "/api/industries/tree/").await;
    assert_eq!(tree[0]["name"], "Finance");
    assert_eq!(tree[0]["children"][0]["name"], "Banking");

    // Clients with contacts and activities.
    let vip = crate::tags::create(&app, &admin, json!({"name": "VIP"})).await;
    let bank = crate::clients::create(
        &app,
        &manager,
        json!({"name": "Ubuntu Bank", "email": "ops@ubuntu.example", "industry_id": banking,
               "tag_ids": [vip["id"]]}),
    )
    .await;
    assert_eq!(bank["status"], "Pending");
    let bank = bank["id"].as_str().unwrap().to_owned();
    let clinic = crate::clients::create_id(
        &app,
        &admin,
        json!({"name": "Harbour Clinic", "phone": "+27 21 555 0100", "industry_id": health,
               "status": "Active"}),
    )
    .await;
    let r = app
        .post(&format!("/api/clients/{bank}/activate/"))
        .bearer(&manager.access)
        .send()
        .await;
    r.assert_status(200);
    let r = app
        .post(&format!("/api/clients/{bank}/verify/"))
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(200);
    let thabo = crate::contacts::create(
        &app,
        &admin,
        &bank,
        json!({"first_name": "Thabo", "last_name": "Molefe", "email": "thabo@ubuntu.example",
               "is_primary": true, "role": "Executive"}),
    )
    .await;
    let thabo = thabo["id"].as_str().unwrap().to_owned();
    let nurse = crate::contacts::create(
        &app,
        &manager,
        &clinic,
        json!({"first_name": "Naledi", "last_name": "Sithole", "phone": "+27 21 555 0101"}),
    )
    .await;
    let nurse = nurse["id"].as_str().unwrap().to_owned();
    crate::activities::create(
        &app,
        &manager,
        &bank,
        json!({"activity_type": "Meeting", "title": "Onboarding", "contact_id": thabo}),
    )
    .await;
    let clinic_call = crate::activities::create(
        &app,
        &admin,
        &clinic,
        json!({"activity_type": "Call", "title": "Intro call", "contact_id": nurse}),
    )
    .await;
    let clinic_call = clinic_call["id"].as_str().unwrap().to_owned();

    // The admin grants the scoped user the bank.
    let grant = app.grant(&admin, &scoped.id, &bank).await;
    assert_eq!(grant["client_name"], "Ubuntu Bank");

    // The scoped user sees the bank and nothing of the clinic.
    let list = read(&app, &scoped, "/api/clients/").await;
    assert_page(&list, 1);
    assert_eq!(names(&list), ["Ubuntu Bank"]);
    let d = read(&app, &scoped, &format!("/api/clients/{bank}/")).await;
    assert_eq!(d["primary_contact"]["name"], "Thabo Molefe");
    assert_eq!(d["industry"]["name"], "Banking");
    assert_eq!(d["contacts_count"], 1);
    assert_eq!(d["activities_count"], 1);
    assert!(d["last_contact_date"].is_string());
    for path in [
        "/api/clients/active/",
        "/api/clients/verified/",
        "/api/clients/recent/",
        "/api/clients/search/",
    ] {
        assert_eq!(
            names(&read(&app, &scoped, path).await),
            ["Ubuntu Bank"],
            "{path}"
        );
    }
    assert!(
        read(&app, &scoped, &format!("/api/clients/industry/{health}/"))
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    let i = read(&app, &scoped, &format!("/api/industries/{health}/")).await;
    assert_eq!(i["client_count"], 0);
    for path in [
        format!("/api/clients/{clinic}/"),
        format!("/api/clients/{clinic}/stats/"),
        format!("/api/clients/{clinic}/contacts/"),
        format!("/api/clients/{clinic}/contacts/{nurse}/"),
        format!("/api/clients/{clinic}/activities/"),
        format!("/api/clients/{clinic}/activities/{clinic_call}/"),
        format!("/api/clients/{clinic}/activities/timeline/"),
    ] {
        let r = app.get(&path).bearer(&scoped.access).send().await;
        assert_error(&r, 404, "not_found", "Client not found");
    }
    // It works with its own client's contacts and activities...
    let r = app
        .post(&format!("/api/clients/{bank}/activities/"))
        .bearer(&scoped.access)
        .header("x-client-id", &bank)
        .json(&json!({"activity_type": "Note", "title": "Asked about counselling hours"}))
        .send()
        .await;
    r.assert_status(201);
    // ... but cannot change the client itself, nor name another client in
    // X-Client-ID.
    let r = app
        .patch(&format!("/api/clients/{bank}/"))
        .bearer(&scoped.access)
        .json(&json!({"name": "Mine"}))
        .send()
        .await;
    assert_error(
        &r,
        403,
        "permission_denied",
        "You do not have permission to perform this action.",
    );
    let r = app
        .get(&format!("/api/clients/{bank}/contacts/"))
        .bearer(&scoped.access)
        .header("x-client-id", &clinic)
        .send()
        .await;
    assert_error(
        &r,
        403,
        "permission_denied",
        "You do not have access to this client",
    );
    // Platform users see both.
    assert_eq!(
        name_set(&read(&app, &manager, "/api/clients/").await),
        ["Harbour Clinic", "Ubuntu Bank"]
    );
    // Audit is platform-only.
    let r = app
        .get(&format!("/api/entity-changes/entity/Client/{bank}/"))
        .bearer(&scoped.access)
        .send()
        .await;
    r.assert_status(403);

    // The manager deletes the bank: it is gone everywhere...
    let r = app
        .delete(&format!("/api/clients/{bank}/"))
        .bearer(&manager.access)
        .send()
        .await;
    r.assert_status(204);
    for actor in [&admin, &manager, &scoped] {
        let r = app
            .get(&format!("/api/clients/{bank}/"))
            .bearer(&actor.access)
            .send()
            .await;
        assert_error(&r, 404, "not_found", "Client not found");
        let r = app
            .get(&format!("/api/clients/{bank}/contacts/"))
            .bearer(&actor.access)
            .send()
            .await;
        assert_error(&r, 404, "not_found", "Client not found");
        let list = read(&app, actor, "/api/clients/").await;
        assert!(!names(&list).contains(&"Ubuntu Bank".to_owned()));
        for path in [
            "/api/clients/active/".to_owned(),
            "/api/clients/verified/".to_owned(),
            "/api/clients/search/?name=ubuntu".to_owned(),
            format!("/api/clients/industry/{banking}/"),
        ] {
            assert!(
                !names(&read(&app, actor, &path).await).contains(&"Ubuntu Bank".to_owned()),
                "{path}"
            );
        }
    }
    assert_page(&read(&app, &scoped, "/api/clients/").await, 0);
    assert_eq!(
        read(&app, &admin, &format!("/api/industries/{banking}/")).await["client_count"],
        0
    );
    assert_eq!(
        read(
            &app,
            &admin,
            &format!("/api/tags/{}/", vip["id"].as_str().unwrap())
        )
        .await["client_count"],
        0
    );
    // The grant no longer reaches anything; X-Client-ID naming it is refused.
    let r = app
        .get(&format!("/api/clients/{clinic}/contacts/"))
        .bearer(&admin.access)
        .header("x-client-id", &bank)
        .send()
        .await;
    assert_error(
        &r,
        403,
        "permission_denied",
        "Client not found or has been deleted",
    );

    // ... while its history stays readable, change by change and field by field.
    let history = read(
        &app,
        &admin,
        &format!("/api/entity-changes/entity/Client/{bank}/"),
    )
    .await;
    let steps: Vec<(&str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["change_type"].as_str().unwrap(),
                c["changed_by_email"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("Create", "manager@axis.example"),
            ("Activate", "manager@axis.example"),
            ("Update", "root@axis.example"),
            // The two activities moved its last contact.
            ("Update", "manager@axis.example"),
            ("Update", "scoped@client.example"),
            ("Delete", "manager@axis.example"),
        ]
    );
    let detail = read(
        &app,
        &admin,
        &format!(
            "/api/entity-changes/{}/",
            history[0]["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(detail["new_data"]["name"], "Ubuntu Bank");
    assert_eq!(detail["new_data"]["email"], "ops@ubuntu.example");
    let status = read(
        &app,
        &admin,
        &format!("/api/field-changes/field-history/Client/{bank}/status/"),
    )
    .await;
    let values: Vec<(Value, Value)> = status
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["old_value"].clone(), f["new_value"].clone()))
        .collect();
    assert_eq!(
        values,
        [
            (Value::Null, json!("Pending")),
            (json!("Pending"), json!("Active"))
        ]
    );
    let verified = read(
        &app,
        &admin,
        &format!("/api/field-changes/field-history/Client/{bank}/is_verified/"),
    )
    .await;
    assert_eq!(
        verified[verified.as_array().unwrap().len() - 1]["new_value"],
        true
    );
    let deleted = read(
        &app,
        &admin,
        &format!("/api/field-changes/field-history/Client/{bank}/deleted_at/"),
    )
    .await;
    assert_eq!(deleted.as_array().unwrap().len(), 1);
    assert!(deleted[0]["new_value"].is_string());
    let logs = read(
        &app,
        &admin,
        &format!("/api/audit-logs/entity/Client/{bank}/"),
    )
    .await;
    let mut actions: Vec<&str> = logs
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.get("action").and_then(Value::as_str).unwrap())
        .collect();
    actions.sort_unstable();
    assert_eq!(actions, ["Create", "Delete", "Update", "Verify"]);
    // The contact and activity rows of the deleted client keep their history too.
    let contact_history = read(
        &app,
        &admin,
        &format!("/api/entity-changes/entity/ClientContact/{thabo}/"),
    )
    .await;
    assert_eq!(contact_history[0]["change_type"], "Create");
});
