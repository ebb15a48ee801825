//! `kernel::upload::Storage` on both backends: a local folder, and a real
//! S3-compatible server on loopback (moto's, started by `.ci/run`; set
//! `CAMPUS_TEST_S3_ENDPOINT` to run these elsewhere). Without the server the
//! S3 tests are skipped, saying why, and fail under `CI=true`.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use kernel::config::{Settings, SystemDefaults};
use kernel::testing::TestBucket;
use kernel::upload::{FileKind, S3Settings, Storage, StorageSettings};

const PDF: &[u8] = b"%PDF-1.7\nstorage test\n%%EOF\n";

fn temp_folder() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "campus_test_media_storage_{}",
        uuid::Uuid::new_v4().simple()
    ))
}

/// Save, read back, delete, and a missing or unsafe name is `NotFound`;
/// the same on either backend.
async fn round_trip(storage: &Storage) {
    let name = storage
        .save("evidence", PDF, FileKind::Pdf)
        .await
        .expect("save");
    let (folder, file) = name.split_once('/').expect("folder/file");
    assert_eq!(folder, "evidence");
    let (stem, extension) = file.split_once('.').expect("uuid.ext");
    assert_eq!(extension, "pdf");
    assert_eq!(stem.len(), 32);
    assert!(stem.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(storage.read(&name).await.expect("read"), PDF);

    let other = storage
        .save_as("exports", b"a,b\n", "csv")
        .await
        .expect("save_as");
    assert!(other.starts_with("exports/") && other.ends_with(".csv"));
    assert_eq!(storage.read(&other).await.expect("read"), b"a,b\n");

    storage.delete(&name).await;
    let gone = storage.read(&name).await.expect_err("deleted");
    assert_eq!(gone.kind(), ErrorKind::NotFound, "{gone}");
    // Deleting twice is quiet.
    storage.delete(&name).await;
    assert_eq!(storage.read(&other).await.expect("kept"), b"a,b\n");

    for unsafe_name in [
        "../etc/passwd",
        "/etc/passwd",
        "evidence/../../x.pdf",
        "evidence//x.pdf",
        "./evidence/x.pdf",
        "evidence/x.pdf?x=1",
        "evidence/%2e%2e.pdf",
        "",
    ] {
        let refused = storage.read(unsafe_name).await.expect_err(unsafe_name);
        assert_eq!(refused.kind(), ErrorKind::NotFound, "{unsafe_name}");
    }
    assert!(
        storage.save_as("../up", PDF, "pdf").await.is_err(),
        "a folder that climbs out is refused"
    );
    storage.check().await.expect("check");
}

/// A view under a prefix reaches only its own names; the names it hands
/// out are relative to it, and the parent sees them under the prefix.
async fn prefix_view(storage: &Storage) {
    let tenant = storage.with_prefix("tenants/acme");
    let other = storage.with_prefix("tenants/globex");
    let name = tenant
        .save("receipts", PDF, FileKind::Pdf)
        .await
        .expect("save");
    assert!(name.starts_with("receipts/"), "{name}");
    assert_eq!(tenant.read(&name).await.expect("read"), PDF);
    assert_eq!(
        storage
            .read(&format!("tenants/acme/{name}"))
            .await
            .expect("the parent sees it under the prefix"),
        PDF
    );
    let elsewhere = other.read(&name).await.expect_err("another tenant");
    assert_eq!(elsewhere.kind(), ErrorKind::NotFound);
    let climb = other
        .read(&format!("../acme/{name}"))
        .await
        .expect_err("no climbing between views");
    assert_eq!(climb.kind(), ErrorKind::NotFound);
    // A prefix cannot climb either: `..` and empty segments are dropped.
    let sneaky = storage.with_prefix("../tenants//./acme/");
    assert_eq!(sneaky.read(&name).await.expect("same view"), PDF);
    let nested = tenant.with_prefix("archive");
    let archived = nested.save_as("old", b"x", "txt").await.expect("save");
    assert_eq!(
        tenant
            .read(&format!("archive/{archived}"))
            .await
            .expect("nested view"),
        b"x"
    );
    tenant.check().await.expect("check under a prefix");
    tenant.delete(&name).await;
    assert!(storage.read(&format!("tenants/acme/{name}")).await.is_err());
}

#[tokio::test]
async fn files_round_trip_and_prefixes() {
    let root = temp_folder();
    let storage = Storage::open(&StorageSettings::Files(root.clone())).expect("open");
    round_trip(&storage).await;
    prefix_view(&storage).await;
    // Same on-disk names as before: <root>/<folder>/<uuid>.<ext>.
    let name = storage
        .save("evidence", PDF, FileKind::Pdf)
        .await
        .expect("save");
    assert_eq!(std::fs::read(root.join(&name)).expect("on disk"), PDF);
    assert!(
        !root.join("campus-check").exists(),
        "check leaves no probe behind"
    );
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test]
async fn files_check_fails_when_the_folder_is_not_writable() {
    let root = temp_folder();
    std::fs::create_dir_all(root.parent().expect("temp")).expect("temp dir");
    // A file where the folder should be: nothing can be created under it.
    std::fs::write(&root, b"not a folder").expect("a file");
    let storage = Storage::open(&StorageSettings::Files(root.clone())).expect("open");
    let error = storage.check().await.expect_err("not writable");
    assert!(error.contains("cannot write"), "{error}");
    assert!(storage.save("evidence", PDF, FileKind::Pdf).await.is_err());
    let _ = std::fs::remove_file(root);
}

#[tokio::test]
async fn s3_round_trip_and_prefixes() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let storage = Storage::open(&bucket.storage_settings("")).expect("open");
    round_trip(&storage).await;
    prefix_view(&storage).await;

    // A prefix in the URL is a view like any other.
    let prefixed = Storage::open(&bucket.storage_settings("campus/media")).expect("open");
    let name = prefixed
        .save("evidence", PDF, FileKind::Pdf)
        .await
        .expect("save");
    assert_eq!(
        storage
            .read(&format!("campus/media/{name}"))
            .await
            .expect("under the URL's prefix"),
        PDF
    );
    assert!(storage.read(&name).await.is_err(), "not at the top");
}

