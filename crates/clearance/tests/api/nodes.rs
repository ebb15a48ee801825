//! Uploads in an S3 bucket (`CAMPUS_STORAGE_URL=s3://...`) are shared by
//! every node: evidence uploaded through one node downloads through
//! another whose media folder is empty. Runs against the S3-compatible
//! server at `CAMPUS_TEST_S3_ENDPOINT` (moto's, in `.ci/run`); skipped
//! without it, saying why, and a failure under `CI=true`. Live events of
//! one node reach streams on another (PostgreSQL).

use clearance::Clearance;
use kernel::testing::TestBucket;

use crate::common::*;

/// A PNG signature and a little more: content-typed, not named.
const EVIDENCE: &[u8] = b"\x89PNG\r\n\x1a\nevidence stored in the bucket";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_uploaded_on_one_node_downloads_on_another() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let settings = bucket.settings();
    let a = TestApp::with_settings(TestBackend::Sqlite, &settings).await;
    let b = kernel::testing::TestApp::<Clearance>::on(&a.url, &settings).await;
    assert_ne!(
        a.state.settings.media_root, b.state.settings.media_root,
        "each node has its own media folder"
    );

    let admin = a.admin().await;
    let lib = a.office(&admin, "LIB", 0, "library").await;
    let librarian = a.user(&admin, "department_staff", Some(&lib)).await;
    let (student, _) = a.student(&admin, "SCE/CS/0001/2022").await;
    let id = a.submit(&student).await;
    let approval = a.approval_of(&admin, &id, &lib).await;

    let (ct, body) = kernel::testing::Multipart::new()
        .text("notes", "Receipt attached")
        .file("evidence_file", "receipt.png", "image/png", EVIDENCE)
        .finish();
    let r = a
        .patch(&format!("/api/approvals/{approval}/"))
        .bearer(&librarian.access)
        .raw(&ct, body)
        .send()
        .await;
    r.assert_status(200);
    let url = r.json["evidence_file"].as_str().unwrap().to_owned();

    // Nothing landed in either node's media folder.
    for node in [&a.state.settings.media_root, &b.state.settings.media_root] {
        assert!(!node.join("evidence").exists(), "{}", node.display());
    }

    let r = b.get(&url).bearer(&student.access).send().await;
    r.assert_status(200);
    assert_eq!(r.body, EVIDENCE);
    assert_eq!(r.header("content-type"), Some("image/png"));

    // Removed through B: gone for A too.
    b.patch(&format!("/api/approvals/{approval}/"))
        .bearer(&librarian.access)
        .json(&json!({"evidence_file": null}))
        .send()
        .await
        .assert_status(200);
    a.get(&url)
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
    assert!(a.state.storage.check().await.is_ok());
}

/// A notification made through node A reaches the student's live stream
/// on node B (PostgreSQL's LISTEN/NOTIFY between the nodes).
#[cfg(campus_postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_made_on_one_node_streams_on_another() {
    use std::time::Duration;
    let a = TestApp::with_settings(TestBackend::Postgres, &[]).await;
    let b = kernel::testing::TestApp::<Clearance>::on(&a.url, &[]).await;
    let admin = a.admin().await;
    a.office(&admin, "LIB", 0, "library").await;
    let (student, _) = a.student(&admin, "SCE/CS/0002/2022").await;
    let mut stream = b
        .get("/api/notifications/stream/")
        .bearer(&student.access)
        .stream()
        .await
        .into_body();
    kernel::testing::read_until(&mut stream, "event: ready", Duration::from_secs(5)).await;
    a.submit(&student).await;
    let seen = kernel::testing::read_until(
        &mut stream,
        "Clearance Request Submitted",
        Duration::from_secs(10),
    )
    .await;
    assert!(seen.contains("Clearance Request Submitted"), "{seen}");
}
