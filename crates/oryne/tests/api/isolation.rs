//! The tenant-isolation matrix (contract §16), generated from the route
//! table so a new route cannot skip it: two schools with overlapping ids
//! and identical emails; every route and method is tried with the wrong
//! school's token, the platform's token, a suspended school and the other
//! school's ids; afterwards school A's database holds none of B's markers.

use super::common::*;

/// One documented operation.
struct Op {
    method: &'static str,
    /// The template, e.g. `/api/v1/users/{id}/`.
    template: String,
    /// Ids filled in with 1 (an id both schools have).
    path: String,
    secured: bool,
    has_body: bool,
}

/// Every documented operation.
fn operations() -> Vec<Op> {
    let doc = oryne::openapi();
    let mut out = Vec::new();
    for (template, item) in doc.paths.paths {
        let path = fill(&template, "1");
        for (method, op) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ] {
            if let Some(op) = op {
                out.push(Op {
                    method,
                    template: template.clone(),
                    path: path.clone(),
                    secured: op.security.as_ref().is_some_and(|s| !s.is_empty()),
                    has_body: op.request_body.is_some(),
                });
            }
        }
    }
    out
}

/// `path` with every `{param}` replaced by `id`.
fn fill(path: &str, id: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for ch in path.chars() {
        match ch {
            '{' => in_param = true,
            '}' => {
                in_param = false;
                out.push_str(id);
            }
            _ if in_param => {}
            _ => out.push(ch),
        }
    }
    out
}

fn is_platform(path: &str) -> bool {
    path.starts_with("/api/v1/tenants/") || path.starts_with("/api/v1/platform/")
}

fn is_public(path: &str) -> bool {
    path.ends_with("/health/")
}

db_test!(no_route_crosses_schools, |app| {
    let root = app.platform_admin().await;
    // Identical admin emails in both schools.
    let alpha = app.school_with(&root, "alpha", "head@school.test").await;
    let beta = app.school_with(&root, "beta", "head@school.test").await;
    let gamma = app.school(&root, "gamma").await;
    assert_eq!(alpha.admin.id, beta.admin.id, "ids overlap");
    // Markers: the same user id and role id in each school, with its own text.
    for (school, marker) in [(&alpha, "marker-alpha"), (&beta, "marker-beta")] {
        let r = app.at(school, "POST", "/api/v1/roles/").bearer(&school.admin.access)
            .json(&json!({"name": marker, "description": format!("{marker} role"), "permissions": ["users:read"]})).send().await;
        r.assert_status(201);
        let r = app.at(school, "POST", "/api/v1/users/").bearer(&school.admin.access)
            .json(&json!({"email": format!("{marker}@school.test"), "first_name": marker, "last_name": marker, "password": PASSWORD, "roles": [marker]})).send().await;
        r.assert_status(201);
    }
    app.post(&format!("/api/v1/tenants/{}/suspend/", gamma.id))
        .bearer(&root.access)
        .send()
        .await
        .assert_status(200);

    let ops = operations();
    assert!(ops.len() > 40, "the route table is read: {}", ops.len());
    for op in &ops {
        let (method, path, secured) = (op.method, op.path.as_str(), &op.secured);
        if is_public(path) {
            continue;
        }
        if is_platform(path) {
            // A school's token on the platform, on either host.
            let r = app
                .client
                .request(method.parse().unwrap(), path)
                .bearer(&alpha.admin.access)
                .json(&json!({}))
                .send()
                .await;
            assert_error(&r, 401, "ERR_TENANT_02");
            let r = app
                .at(&alpha, method, path)
                .bearer(&alpha.admin.access)
                .json(&json!({}))
                .send()
                .await;
            assert_error(&r, 401, "ERR_TENANT_02");
            continue;
        }
        // A suspended school answers nothing.
        let r = app
            .at(&gamma, method, path)
            .bearer(&gamma.admin.access)
            .json(&json!({}))
            .send()
            .await;
        assert_error(&r, 404, "ERR_TENANT_01");
        if !path.starts_with("/api/v1/auth/") {
            // School routes on the platform host.
            let r = app
                .client
                .request(method.parse().unwrap(), path)
                .bearer(&root.access)
                .json(&json!({}))
                .send()
                .await;
            assert_error(&r, 404, "ERR_TENANT_01");
        }
        if *secured {
            // A's token in B; the platform's token in A.
            let r = app
                .at(&beta, method, path)
                .bearer(&alpha.admin.access)
                .json(&json!({}))
                .send()
                .await;
            assert_error(&r, 401, "ERR_TENANT_02");
            let r = app
                .at(&alpha, method, path)
                .bearer(&root.access)
                .json(&json!({}))
                .send()
                .await;
            assert_error(&r, 401, "ERR_TENANT_02");
        }
        if path.ends_with("/stream/") {
            // A live stream never ends: its answer starts, in A's context.
            let r = app
                .at(&alpha, method, path)
                .bearer(&alpha.admin.access)
                .stream()
                .await;
            assert_eq!(r.status(), 200, "{path}");
            continue;
        }
        if method == "GET" {
            // B's ids in A: A's rows or nothing, never B's.
            let r = app
                .at(&alpha, method, path)
                .bearer(&alpha.admin.access)
                .send()
                .await;
            assert!(r.status.as_u16() < 500, "{method} {path}: {}", r.status);
            let text = String::from_utf8_lossy(&r.body);
            assert!(
                !text.contains("marker-beta"),
                "{method} {path} leaked B: {text}"
            );
        }
    }

    // Nothing of B reached A's database.
    let a = app.state.tenants.open(alpha.id).await.unwrap();
    let b = app.state.tenants.open(beta.id).await.unwrap();
    let mut seen_in_b = 0;
    for table in kernel::testing::tables(&b).await {
        seen_in_b += kernel::testing::rows_containing(&b, &table, "marker-beta").await;
    }
    assert!(seen_in_b >= 2, "the scan finds markers where they are");
    for table in kernel::testing::tables(&a).await {
        assert_eq!(
            kernel::testing::rows_containing(&a, &table, "marker-beta").await,
            0,
            "{table}"
        );
    }
    if a.get_database_backend() == sea_orm::DbBackend::Sqlite {
        let file = kernel::db::tenant_file(app.db(), &format!("tenant_{}", alpha.id)).unwrap();
        for suffix in ["", "-wal"] {
            let bytes = std::fs::read(format!("{}{suffix}", file.display())).unwrap_or_default();
            assert!(!bytes.windows(11).any(|w| w == b"marker-beta"), "{suffix}");
        }
    }
});

