//! The platform: creating, provisioning, resolving and running schools.

use super::common::*;

db_test!(schools_are_provisioned_through_the_gateway, |app| {
    let gns = FakeGns::start().await;
    let app = app
        .node(&[
            ("CAMPUS_GNS_URL", &gns.url),
            ("CAMPUS_GNS_API_KEY", "gns-key"),
        ])
        .await;
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let beta = app.school(&root, "beta").await;
    assert_ne!(alpha.id, beta.id);

    // Each admin was welcomed once through the GNS, with the idempotency key.
    app.run_jobs().await;
    let welcomes = gns.events("tenant_welcome");
    assert_eq!(welcomes.len(), 2, "{welcomes:?}");
    let to_alpha = welcomes
        .iter()
        .find(|w| w["recipient"]["email"] == "admin@alpha.test")
        .unwrap();
    assert_eq!(to_alpha["data"]["tenant_name"], "alpha school");
    assert_eq!(
        to_alpha["data"]["login_url"],
        "https://alpha.localhost/login"
    );
    assert_eq!(to_alpha["metadata"]["tenant_id"], alpha.id);
    let (headers, _) = gns
        .requests()
        .into_iter()
        .find(|(_, b)| b["event_key"] == "tenant_welcome" && b["metadata"]["tenant_id"] == alpha.id)
        .unwrap();
    assert_eq!(headers["authorization"], "Bearer gns-key");
    let key = headers["idempotency-key"].to_str().unwrap().to_owned();
    assert!(key.starts_with(&format!("{}:", alpha.id)), "{key}");
    // Running the queue again sends nothing twice.
    app.run_jobs().await;
    assert_eq!(gns.events("tenant_welcome").len(), 2);

    // The platform shows the steps done and the schema name.
    let r = app
        .get(&format!("/api/v1/tenants/{}/", alpha.id))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    let t = &r.json["data"];
    assert_eq!(t["schema_name"], format!("tenant_{}", alpha.id));
    assert_eq!(
        t["provisioning"]["steps_done"],
        json!([
            "schema",
            "migrations",
            "roles",
            "admin",
            "storage",
            "search",
            "activate"
        ])
    );
    assert_eq!(t["is_trial"], true);
    assert!(t["provisioned_at"].is_string());
    assert!(t.get("admin_password").is_none());

    // Members see their school.
    let r = app
        .at(&alpha, "GET", "/api/v1/tenant/")
        .bearer(&alpha.admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["success"], true);
    assert_eq!(r.json["data"]["subdomain"], "alpha");
    assert_eq!(r.json["meta"], json!({}));
    assert_eq!(r.json["error"], Value::Null);

    // Both schools' admins are user 1 of their own school.
    assert_eq!(alpha.admin.id, beta.admin.id);
});

db_test!(
    a_school_without_an_admin_password_invites_its_admin_by_email,
    |app| {
        let sink = kernel::testing::SmtpSink::start().await;
        let app = app.node(&[("CAMPUS_EMAIL_URL", &sink.url)]).await;
        let root = app.platform_admin().await;
        let r = app
        .post("/api/v1/tenants/")
        .bearer(&root.access)
        .json(&json!({"name": "Gamma High", "subdomain": "gamma", "admin_email": "head@gamma.test"}))
        .send()
        .await;
        r.assert_status(202);
        app.run_jobs().await;
        app.run_jobs().await;
        let mail = sink.wait_for(2, std::time::Duration::from_secs(10)).await;
        assert!(
            mail.iter()
                .any(|m| m.contains("Welcome to Oryne, Gamma High")),
            "{mail:?}"
        );
        let invite = mail
            .iter()
            .find(|m| m.contains("Welcome to Gamma High"))
            .expect("an invitation");
        let token = token_in(invite)
            .split("token=")
            .nth(1)
            .unwrap()
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect::<String>();
        assert_eq!(token.len(), 64);
        // The token is stored only as a hash, and not in the delivery log.
        let school = School {
            id: r.json["data"]["id"].as_i64().unwrap(),
            subdomain: "gamma".into(),
            admin: actor(
                &json!({"data": {"user": {"id": 1, "email": "x"}, "access": "", "refresh": ""}}),
            ),
        };
        let r = app
            .at(&school, "POST", "/api/v1/auth/password-reset/confirm/")
            .json(&json!({"token": token, "new_password": "Bright-Meadow-77"}))
            .send()
            .await;
        r.assert_status(200);
        let admin = app
            .login("gamma", "head@gamma.test", "Bright-Meadow-77")
            .await;
        let _ = admin;
        // Single use.
        let r = app
            .at(&school, "POST", "/api/v1/auth/password-reset/confirm/")
            .json(&json!({"token": token, "new_password": "Another-Meadow-78"}))
            .send()
            .await;
        assert_error(&r, 400, "ERR_VALIDATION_01");
    }
);