#[tokio::test]
async fn s3_settings_come_from_the_environment() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let url = format!("{}/campus", bucket.url);
    let mut vars = bucket.settings().to_vec();
    vars.retain(|(k, _)| *k != "CAMPUS_STORAGE_URL");
    vars.push(("CAMPUS_STORAGE_URL", &url));
    vars.push(("CAMPUS_SECRET_KEY", "0123456789abcdef0123"));
    let settings = Settings::from_lookup(&SystemDefaults::base("test"), |k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| (*v).to_owned())
    })
    .expect("settings");
    let StorageSettings::S3(s3) = &settings.storage else {
        panic!("expected S3: {:?}", settings.storage);
    };
    assert_eq!(s3.bucket, bucket.name);
    assert_eq!(s3.prefix, "campus");
    let storage = Storage::open(&settings.storage).expect("open");
    storage.check().await.expect("check");
    assert!(
        format!("{settings:?}").contains("secret_access_key: Some(\"<redacted>\")"),
        "the secret key is not printed: {settings:?}"
    );
}

#[tokio::test]
async fn s3_missing_bucket_fails_its_check() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let StorageSettings::S3(s3) = bucket.storage_settings("") else {
        unreachable!()
    };
    let missing = StorageSettings::S3(S3Settings {
        bucket: format!("{}-missing", bucket.name),
        ..s3
    });
    let storage = Storage::open(&missing).expect("open");
    let error = storage.check().await.expect_err("no such bucket");
    assert!(error.contains("cannot write"), "{error}");
    let read = storage
        .read("evidence/0123456789abcdef0123456789abcdef.pdf")
        .await;
    assert!(read.is_err());
}

#[tokio::test]
async fn s3_check_fails_quickly_against_a_dead_endpoint() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    let dead = StorageSettings::S3(S3Settings {
        bucket: "campus-dead".into(),
        prefix: String::new(),
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        region: "us-east-1".into(),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
    });
    let storage = Storage::open(&dead).expect("open");
    let started = Instant::now();
    let error = storage.check().await.expect_err("unreachable");
    assert!(error.contains("s3://campus-dead"), "{error}");
    let write = storage.save("evidence", PDF, FileKind::Pdf).await;
    assert!(write.is_err_and(|e| e.kind() != ErrorKind::NotFound));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_bad_storage_url_names_its_setting() {
    let settings = |vars: &[(&str, &str)]| {
        Settings::from_lookup(&SystemDefaults::base("test"), |k| {
            [("CAMPUS_SECRET_KEY", "0123456789abcdef0123")]
                .iter()
                .chain(vars)
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        })
    };
    for bad in [
        "s3:/",
        "s3://",
        "s3://Bad_Bucket",
        "s3://ab",
        "s3://bucket/../up",
        "s3://bucket/./up",
        "s3://bucket/a//b",
        "s3://bucket?region=x",
        "s3://key:secret@bucket",
        "file://relative",
        "file://host/dir",
        "ftp://bucket",
        "/srv/media",
    ] {
        let error = settings(&[("CAMPUS_STORAGE_URL", bad)]).expect_err(bad);
        assert_eq!(error.name, "CAMPUS_STORAGE_URL", "{bad}: {error}");
        assert!(!error.to_string().contains('\n'));
    }
    let error = settings(&[
        ("CAMPUS_STORAGE_URL", "s3://bucket"),
        ("CAMPUS_S3_ENDPOINT", "127.0.0.1:5000"),
    ])
    .expect_err("endpoint");
    assert_eq!(error.name, "CAMPUS_S3_ENDPOINT");
    let error = settings(&[
        ("CAMPUS_STORAGE_URL", "s3://bucket"),
        ("AWS_ACCESS_KEY_ID", "only-the-id"),
    ])
    .expect_err("half the keys");
    assert_eq!(error.name, "AWS_SECRET_ACCESS_KEY");

    // Unset: the media root, as before.
    let unset = settings(&[("CAMPUS_MEDIA_ROOT", "/srv/media")]).expect("defaults");
    assert_eq!(unset.storage, StorageSettings::Files("/srv/media".into()));
    let file = settings(&[("CAMPUS_STORAGE_URL", "file:///var/lib/campus/files/")]).expect("file");
    assert_eq!(
        file.storage,
        StorageSettings::Files("/var/lib/campus/files/".into())
    );
    let s3 = settings(&[
        ("CAMPUS_STORAGE_URL", "s3://campus-media/prod/uploads/"),
        ("CAMPUS_S3_ENDPOINT", "https://minio.internal:9000/"),
    ])
    .expect("s3");
    assert_eq!(
        s3.storage,
        StorageSettings::S3(S3Settings {
            bucket: "campus-media".into(),
            prefix: "prod/uploads".into(),
            endpoint: Some("https://minio.internal:9000".into()),
            region: "us-east-1".into(),
            access_key_id: None,
            secret_access_key: None,
        })
    );
}