db_test!(
    every_route_refuses_the_anonymous_malformed_ids_and_bad_bodies,
    |app| {
        let root = app.platform_admin().await;
        let alpha = app.school(&root, "alpha").await;
        let a = app.state.tenants.open(alpha.id).await.unwrap();
        for op in operations() {
            if is_public(&op.path) {
                continue;
            }
            let (token, at_school) = if is_platform(&op.path) {
                (&root.access, false)
            } else {
                (&alpha.admin.access, true)
            };
            let request = |path: &str| {
                if at_school {
                    app.at(&alpha, op.method, path)
                } else {
                    app.client.request(op.method.parse().unwrap(), path)
                }
            };
            if op.secured {
                let r = request(&op.path).json(&serde_json::json!({})).send().await;
                assert_error(&r, 401, "ERR_AUTH_02");
                let r = request(&op.path)
                    .bearer("not.a.token")
                    .json(&serde_json::json!({}))
                    .send()
                    .await;
                assert_error(&r, 401, "ERR_AUTH_03");
            }
            if op.template.contains('{') && op.secured {
                // Every malformed id is a 404, before the body is read.
                let r = request(&fill(&op.template, "x1"))
                    .bearer(token)
                    .json(&serde_json::json!({}))
                    .send()
                    .await;
                assert_error(&r, 404, "ERR_NOT_FOUND_01");
            }
            if op.has_body {
                // Malformed JSON, and a list for an object: refused, nothing written.
                let before = kernel::testing::row_counts(&a).await;
                let platform_before = app.row_counts().await;
                let r = request(&op.path)
                    .bearer(token)
                    .raw("application/json", "{\"a\": ")
                    .send()
                    .await;
                assert!(
                    matches!(r.status.as_u16(), 400 | 404 | 409),
                    "{} {}: {} {}",
                    op.method,
                    op.path,
                    r.status,
                    r.json
                );
                assert_eq!(r.json["success"], false);
                let r = request(&op.path)
                    .bearer(token)
                    .json(&serde_json::json!([1, 2]))
                    .send()
                    .await;
                assert!(
                    matches!(r.status.as_u16(), 400 | 404 | 409),
                    "{} {}: {} {}",
                    op.method,
                    op.path,
                    r.status,
                    r.json
                );
                let r = request(&op.path)
                    .bearer(token)
                    .raw("text/plain", "hello")
                    .send()
                    .await;
                assert!(
                    matches!(r.status.as_u16(), 400 | 404 | 409 | 415),
                    "{} {}: {} {}",
                    op.method,
                    op.path,
                    r.status,
                    r.json
                );
                let mut after = kernel::testing::row_counts(&a).await;
                let mut before = before;
                // Sign-in attempts leave their audit row; nothing else may change.
                after.remove("audit_logs");
                before.remove("audit_logs");
                assert_eq!(
                    before, after,
                    "{} {} wrote to the school",
                    op.method, op.path
                );
                let mut platform_after = app.row_counts().await;
                let mut platform_before = platform_before;
                for table in ["platform_audit_logs", "campus_jobs"] {
                    platform_after.remove(table);
                    platform_before.remove(table);
                }
                assert_eq!(
                    platform_before, platform_after,
                    "{} {} wrote to the platform",
                    op.method, op.path
                );
            }
        }
    }
);