db_test!(tenants_are_validated_and_unique, |app| {
    let root = app.platform_admin().await;
    for (sub, message) in [
        ("ab", "Use 3 to 63"),
        ("Alpha", "Use 3 to 63"),
        ("-abc", "Use 3 to 63"),
        ("www", "reserved"),
        ("admin", "reserved"),
    ] {
        let r = app
            .post("/api/v1/tenants/")
            .bearer(&root.access)
            .json(&json!({"name": "X", "subdomain": sub, "admin_email": "a@x.test"}))
            .send()
            .await;
        assert_error(&r, 400, "ERR_VALIDATION_01");
        assert!(
            r.json["error"]["details"]["subdomain"][0]
                .as_str()
                .unwrap()
                .contains(message),
            "{sub}: {}",
            r.json
        );
    }
    let r = app
        .post("/api/v1/tenants/")
        .bearer(&root.access)
        .json(&json!({"subdomain": "delta"}))
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["name"].is_array());
    assert!(r.json["error"]["details"]["admin_email"].is_array());
    let r = app.post("/api/v1/tenants/").bearer(&root.access)
        .json(&json!({"name": "D", "subdomain": "delta", "admin_email": "a@d.test", "plan": "gold", "enabled_modules": ["erp", "casino"], "max_users": 0, "settings": [1]}))
        .send().await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    for field in ["plan", "enabled_modules", "max_users", "settings"] {
        assert!(
            r.json["error"]["details"][field].is_array(),
            "{field}: {}",
            r.json
        );
    }
    app.school(&root, "delta").await;
    let r = app
        .post("/api/v1/tenants/")
        .bearer(&root.access)
        .json(&json!({"name": "D2", "subdomain": "delta", "admin_email": "a@d.test"}))
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert_eq!(
        r.json["error"]["details"]["subdomain"][0],
        "This subdomain is already taken."
    );
    let r = app
        .get("/api/v1/tenants/check-subdomain/?subdomain=delta")
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(
        r.json["data"],
        json!({"subdomain": "delta", "available": false, "reason": "This subdomain is already taken."})
    );
    let r = app
        .get("/api/v1/tenants/check-subdomain/?subdomain=epsilon")
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json["data"]["available"], true);
    // Filters, search and the page envelope.
    let r = app
        .get("/api/v1/tenants/?status=active&search=delt")
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json["meta"]["pagination"],
        json!({"page": 1, "per_page": 20, "total": 1, "total_pages": 1})
    );
    let r = app
        .get("/api/v1/tenants/?page=9")
        .bearer(&root.access)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    // Subdomain and status are not patchable; the rest is.
    let id = app
        .get("/api/v1/tenants/")
        .bearer(&root.access)
        .send()
        .await
        .json["data"][0]["id"]
        .as_i64()
        .unwrap();
    let r = app.patch(&format!("/api/v1/tenants/{id}/")).bearer(&root.access)
        .json(&json!({"subdomain": "hijack", "status": "archived", "plan": "premium", "max_users": 5})).send().await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["subdomain"], "delta");
    assert_eq!(r.json["data"]["status"], "active");
    assert_eq!(r.json["data"]["plan"], "premium");
    assert_eq!(r.json["data"]["max_users"], 5);
});

