//! A school's files in an S3 bucket: under its own prefix
//! (`tenants/<schema>/`), counted in its usage, and removed with it — the
//! same through every node. Runs against `CAMPUS_TEST_S3_ENDPOINT` (moto's,
//! in `.ci/run`); skipped without it, a failure under `CI=true`.

use kernel::testing::TestBucket;
use kernel::upload::Storage;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schools_files_live_under_its_prefix_in_the_bucket() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let app = TestApp::with_settings(TestBackend::Sqlite, &bucket.settings()).await;
    let other_node = app.node(&bucket.settings()).await;
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let beta = app.school(&root, "beta").await;

    // A file of alpha's, as its handlers would store it.
    let files = oryne::tenancy::files(&app.state, &format!("tenant_{}", alpha.id));
    let name = files
        .save_as("documents", b"%PDF-1.7 report card", "pdf")
        .await
        .unwrap();
    // In the bucket under alpha's prefix, and nowhere else.
    let whole = Storage::open(&bucket.storage_settings("")).unwrap();
    let under_alpha = whole.with_prefix(&format!("tenants/tenant_{}", alpha.id));
    assert_eq!(
        under_alpha.read(&name).await.unwrap(),
        b"%PDF-1.7 report card"
    );
    let beta_files = oryne::tenancy::files(&app.state, &format!("tenant_{}", beta.id));
    assert!(beta_files.read(&name).await.is_err(), "not beta's");

    // Usage, asked of another node, counts alpha's bytes only.
    for (school, bytes) in [(&alpha, 20), (&beta, 0)] {
        let r = other_node
            .get(&format!("/api/v1/tenants/{}/usage/", school.id))
            .bearer(&root.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["data"]["storage_bytes"], bytes, "{}", r.json);
    }

    // Deleting alpha removes its files, not beta's.
    beta_files
        .save_as("documents", b"%PDF-1.7 b", "pdf")
        .await
        .unwrap();
    app.post(&format!("/api/v1/tenants/{}/archive/", alpha.id))
        .bearer(&root.access)
        .send()
        .await
        .assert_status(200);
    app.delete(&format!("/api/v1/tenants/{}/?confirm=alpha", alpha.id))
        .bearer(&root.access)
        .send()
        .await
        .assert_status(202);
    app.run_jobs().await;
    assert!(
        under_alpha.read(&name).await.is_err(),
        "alpha's file is gone"
    );
    assert_eq!(beta_files.usage().await.unwrap(), 10);
}