db_test!(the_lifecycle_takes_schools_offline_and_back, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let beta = app.school(&root, "beta").await;
    let r = app
        .post(&format!("/api/v1/tenants/{}/suspend/", alpha.id))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["status"], "suspended");
    // Offline at once on this node (other nodes: within the 5 s cache).
    let r = app
        .at(&alpha, "GET", "/api/v1/tenant/")
        .bearer(&alpha.admin.access)
        .send()
        .await;
    assert_error(&r, 404, "ERR_TENANT_01");
    let r = app
        .post("/api/v1/auth/login/")
        .header("host", "alpha.localhost")
        .json(&json!({"email": "admin@alpha.test", "password": PASSWORD}))
        .send()
        .await;
    assert_error(&r, 404, "ERR_TENANT_01");
    // The other school keeps working.
    app.at(&beta, "GET", "/api/v1/tenant/")
        .bearer(&beta.admin.access)
        .send()
        .await
        .assert_status(200);
    // Transitions the lifecycle does not allow.
    for action in ["suspend", "reprovision"] {
        let r = app
            .post(&format!("/api/v1/tenants/{}/{action}/", alpha.id))
            .bearer(&root.access)
            .send()
            .await;
        assert_error(&r, 409, "ERR_CONFLICT_01");
    }
    let r = app
        .delete(&format!("/api/v1/tenants/{}/?confirm=alpha", alpha.id))
        .bearer(&root.access)
        .send()
        .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
    app.post(&format!("/api/v1/tenants/{}/activate/", alpha.id))
        .bearer(&root.access)
        .send()
        .await
        .assert_status(200);
    app.at(&alpha, "GET", "/api/v1/tenant/")
        .bearer(&alpha.admin.access)
        .send()
        .await
        .assert_status(200);
    app.post(&format!("/api/v1/tenants/{}/archive/", alpha.id))
        .bearer(&root.access)
        .send()
        .await
        .assert_status(200);
    let r = app
        .delete(&format!("/api/v1/tenants/{}/?confirm=beta", alpha.id))
        .bearer(&root.access)
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = app
        .delete(&format!("/api/v1/tenants/{}/?confirm=alpha", alpha.id))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(202);
    app.run_jobs().await;
    app.get(&format!("/api/v1/tenants/{}/", alpha.id))
        .bearer(&root.access)
        .send()
        .await
        .assert_status(404);
    if app.db().get_database_backend() == sea_orm::DbBackend::Sqlite {
        let file = kernel::db::tenant_file(app.db(), &format!("tenant_{}", alpha.id)).unwrap();
        assert!(!file.exists(), "{} dropped", file.display());
    } else {
        use sea_orm::ConnectionTrait;
        let rows = app
            .db()
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!(
                    "SELECT 1 FROM information_schema.schemata WHERE schema_name = 'tenant_{}'",
                    alpha.id
                ),
            ))
            .await
            .unwrap();
        assert!(rows.is_empty(), "schema dropped");
    }
    // The platform audit recorded the lifecycle.
    let r = app
        .get("/api/v1/platform/audit-logs/?resource_type=Tenant")
        .bearer(&root.access)
        .send()
        .await;
    assert!(
        r.json["meta"]["pagination"]["total"].as_u64().unwrap() >= 6,
        "{}",
        r.json
    );
    let r = app
        .get("/api/v1/platform/stats/")
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json["data"]["by_status"]["active"], 1);
    assert_eq!(r.json["data"]["total"], 1);
});

db_test!(
    a_failed_provisioning_is_recorded_retried_and_reprovisioned,
    |app| {
        use sea_orm::ConnectionTrait;
        let root = app.platform_admin().await;
        // Break the first tenant's step: on SQLite a file where its folder goes,
        // on PostgreSQL a table already in its schema.
        let blocker = match app.db().get_database_backend() {
            sea_orm::DbBackend::Sqlite => {
                let dir = kernel::db::tenant_file(app.db(), "tenant_1")
                    .unwrap()
                    .parent()
                    .unwrap()
                    .to_owned();
                std::fs::write(&dir, b"in the way").unwrap();
                Some(dir)
            }
            _ => {
                app.db()
                    .execute_unprepared(
                        "CREATE SCHEMA tenant_1; CREATE TABLE tenant_1.users (x INT)",
                    )
                    .await
                    .unwrap();
                None
            }
        };
        let r = app.post("/api/v1/tenants/").bearer(&root.access)
        .json(&json!({"name": "Omega", "subdomain": "omega", "admin_email": "a@omega.test", "admin_password": PASSWORD}))
        .send().await;
        r.assert_status(202);
        let id = r.json["data"]["id"].as_i64().unwrap();
        assert_eq!(id, 1);
        app.run_jobs().await;
        let r = app
            .get("/api/v1/tenants/1/")
            .bearer(&root.access)
            .send()
            .await;
        assert_eq!(r.json["data"]["status"], "failed");
        let error = r.json["data"]["provisioning"]["last_error"]
            .as_str()
            .unwrap();
        assert!(error.starts_with("step "), "{error}");
        assert!(
            !error.contains("tenant_1.users") && !error.contains("/tmp"),
            "no internals: {error}"
        );
        assert_eq!(r.json["data"]["provisioning"]["attempts"], 1);
        // The retry waits its 300 s; running the queue now does nothing.
        app.run_jobs().await;
        assert_eq!(
            app.get("/api/v1/tenants/1/")
                .bearer(&root.access)
                .send()
                .await
                .json["data"]["provisioning"]["attempts"],
            1
        );
        let r = app
            .get("/api/v1/platform/stats/")
            .bearer(&root.access)
            .send()
            .await;
        assert_eq!(r.json["data"]["provisioning_failures"], 1);
        // Fixed, then reprovisioned by hand: it resumes and finishes.
        match blocker {
            Some(dir) => std::fs::remove_file(dir).unwrap(),
            None => {
                app.db()
                    .execute_unprepared("DROP TABLE tenant_1.users")
                    .await
                    .unwrap();
            }
        }
        let r = app
            .post("/api/v1/tenants/1/reprovision/")
            .bearer(&root.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["data"]["status"], "provisioning");
        app.run_jobs().await;
        let r = app
            .get("/api/v1/tenants/1/")
            .bearer(&root.access)
            .send()
            .await;
        assert_eq!(r.json["data"]["status"], "active", "{}", r.json);
        app.login("omega", "a@omega.test", PASSWORD).await;
        // The delayed retry, when it comes, finds nothing to do.
        let later = kernel::time::shifted(chrono::Duration::seconds(301), app.run_jobs()).await;
        let _ = later;
        assert_eq!(
            app.get("/api/v1/tenants/1/")
                .bearer(&root.access)
                .send()
                .await
                .json["data"]["status"],
            "active"
        );
    }
);

db_test!(requests_resolve_by_host_header_and_verified_domain, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let beta = app.school(&root, "beta").await;
    let token = &alpha.admin.access;
    for header in [
        alpha.id.to_string(),
        format!("tenant_{}", alpha.id),
        "alpha".to_owned(),
    ] {
        let r = app
            .get("/api/v1/tenant/")
            .header("x-tenant-id", &header)
            .bearer(token)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["data"]["subdomain"], "alpha");
    }
    for header in ["nope", "999", "tenant_x", "1 OR 1=1"] {
        let r = app
            .get("/api/v1/tenant/")
            .header("x-tenant-id", header)
            .bearer(token)
            .send()
            .await;
        assert_error(&r, 404, "ERR_TENANT_01");
    }
    let r = app
        .get("/api/v1/tenant/")
        .header("host", "alpha.localhost")
        .header("x-tenant-id", "beta")
        .bearer(token)
        .send()
        .await;
    assert_error(&r, 400, "ERR_TENANT_05");
    let r = app
        .get("/api/v1/tenant/")
        .header("host", "nobody.localhost")
        .send()
        .await;
    assert_error(&r, 404, "ERR_TENANT_01");
    // Tenant routes in the platform context.
    let r = app.get("/api/v1/tenant/").bearer(token).send().await;
    assert_error(&r, 404, "ERR_TENANT_01");
    // Health answers whatever the host.
    for host in ["localhost", "nobody.localhost", "alpha.localhost"] {
        let r = app.get("/api/health/").header("host", host).send().await;
        r.assert_status(200);
        assert_eq!(
            r.json["data"],
            json!({"status": "healthy", "database": "ok"})
        );
    }
    // A custom domain resolves once verified, and never by its first label.
    let r = app
        .post(&format!("/api/v1/tenants/{}/domains/", alpha.id))
        .bearer(&root.access)
        .json(&json!({"domain": "Portal.Alpha-School.org", "is_primary": true}))
        .send()
        .await;
    r.assert_status(201);
    let domain_id = r.json["data"]["id"].as_i64().unwrap();
    assert_eq!(r.json["data"]["domain"], "portal.alpha-school.org");
    assert_eq!(r.json["data"]["is_verified"], false);
    let r = app
        .get("/api/v1/tenant/")
        .header("host", "portal.alpha-school.org")
        .bearer(token)
        .send()
        .await;
    assert_error(&r, 404, "ERR_TENANT_01");
    app.post(&format!(
        "/api/v1/tenants/{}/domains/{domain_id}/verify/",
        alpha.id
    ))
    .bearer(&root.access)
    .send()
    .await
    .assert_status(200);
    let r = app
        .get("/api/v1/tenant/")
        .header("host", "portal.alpha-school.org:8443")
        .bearer(token)
        .send()
        .await;
    r.assert_status(200);
    let r = app
        .get("/api/v1/tenant/")
        .header("host", "beta.example.org")
        .send()
        .await;
    assert_error(&r, 404, "ERR_TENANT_01");
    for bad in [
        "x.localhost",
        "portal.alpha-school.org",
        "not a host",
        "10.0.0.1",
    ] {
        let r = app
            .post(&format!("/api/v1/tenants/{}/domains/", beta.id))
            .bearer(&root.access)
            .json(&json!({"domain": bad}))
            .send()
            .await;
        assert_error(&r, 400, "ERR_VALIDATION_01");
    }
    let r = app
        .get(&format!("/api/v1/tenants/{}/domains/", alpha.id))
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json["data"][0]["is_primary"], true);
    // Another tenant's domain id is not found under this one.
    let r = app
        .delete(&format!("/api/v1/tenants/{}/domains/{domain_id}/", beta.id))
        .bearer(&root.access)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    app.delete(&format!(
        "/api/v1/tenants/{}/domains/{domain_id}/",
        alpha.id
    ))
    .bearer(&root.access)
    .send()
    .await
    .assert_status(204);
    let r = app
        .get("/api/v1/tenant/")
        .header("host", "portal.alpha-school.org")
        .bearer(token)
        .send()
        .await;
    assert_error(&r, 404, "ERR_TENANT_01");
    // Usage.
    let r = app
        .get(&format!("/api/v1/tenants/{}/usage/", alpha.id))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["users"], 1);
    assert_eq!(r.json["data"]["max_users"], 100);
    assert_eq!(
        r.json["data"]["max_storage_bytes"],
        10_i64 * 1024 * 1024 * 1024
    );
});

db_test!(platform_users_are_managed_by_platform_admins, |app| {
    let root = app.platform_admin().await;
    let r = app
        .post("/api/v1/platform/users/")
        .bearer(&root.access)
        .json(&json!({"email": "Ops@Oryne.test", "password": PASSWORD, "first_name": "Op"}))
        .send()
        .await;
    r.assert_status(201);
    let id = r.json["data"]["id"].as_i64().unwrap();
    assert_eq!(r.json["data"]["email"], "ops@oryne.test");
    assert_eq!(r.json["data"]["roles"], json!(["PlatformAdmin"]));
    assert!(r.json["data"].get("password").is_none());
    let r = app
        .post("/api/v1/platform/users/")
        .bearer(&root.access)
        .json(&json!({"email": "ops@oryne.test", "password": "123"}))
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let ops = {
        let r = app
            .post("/api/v1/auth/login/")
            .json(&json!({"email": "ops@oryne.test", "password": PASSWORD}))
            .send()
            .await;
        r.assert_status(200);
        actor(&r.json)
    };
    app.get("/api/v1/tenants/")
        .bearer(&ops.access)
        .send()
        .await
        .assert_status(200);
    let r = app
        .delete(&format!("/api/v1/platform/users/{}/", root.id))
        .bearer(&root.access)
        .send()
        .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
    app.delete(&format!("/api/v1/platform/users/{id}/"))
        .bearer(&root.access)
        .send()
        .await
        .assert_status(204);
    // Deactivated: their token is dead.
    let r = app.get("/api/v1/tenants/").bearer(&ops.access).send().await;
    assert_eq!(r.status.as_u16(), 401);
    let r = app
        .get("/api/v1/platform/users/")
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 2);
    let r = app.get("/api/v1/tenants/").send().await;
    assert_error(&r, 401, "ERR_AUTH_02");
});

db_test!(a_suspension_reaches_every_node_within_seconds, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let other = app.node(&[]).await;
    other
        .at(&alpha, "GET", "/api/v1/tenant/")
        .bearer(&alpha.admin.access)
        .send()
        .await
        .assert_status(200);
    app.post(&format!("/api/v1/tenants/{}/suspend/", alpha.id))
        .bearer(&root.access)
        .send()
        .await
        .assert_status(200);
    // This node knows at once; the other node's resolution is at most 5 s old.
    let r = app
        .at(&alpha, "GET", "/api/v1/tenant/")
        .bearer(&alpha.admin.access)
        .send()
        .await;
    assert_error(&r, 404, "ERR_TENANT_01");
    let r = kernel::time::shifted(
        chrono::Duration::seconds(6),
        other
            .at(&alpha, "GET", "/api/v1/tenant/")
            .bearer(&alpha.admin.access)
            .send(),
    )
    .await;
    assert_error(&r, 404, "ERR_TENANT_01");
});
