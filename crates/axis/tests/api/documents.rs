//! Documents (axis contract §9): multipart and JSON creates, the file rules
//! (size, type by content and extension), shapes, downloads, the update
//! rules, visibility (client scoping, confidentiality, `X-Client-ID`), who
//! may change what, publish / archive / create-version with their guards,
//! the queries, soft delete and restore, and the audit trail of each write.

use axis::entities::{contract, document};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

use crate::common::*;

const LIST_KEYS: &[&str] = &[
    "id",
    "title",
    "type",
    "status",
    "version",
    "is_latest",
    "uploaded_by_id",
    "uploaded_by_name",
    "client_id",
    "client_name",
    "contract_id",
    "contract_start_date",
    "expiry_date",
    "is_confidential",
    "is_expired",
    "is_active",
    "file_url",
    "created_at",
    "updated_at",
];

const DETAIL_EXTRA: &[&str] = &[
    "description",
    "file",
    "url",
    "file_size",
    "file_type",
    "filename",
    "file_extension",
    "previous_version_id",
    "tags",
    "uploaded_by_email",
    "metadata",
    "deleted_at",
];

const IMMUTABLE: &str = "This field cannot be changed; create a new version instead.";
const NO_SOURCE: &str = "Either 'file' (upload) or 'url' (cloud storage) must be provided";
const NOT_FOUND: &str = "Document not found";
const NO_PERMISSION: &str = "You do not have permission to perform this action.";

fn detail_keys() -> Vec<String> {
    let mut all: Vec<&str> = LIST_KEYS.to_vec();
    all.extend_from_slice(DETAIL_EXTRA);
    sorted(&all)
}

pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

const CSV: &[u8] = b"name,sessions\nAda Lovelace,3\nGrace Hopper,5\n";

/// A Windows executable's first bytes.
const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00This program cannot be run in DOS mode.";

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFF_u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// A stored (uncompressed) zip archive of `entries`.
fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = u32::try_from(out.len()).unwrap();
        let crc = crc32(data);
        let size = u32::try_from(data.len()).unwrap();
        let name_len = u16::try_from(name.len()).unwrap();
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let start = u32::try_from(out.len()).unwrap();
    let count = u16::try_from(entries.len()).unwrap();
    let central_len = u32::try_from(central.len()).unwrap();
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&central_len.to_le_bytes());
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

fn docx() -> Vec<u8> {
    zip(&[
        (
            "[Content_Types].xml",
            b"<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>",
        ),
        (
            "word/document.xml",
            b"<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body/></w:document>",
        ),
    ])
}

/// A part of a multipart body.
pub enum Part<'a> {
    Text(&'a str, &'a str),
    File(&'a str, &'a str, &'a [u8]),
}

/// `parts` as a `multipart/form-data` body: its content type and bytes.
pub fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    parts
        .iter()
        .fold(kernel::testing::Multipart::new(), |form, part| match part {
            Part::Text(name, value) => form.text(name, value),
            Part::File(name, filename, bytes) => {
                form.file(name, filename, "application/octet-stream", bytes)
            }
        })
        .finish()
}

/// Sends `parts` as multipart to `path` with `method`, as `actor`.
async fn send_parts(
    app: &TestApp,
    method: &str,
    path: &str,
    actor: &Actor,
    parts: &[Part<'_>],
) -> kernel::testing::TestResponse {
    let (content_type, body) = multipart(parts);
    let request = match method {
        "POST" => app.post(path),
        "PUT" => app.put(path),
        _ => app.patch(path),
    };
    request
        .bearer(&actor.access)
        .raw(&content_type, body)
        .send()
        .await
}

/// Uploads a PDF titled `title` as `actor` with `extra` parts; the detail.
async fn upload(app: &TestApp, actor: &Actor, title: &str, extra: &[Part<'_>]) -> Value {
    let mut parts = vec![
        Part::Text("title", title),
        Part::Text("type", "contract"),
        Part::File("file", "agreement.pdf", PDF),
    ];
    for part in extra {
        parts.push(match part {
            Part::Text(n, v) => Part::Text(n, v),
            Part::File(n, f, b) => Part::File(n, f, b),
        });
    }
    let r = send_parts(app, "POST", "/api/documents/", actor, &parts).await;
    r.assert_status(201);
    r.json.clone()
}

/// Creates a URL document as `actor` with `body` merged in; the detail.
async fn linked(app: &TestApp, actor: &Actor, body: Value) -> Value {
    let mut base =
        json!({"title": "Linked", "type": "other", "url": "https://files.example/a.pdf"});
    for (k, v) in body.as_object().unwrap() {
        base[k] = v.clone();
    }
    let r = app
        .post("/api/documents/")
        .bearer(&actor.access)
        .json(&base)
        .send()
        .await;
    r.assert_status(201);
    r.json.clone()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn ids(list: &Value) -> Vec<String> {
    let items = list
        .get("results")
        .unwrap_or(list)
        .as_array()
        .unwrap_or_else(|| panic!("a list: {list}"));
    let mut ids: Vec<String> = items.iter().map(id).collect();
    ids.sort();
    ids
}

fn sorted_ids(list: &[&Value]) -> Vec<String> {
    let mut ids: Vec<String> = list.iter().map(|v| id(v)).collect();
    ids.sort();
    ids
}

async fn get(app: &TestApp, actor: &Actor, path: &str) -> kernel::testing::TestResponse {
    app.get(path).bearer(&actor.access).send().await
}

async fn post(app: &TestApp, actor: &Actor, path: &str) -> kernel::testing::TestResponse {
    app.post(path).bearer(&actor.access).send().await
}

/// A contract of `client` inserted directly (its API is another resource).
async fn contract_of(app: &TestApp, client: &str) -> String {
    let now = kernel::time::now();
    let id = kernel::cuid::new();
    contract::ActiveModel {
        id: Set(id.clone()),
        client_id: Set(client.to_owned()),
        title: Set("Service agreement".into()),
        description: Set(None),
        contract_number: Set(format!("CTR-{}", &id[..8]).to_uppercase()),
        start_date: Set(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
        end_date: Set(chrono::NaiveDate::from_ymd_opt(2027, 12, 31).unwrap()),
        renewal_date: Set(None),
        billing_amount: Set(150_000),
        currency: Set("UGX".into()),
        billing_frequency: Set("Monthly".into()),
        payment_status: Set("Pending".into()),
        payment_terms: Set(None),
        last_billing_date: Set(None),
        next_billing_date: Set(None),
        auto_renew: Set(false),
        is_renewable: Set(true),
        renewal_notice_days: Set(30),
        document_url: Set(None),
        signed_by: Set(None),
        signed_at: Set(None),
        status: Set("Active".into()),
        termination_reason: Set(None),
        notes: Set(None),
        metadata: Set(json!({})),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        tombstone: Set(String::new()),
    }
    .insert(app.conn())
    .await
    .expect("insert a contract");
    id
}

/// Moves a document's expiry date to `date` directly (the API refuses past dates).
async fn set_expiry(app: &TestApp, id: &str, date: chrono::NaiveDate) {
    let row = document::Entity::find_by_id(id.to_owned())
        .one(app.conn())
        .await
        .unwrap()
        .unwrap();
    let mut row: document::ActiveModel = row.into();
    row.expiry_date = Set(Some(date));
    row.update(app.conn()).await.unwrap();
}

fn today() -> chrono::NaiveDate {
    kernel::time::now().date_naive()
}

fn in_days(days: i64) -> String {
    (today() + chrono::TimeDelta::days(days)).to_string()
}

db_test!(
    uploads_have_the_contract_shapes_and_download_as_attachments,
    |app| {
        let admin = app.superuser().await;
        let acme = app.client("Acme").await;
        let expiry = in_days(90);
        let created = upload(
            &app,
            &admin,
            "Master agreement",
            &[
                Part::Text("description", "Signed copy"),
                Part::Text("client_id", &acme),
                Part::Text("tags", "legal"),
                Part::Text("tags", "2026"),
                Part::Text("metadata", r#"{"source": "scanner"}"#),
                Part::Text("is_confidential", "false"),
                Part::Text("expiry_date", &expiry),
                Part::Text("uploaded_by_id", "ignoredignoredignoredigno"),
            ],
        )
        .await;
        assert_eq!(keys(&created), detail_keys());
        let doc = id(&created);
        assert!(is_cuid(&doc));
        let download = format!("http://localhost/api/documents/{doc}/download/");
        assert_eq!(created["title"], "Master agreement");
        assert_eq!(created["type"], "contract");
        assert_eq!(created["status"], "Draft");
        assert_eq!(created["version"], 1);
        assert_eq!(created["is_latest"], true);
        assert_eq!(created["previous_version_id"], Value::Null);
        assert_eq!(created["uploaded_by_id"], admin.id.as_str());
        assert_eq!(created["uploaded_by_name"], "Nomsa Dlamini");
        assert_eq!(created["uploaded_by_email"], "root@axis.example");
        assert_eq!(created["client_id"], acme.as_str());
        assert_eq!(created["client_name"], "Acme");
        assert_eq!(created["contract_id"], Value::Null);
        assert_eq!(created["expiry_date"], expiry.as_str());
        assert_eq!(created["is_confidential"], false);
        assert_eq!(created["is_expired"], false);
        assert_eq!(created["is_active"], false);
        assert_eq!(created["file_url"], download.as_str());
        assert_eq!(created["file"], download.as_str());
        assert_eq!(created["url"], Value::Null);
        assert_eq!(created["file_size"], PDF.len());
        assert_eq!(created["file_type"], "application/pdf");
        assert_eq!(created["filename"], "agreement.pdf");
        assert_eq!(created["file_extension"], "pdf");
        assert_eq!(created["tags"], json!(["legal", "2026"]));
        assert_eq!(created["metadata"], json!({"source": "scanner"}));
        assert_eq!(created["description"], "Signed copy");
        assert_eq!(created["deleted_at"], Value::Null);

        let r = get(&app, &admin, &format!("/api/documents/{doc}/")).await;
        r.assert_status(200);
        assert_eq!(r.json, created);

        let r = get(&app, &admin, "/api/documents/").await;
        r.assert_status(200);
        assert_page(&r.json, 1);
        assert_eq!(keys(&r.json["results"][0]), sorted(LIST_KEYS));
        assert_eq!(r.json["results"][0]["file_url"], download.as_str());

        let r = get(&app, &admin, &format!("/api/documents/{doc}/download/")).await;
        r.assert_status(200);
        assert_eq!(r.body, PDF);
        assert_eq!(r.header("content-type"), Some("application/pdf"));
        assert_eq!(
            r.header("content-disposition"),
            Some("attachment; filename=\"agreement.pdf\"")
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("cache-control"), Some("private, no-store"));

        // Every accepted kind, typed by its content and extension.
        let docx = docx();
        for (name, bytes, mime) in [
            ("scan.png", PNG, "image/png"),
            ("sessions.csv", CSV, "text/csv"),
            (
                "report.docx",
                docx.as_slice(),
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ),
        ] {
            let r = send_parts(
                &app,
                "POST",
                "/api/documents/",
                &admin,
                &[
                    Part::Text("title", name),
                    Part::Text("type", "KPI_REPORT"),
                    Part::File("file", name, bytes),
                ],
            )
            .await;
            r.assert_status(201);
            assert_eq!(r.json["file_type"], mime, "{name}");
            assert_eq!(r.json["type"], "kpi_report");
            let d = get(
                &app,
                &admin,
                &format!("/api/documents/{}/download/", id(&r.json)),
            )
            .await;
            d.assert_status(200);
            assert_eq!(d.body, bytes);
            assert_eq!(d.header("content-type"), Some(mime));
        }

        // The client counts its documents.
        let r = get(&app, &admin, &format!("/api/clients/{acme}/")).await;
        assert_eq!(r.json["documents_count"], 1);

        // A JSON create with a link: no download.
        let link = linked(
            &app,
            &admin,
            json!({"tags": ["a"], "is_confidential": true}),
        )
        .await;
        assert_eq!(keys(&link), detail_keys());
        assert_eq!(link["file_url"], "https://files.example/a.pdf");
        assert_eq!(link["file"], Value::Null);
        assert_eq!(link["file_size"], Value::Null);
        assert_eq!(link["is_confidential"], true);
        let r = get(
            &app,
            &admin,
            &format!("/api/documents/{}/download/", id(&link)),
        )
        .await;
        assert_error(&r, 404, "not_found", "Document has no uploaded file");

        // The trail keeps the storage name, never the bytes.
        let logs = app.audit_logs_of("Document", &doc).await;
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].action, "Create");
        assert_eq!(logs[0].data["status_code"], 201);
        let changes = app.entity_changes_of("Document", &doc).await;
        assert_eq!(changes[0].change_type, "Create");
        let fields = app.field_changes_of(&changes[0].id).await;
        assert!(fields.iter().any(|f| f.field_name == "title"));
        assert!(fields.iter().any(|f| f.field_name == "file"));
        assert_eq!(
            kernel::testing::rows_containing(app.conn(), "axis_entity_changes", "Catalog").await,
            0
        );
        assert_eq!(
            kernel::testing::rows_containing(app.conn(), "axis_audit_logs", "Catalog").await,
            0
        );
    }
);

db_test!(
    bad_uploads_and_bad_input_are_refused_and_write_nothing,
    |app| {
        let admin = app.superuser().await;
        let before = app.row_counts().await;
        let r = app.post("/api/documents/").json(&json!({})).send().await;
        assert_error(
            &r,
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
        );
        let big = {
            let mut big = PDF.to_vec();
            big.resize(10 * 1024 * 1024 + 1, b' ');
            big
        };
        let cases: Vec<(Vec<Part<'_>>, &str, Option<&str>)> = vec![
            (
                vec![
                    Part::Text("title", "Big"),
                    Part::Text("type", "other"),
                    Part::File("file", "big.pdf", &big),
                ],
                "file",
                Some("File size cannot exceed 10 MB."),
            ),
            (
                vec![
                    Part::Text("title", "Renamed"),
                    Part::Text("type", "other"),
                    Part::File("file", "invoice.pdf", EXE),
                ],
                "file",
                Some("Unsupported file type: the content is not a valid PDF file."),
            ),
            (
                vec![
                    Part::Text("title", "Program"),
                    Part::Text("type", "other"),
                    Part::File("file", "setup.exe", EXE),
                ],
                "file",
                Some(
                    "Unsupported file type: .exe. Allowed: PDF, DOC, DOCX, XLS, XLSX, JPEG, PNG, CSV.",
                ),
            ),
            (
                vec![
                    Part::Text("title", "Binary as CSV"),
                    Part::Text("type", "other"),
                    Part::File("file", "data.csv", EXE),
                ],
                "file",
                None,
            ),
            (
                vec![Part::Text("title", "Nothing"), Part::Text("type", "other")],
                "non_field_errors",
                Some(NO_SOURCE),
            ),
            (
                vec![
                    Part::Text("title", "FTP"),
                    Part::Text("type", "other"),
                    Part::Text("url", "ftp://files.example/a.pdf"),
                ],
                "url",
                None,
            ),
            (
                vec![
                    Part::Text("title", "Bad flag"),
                    Part::Text("type", "other"),
                    Part::Text("url", "https://x.example/a"),
                    Part::Text("is_confidential", "maybe"),
                ],
                "is_confidential",
                None,
            ),
            (
                vec![
                    Part::Text("title", "Bad metadata"),
                    Part::Text("type", "other"),
                    Part::Text("url", "https://x.example/a"),
                    Part::Text("metadata", "[1, 2]"),
                ],
                "metadata",
                Some("Value must be valid JSON."),
            ),
            (
                vec![
                    Part::Text("title", "Text as file"),
                    Part::Text("type", "other"),
                    Part::Text("file", "not a file"),
                ],
                "file",
                None,
            ),
        ];
        for (parts, field, message) in &cases {
            let r = send_parts(&app, "POST", "/api/documents/", &admin, parts).await;
            assert_field_error(&r, field, *message);
        }
        let long_tag = "x".repeat(51);
        for (body, field, message) in [
            (
                json!({"type": "other", "url": "https://x.example"}),
                "title",
                Some("This field is required."),
            ),
            (
                json!({"title": "T", "type": "memo", "url": "https://x.example"}),
                "type",
                Some("\"memo\" is not a valid choice."),
            ),
            (
                json!({"title": "T", "type": "other"}),
                "non_field_errors",
                Some(NO_SOURCE),
            ),
            (
                json!({"title": "T", "type": "other", "url": "https://x.example", "expiry_date": in_days(0)}),
                "expiry_date",
                Some("Expiry date must be in the future"),
            ),
            (
                json!({"title": "T", "type": "other", "url": "https://x.example", "expiry_date": "tomorrow"}),
                "expiry_date",
                None,
            ),
            (
                json!({"title": "T", "type": "other", "url": "https://x.example", "tags": [long_tag]}),
                "tags",
                Some("Ensure this field has no more than 50 characters."),
            ),
            (
                json!({"title": "T", "type": "other", "url": "https://x.example", "client_id": "abcdefghijklmnopqrstuvwxy"}),
                "client_id",
                Some("Invalid pk \"abcdefghijklmnopqrstuvwxy\" - object does not exist."),
            ),
            (
                json!({"title": "T", "type": "other", "url": "https://x.example", "metadata": [1]}),
                "metadata",
                None,
            ),
        ] {
            let r = app
                .post("/api/documents/")
                .bearer(&admin.access)
                .json(&body)
                .send()
                .await;
            assert_field_error(&r, field, message);
        }
        let r = app
            .post("/api/documents/")
            .bearer(&admin.access)
            .raw("multipart/form-data", "title=x")
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["code"], "parse_error");
        assert_eq!(app.row_counts().await, before);
        let media = std::fs::read_dir(app.state.settings.media_root.join("documents"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(media, 0, "no file stored for a refused request");
    }
);

db_test!(contracts_must_belong_to_the_documents_client, |app| {
    let admin = app.superuser().await;
    let acme = app.client("Acme").await;
    let beta = app.client("Beta").await;
    let contract = contract_of(&app, &acme).await;
    let r = app
        .post("/api/documents/")
        .bearer(&admin.access)
        .json(&json!({"title": "T", "type": "contract", "url": "https://x.example", "client_id": beta, "contract_id": contract}))
        .send()
        .await;
    assert_field_error(
        &r,
        "contract_id",
        Some("Contract does not belong to specified client"),
    );
    // Alone, the contract sets the client.
    let doc = linked(&app, &admin, json!({"contract": contract})).await;
    assert_eq!(doc["client_id"], acme.as_str());
    assert_eq!(doc["contract_id"], contract.as_str());
    assert_eq!(doc["contract_start_date"], "2026-01-01");
    let doc = linked(
        &app,
        &admin,
        json!({"client_id": acme, "contract_id": contract}),
    )
    .await;
    assert_eq!(doc["client_name"], "Acme");
    // A scoped user cannot name a client or contract they cannot see.
    let scoped = app.scoped(&admin).await;
    app.grant(&admin, &scoped.id, &beta).await;
    for body in [
        json!({"title": "T", "type": "other", "url": "https://x.example", "client_id": acme}),
        json!({"title": "T", "type": "other", "url": "https://x.example", "contract_id": contract}),
    ] {
        let r = app
            .post("/api/documents/")
            .bearer(&scoped.access)
            .json(&body)
            .send()
            .await;
        assert_eq!(r.status, 400, "{}", r.json);
        let field = if body.get("client_id").is_some() {
            "client_id"
        } else {
            "contract_id"
        };
        assert_field_error(&r, field, None);
    }
    let own = linked(&app, &scoped, json!({"client_id": beta})).await;
    assert_eq!(own["uploaded_by_id"], scoped.id.as_str());
    let none = linked(&app, &scoped, json!({})).await;
    assert_eq!(none["client_id"], Value::Null);
});

db_test!(
    scoped_users_see_granted_and_unassigned_documents_but_never_others_confidential_ones,
    |app| {
        let admin = app.superuser().await;
        let acme = app.client("Acme").await;
        let beta = app.client("Beta").await;
        let scoped = app.scoped(&admin).await;
        app.grant(&admin, &scoped.id, &acme).await;
        let other = app
            .user(&admin, "other@client.example", &["document_manager"])
            .await;
        app.grant(&admin, &other.id, &acme).await;

        let of_acme = upload(
            &app,
            &admin,
            "Acme policy",
            &[Part::Text("client_id", &acme)],
        )
        .await;
        let of_beta = upload(
            &app,
            &admin,
            "Beta policy",
            &[Part::Text("client_id", &beta)],
        )
        .await;
        let unassigned = linked(&app, &admin, json!({"title": "Handbook"})).await;
        let secret = upload(
            &app,
            &admin,
            "Acme secret",
            &[
                Part::Text("client_id", &acme),
                Part::Text("is_confidential", "true"),
            ],
        )
        .await;
        let own_secret = upload(
            &app,
            &scoped,
            "My secret",
            &[
                Part::Text("client_id", &acme),
                Part::Text("is_confidential", "True"),
            ],
        )
        .await;

        let r = get(&app, &admin, "/api/documents/").await;
        assert_page(&r.json, 5);
        let r = get(&app, &scoped, "/api/documents/").await;
        assert_eq!(
            ids(&r.json),
            sorted_ids(&[&of_acme, &unassigned, &own_secret])
        );
        let r = get(&app, &other, "/api/documents/").await;
        assert_eq!(ids(&r.json), sorted_ids(&[&of_acme, &unassigned]));
        let r = get(&app, &other, "/api/documents/confidential/").await;
        assert_eq!(r.json, json!([]));
        let r = get(&app, &scoped, "/api/documents/confidential/").await;
        assert_eq!(ids(&r.json), sorted_ids(&[&own_secret]));
        let r = get(&app, &admin, "/api/documents/confidential/").await;
        assert_eq!(ids(&r.json), sorted_ids(&[&secret, &own_secret]));
        let r = get(&app, &other, "/api/documents/latest-versions/").await;
        assert_eq!(ids(&r.json), sorted_ids(&[&of_acme, &unassigned]));

        // Absent, everywhere: detail, download, queries and actions.
        for hidden in [&of_beta, &secret, &own_secret] {
            let doc = id(hidden);
            for path in [
                format!("/api/documents/{doc}/"),
                format!("/api/documents/{doc}/download/"),
                format!("/api/documents/{doc}/version-history/"),
                format!("/api/documents/{doc}/check-expiry/"),
            ] {
                let r = get(&app, &other, &path).await;
                assert_error(&r, 404, "not_found", NOT_FOUND);
            }
            for action in ["publish", "archive", "create-version", "restore"] {
                let r = post(&app, &other, &format!("/api/documents/{doc}/{action}/")).await;
                assert!(
                    matches!(r.status.as_u16(), 403 | 404),
                    "{action}: {}",
                    r.json
                );
                if action != "restore" {
                    assert_error(&r, 404, "not_found", NOT_FOUND);
                }
            }
            let r = app
                .patch(&format!("/api/documents/{doc}/"))
                .bearer(&other.access)
                .json(&json!({"title": "x"}))
                .send()
                .await;
            assert_error(&r, 404, "not_found", NOT_FOUND);
            let r = app
                .delete(&format!("/api/documents/{doc}/"))
                .bearer(&other.access)
                .send()
                .await;
            assert_error(&r, 404, "not_found", NOT_FOUND);
        }
        // The uploader reads and downloads their own confidential document.
        let r = get(
            &app,
            &scoped,
            &format!("/api/documents/{}/download/", id(&own_secret)),
        )
        .await;
        r.assert_status(200);
        assert_eq!(r.body, PDF);

        // X-Client-ID narrows lists, and must be a client the caller may use.
        let r = app
            .get("/api/documents/")
            .bearer(&admin.access)
            .header("x-client-id", &beta)
            .send()
            .await;
        assert_eq!(ids(&r.json), sorted_ids(&[&of_beta]));
        let r = app
            .get("/api/documents/published/")
            .bearer(&scoped.access)
            .header("x-client-id", &beta)
            .send()
            .await;
        assert_error(
            &r,
            403,
            "permission_denied",
            "You do not have access to this client",
        );
        let r = app
            .get("/api/documents/")
            .bearer(&scoped.access)
            .header("x-client-id", "not-a-client")
            .send()
            .await;
        assert_error(&r, 403, "permission_denied", "Invalid client ID format");
        let r = app
            .get("/api/documents/")
            .bearer(&scoped.access)
            .header("x-client-id", &acme)
            .send()
            .await;
        assert_eq!(ids(&r.json), sorted_ids(&[&of_acme, &own_secret]));
        // The client_id filter is a plain filter.
        let r = get(&app, &scoped, &format!("/api/documents/?client_id={beta}")).await;
        assert_page(&r.json, 0);
    }
);

db_test!(
    uploaders_platform_users_and_document_managers_change_documents,
    |app| {
        let admin = app.superuser().await;
        let manager = app.manager(&admin).await;
        let acme = app.client("Acme").await;
        let uploader = app.scoped(&admin).await;
        app.grant(&admin, &uploader.id, &acme).await;
        let colleague = app.user(&admin, "colleague@client.example", &[]).await;
        app.grant(&admin, &colleague.id, &acme).await;
        let keeper = app
            .user(&admin, "keeper@client.example", &["document_manager"])
            .await;
        app.grant(&admin, &keeper.id, &acme).await;
        let stranger = app
            .user(&admin, "stranger@client.example", &["document_manager"])
            .await;

        let doc = upload(
            &app,
            &uploader,
            "Own upload",
            &[Part::Text("client_id", &acme)],
        )
        .await;
        let path = format!("/api/documents/{}/", id(&doc));
        // A colleague may read it but not change it.
        get(&app, &colleague, &path).await.assert_status(200);
        let r = app
            .patch(&path)
            .bearer(&colleague.access)
            .json(&json!({"title": "Mine now"}))
            .send()
            .await;
        assert_error(&r, 403, "permission_denied", NO_PERMISSION);
        let r = app.delete(&path).bearer(&colleague.access).send().await;
        assert_error(&r, 403, "permission_denied", NO_PERMISSION);
        for action in ["publish", "archive", "create-version"] {
            let r = post(&app, &colleague, &format!("{path}{action}/")).await;
            assert_error(&r, 403, "permission_denied", NO_PERMISSION);
            // Uploading gives no right to publish.
            let r = post(&app, &uploader, &format!("{path}{action}/")).await;
            assert_error(&r, 403, "permission_denied", NO_PERMISSION);
        }
        // The uploader, the document manager of the client and platform users may.
        for (actor, title) in [
            (&uploader, "By uploader"),
            (&keeper, "By keeper"),
            (&manager, "By manager"),
        ] {
            let r = app
                .patch(&path)
                .bearer(&actor.access)
                .json(&json!({"title": title}))
                .send()
                .await;
            r.assert_status(200);
            assert_eq!(r.json["title"], title);
        }
        let r = post(&app, &keeper, &format!("{path}publish/")).await;
        r.assert_status(200);
        assert_eq!(r.json["status"], "Published");
        // A document manager without a grant on the client does not see it.
        let r = post(&app, &stranger, &format!("{path}archive/")).await;
        assert_error(&r, 404, "not_found", NOT_FOUND);
        // Documents without a client: only platform users publish them.
        let loose = linked(&app, &keeper, json!({})).await;
        let r = post(
            &app,
            &keeper,
            &format!("/api/documents/{}/publish/", id(&loose)),
        )
        .await;
        assert_error(&r, 403, "permission_denied", NO_PERMISSION);
        let r = post(
            &app,
            &manager,
            &format!("/api/documents/{}/publish/", id(&loose)),
        )
        .await;
        r.assert_status(200);
        // The uploader deletes; only platform users restore.
        let r = app.delete(&path).bearer(&uploader.access).send().await;
        r.assert_status(204);
        assert!(r.body.is_empty());
        let r = get(&app, &admin, &path).await;
        assert_error(&r, 404, "not_found", NOT_FOUND);
        let r = post(&app, &uploader, &format!("{path}restore/")).await;
        assert_error(&r, 403, "permission_denied", NO_PERMISSION);
        let r = post(&app, &manager, &format!("{path}restore/")).await;
        r.assert_status(200);
        assert_eq!(r.json["deleted_at"], Value::Null);
        let r = post(&app, &manager, &format!("{path}restore/")).await;
        assert_error(&r, 400, "invalid_state", "Document is not deleted");
        let r = get(&app, &uploader, &format!("{path}download/")).await;
        r.assert_status(200);
    }
);

db_test!(
    updates_change_the_editable_fields_and_refuse_the_versioned_ones,
    |app| {
        let admin = app.superuser().await;
        let doc = upload(&app, &admin, "Policy", &[Part::Text("tags", "hr")]).await;
        let path = format!("/api/documents/{}/", id(&doc));
        for (field, value) in [
            ("version", json!(2)),
            ("is_latest", json!(false)),
            ("previous_version", json!(null)),
            ("previous_version_id", json!("abcdefghijklmnopqrstuvwxy")),
            ("url", json!("https://x.example/b.pdf")),
            ("file", json!("x")),
            ("file_size", json!(10)),
            ("file_type", json!("text/plain")),
        ] {
            let r = app
                .patch(&path)
                .bearer(&admin.access)
                .json(&json!({field: value, "title": "Changed"}))
                .send()
                .await;
            assert_field_error(&r, field, Some(IMMUTABLE));
        }
        let r = send_parts(
            &app,
            "PATCH",
            &path,
            &admin,
            &[Part::File("file", "other.pdf", PDF)],
        )
        .await;
        assert_field_error(&r, "file", Some(IMMUTABLE));
        let r = app
            .patch(&path)
            .bearer(&admin.access)
            .json(&json!({"expiry_date": in_days(-1)}))
            .send()
            .await;
        assert_field_error(&r, "expiry_date", Some("Expiry date must be in the future"));
        let r = app
            .put(&path)
            .bearer(&admin.access)
            .json(&json!({"type": "other"}))
            .send()
            .await;
        assert_field_error(&r, "title", Some("This field is required."));
        assert_eq!(app.audit_logs_of("Document", &id(&doc)).await.len(), 1);

        // Multipart PATCH: tags repeated, flags and metadata as text.
        let expiry = in_days(10);
        let r = send_parts(
            &app,
            "PATCH",
            &path,
            &admin,
            &[
                Part::Text("title", "Policy v1"),
                Part::Text("tags", "hr"),
                Part::Text("tags", "benefits"),
                Part::Text("is_confidential", "true"),
                Part::Text("metadata", r#"{"reviewed": true}"#),
                Part::Text("expiry_date", &expiry),
            ],
        )
        .await;
        r.assert_status(200);
        assert_eq!(r.json["title"], "Policy v1");
        assert_eq!(r.json["tags"], json!(["hr", "benefits"]));
        assert_eq!(r.json["is_confidential"], true);
        assert_eq!(r.json["metadata"], json!({"reviewed": true}));
        assert_eq!(r.json["expiry_date"], expiry.as_str());
        assert_eq!(r.json["version"], 1);
        let r = app
            .put(&path)
            .bearer(&admin.access)
            .json(&json!({"title": "Policy", "type": "certification", "description": "Whole"}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["type"], "certification");
        assert_eq!(r.json["tags"], json!(["hr", "benefits"]));

        // A URL document's size and type may be set.
        let link = linked(&app, &admin, json!({})).await;
        let r = app
            .patch(&format!("/api/documents/{}/", id(&link)))
            .bearer(&admin.access)
            .json(&json!({"file_size": 2048, "file_type": "application/pdf"}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["file_size"], 2048);
        assert_eq!(r.json["file_type"], "application/pdf");

        // Each write is in the field-level trail.
        let logs = app.audit_logs_of("Document", &id(&doc)).await;
        let actions: Vec<&str> = logs.iter().map(|l| l.action.as_str()).collect();
        assert_eq!(actions, ["Create", "Update", "Update"]);
        let changes = app.entity_changes_of("Document", &id(&doc)).await;
        let fields = app.field_changes_of(&changes[1].id).await;
        let names: Vec<&str> = fields.iter().map(|f| f.field_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "expiry_date",
                "is_confidential",
                "metadata",
                "tags",
                "title"
            ]
        );
        let tags = fields.iter().find(|f| f.field_name == "tags").unwrap();
        assert_eq!(tags.old_value, Some(json!(["hr"])));
        assert_eq!(tags.new_value, Some(json!(["hr", "benefits"])));
    }
);

db_test!(publish_archive_and_versions_follow_their_guards, |app| {
    let admin = app.superuser().await;
    let acme = app.client("Acme").await;
    let contract = contract_of(&app, &acme).await;
    let expiry = in_days(60);
    let first = upload(
        &app,
        &admin,
        "Benefits guide",
        &[
            Part::Text("contract_id", &contract),
            Part::Text("tags", "guide"),
            Part::Text("is_confidential", "1"),
            Part::Text("expiry_date", &expiry),
        ],
    )
    .await;
    let v1 = id(&first);
    let p = |doc: &str, action: &str| format!("/api/documents/{doc}/{action}/");

    let r = post(&app, &admin, &p(&v1, "archive")).await;
    assert_error(
        &r,
        400,
        "invalid_state",
        "Can only archive Published documents. Current status: Draft",
    );
    let r = post(&app, &admin, &p(&v1, "publish")).await;
    r.assert_status(200);
    assert_eq!(keys(&r.json), detail_keys());
    assert_eq!(r.json["status"], "Published");
    assert_eq!(r.json["is_active"], true);
    assert!(r.json["metadata"]["published_at"].is_string());
    let r = post(&app, &admin, &p(&v1, "publish")).await;
    assert_error(
        &r,
        400,
        "invalid_state",
        "Can only publish documents in Draft status. Current status: Published",
    );
    let published = get(&app, &admin, "/api/documents/published/").await;
    assert_eq!(ids(&published.json), vec![v1.clone()]);

    // A new version: multipart, a new file.
    let r = send_parts(
        &app,
        "POST",
        &p(&v1, "create-version"),
        &admin,
        &[
            Part::File("file", "guide-2.csv", CSV),
            Part::Text("description", "Second edition"),
        ],
    )
    .await;
    r.assert_status(201);
    assert_eq!(keys(&r.json), detail_keys());
    let second = r.json.clone();
    let v2 = id(&second);
    assert_eq!(second["version"], 2);
    assert_eq!(second["status"], "Draft");
    assert_eq!(second["is_latest"], true);
    assert_eq!(second["previous_version_id"], v1.as_str());
    assert_eq!(second["title"], "Benefits guide");
    assert_eq!(second["type"], "contract");
    assert_eq!(second["is_confidential"], true);
    assert_eq!(second["tags"], json!(["guide"]));
    assert_eq!(second["client_id"], acme.as_str());
    assert_eq!(second["contract_id"], contract.as_str());
    assert_eq!(second["expiry_date"], expiry.as_str());
    assert_eq!(second["description"], "Second edition");
    assert_eq!(second["file_type"], "text/csv");
    assert_eq!(second["filename"], "guide-2.csv");
    let old = get(&app, &admin, &format!("/api/documents/{v1}/")).await;
    assert_eq!(old.json["is_latest"], false);
    assert_eq!(old.json["is_active"], false);
    assert_eq!(old.json["status"], "Published");

    let r = post(&app, &admin, &p(&v1, "create-version")).await;
    assert_field_error(&r, "non_field_errors", Some(NO_SOURCE));
    let r = app
        .post(&p(&v1, "create-version"))
        .bearer(&admin.access)
        .json(&json!({"url": "https://x.example/v3"}))
        .send()
        .await;
    assert_error(
        &r,
        400,
        "invalid_state",
        "Can only create a new version from the latest version",
    );
    // A JSON version with a link.
    let r = app
        .post(&p(&v2, "create-version"))
        .bearer(&admin.access)
        .json(&json!({"url": "https://x.example/v3"}))
        .send()
        .await;
    r.assert_status(201);
    let v3 = id(&r.json);
    assert_eq!(r.json["version"], 3);
    assert_eq!(r.json["file_url"], "https://x.example/v3");
    assert_eq!(r.json["description"], "Second edition");
    let r = post(&app, &admin, &p(&v2, "publish")).await;
    assert_error(
        &r,
        400,
        "invalid_state",
        "Can only publish the latest version of a document",
    );

    // History from any version, the first first.
    for any in [&v1, &v2, &v3] {
        let r = get(&app, &admin, &p(any, "version-history")).await;
        r.assert_status(200);
        let versions: Vec<i64> = r
            .json
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_i64().unwrap())
            .collect();
        assert_eq!(versions, [1, 2, 3]);
        assert_eq!(
            keys(&r.json[0]),
            sorted(&[
                "id",
                "version",
                "url",
                "file_url",
                "status",
                "is_latest",
                "uploaded_by_email",
                "created_at",
                "updated_at"
            ])
        );
        assert_eq!(r.json[0]["id"], v1.as_str());
        assert_eq!(r.json[2]["is_latest"], true);
        assert_eq!(r.json[0]["uploaded_by_email"], "root@axis.example");
    }
    let r = get(&app, &admin, "/api/documents/latest-versions/").await;
    assert_eq!(ids(&r.json), vec![v3.clone()]);
    let r = get(
        &app,
        &admin,
        "/api/documents/?is_latest=false&ordering=version",
    )
    .await;
    assert_eq!(
        r.json["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(id)
            .collect::<Vec<_>>(),
        [v1.clone(), v2.clone()]
    );

    // Archive with a reason.
    let r = app
        .post(&p(&v1, "archive"))
        .bearer(&admin.access)
        .json(&json!({"reason": "Superseded"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Archived");
    assert_eq!(r.json["metadata"]["archive_reason"], "Superseded");
    assert!(r.json["metadata"]["archived_at"].is_string());
    let changes = app.entity_changes_of("Document", &v1).await;
    let last = changes.last().unwrap();
    assert_eq!(last.change_type, "Archive");
    assert_eq!(last.change_reason.as_deref(), Some("Superseded"));

    // An expired draft cannot be published.
    set_expiry(&app, &v3, today() - chrono::TimeDelta::days(1)).await;
    let r = post(&app, &admin, &p(&v3, "publish")).await;
    assert_error(&r, 400, "invalid_state", "Cannot publish expired document");

    // The version write is one audit row: the new row created, the old one no longer latest.
    let logs = app.audit_logs_of("Document", &v2).await;
    assert_eq!(logs[0].action, "Create");
    assert_eq!(logs[0].data["status_code"], 201);
    let old_changes = app.entity_changes_of("Document", &v1).await;
    let retired = old_changes
        .iter()
        .find(|c| c.metadata["audit_log_id"] == logs[0].id.as_str())
        .expect("the old version's change in the same audit row");
    let fields = app.field_changes_of(&retired.id).await;
    let names: Vec<&str> = fields.iter().map(|f| f.field_name.as_str()).collect();
    assert_eq!(names, ["is_latest"]);
});

db_test!(expiry_queries_and_the_list_filters, |app| {
    let admin = app.superuser().await;
    let soon = linked(
        &app,
        &admin,
        json!({"title": "Soon", "expiry_date": in_days(5), "tags": ["renewal"]}),
    )
    .await;
    let later = linked(
        &app,
        &admin,
        json!({"title": "Later", "expiry_date": in_days(45), "type": "certification"}),
    )
    .await;
    let never = linked(
        &app,
        &admin,
        json!({"title": "Never", "description": "No expiry here"}),
    )
    .await;
    let gone = linked(
        &app,
        &admin,
        json!({"title": "Gone", "expiry_date": in_days(3)}),
    )
    .await;
    set_expiry(&app, &id(&gone), today() - chrono::TimeDelta::days(2)).await;

    let r = get(&app, &admin, "/api/documents/expiring-soon/").await;
    r.assert_status(200);
    assert_eq!(ids(&r.json), sorted_ids(&[&soon]));
    assert_eq!(keys(&r.json[0]), sorted(LIST_KEYS));
    let r = get(&app, &admin, "/api/documents/expiring-soon/?days=60").await;
    assert_eq!(ids(&r.json), sorted_ids(&[&soon, &later]));
    let r = get(&app, &admin, "/api/documents/expiring-soon/?days=abc").await;
    r.assert_status(400);
    assert_eq!(r.json["error"], "Invalid days parameter");
    let r = get(&app, &admin, "/api/documents/expired/").await;
    assert_eq!(ids(&r.json), sorted_ids(&[&gone]));
    assert_eq!(r.json[0]["is_expired"], true);

    let r = get(
        &app,
        &admin,
        &format!("/api/documents/{}/check-expiry/", id(&soon)),
    )
    .await;
    assert_eq!(
        r.json,
        json!({"has_expiry": true, "is_expired": false, "expiry_date": in_days(5), "days_until_expiry": 5, "expires_soon": true})
    );
    let r = get(
        &app,
        &admin,
        &format!("/api/documents/{}/check-expiry/", id(&never)),
    )
    .await;
    assert_eq!(
        r.json,
        json!({"has_expiry": false, "is_expired": false, "expiry_date": null, "days_until_expiry": null, "expires_soon": false})
    );
    let r = get(
        &app,
        &admin,
        &format!("/api/documents/{}/check-expiry/", id(&gone)),
    )
    .await;
    assert_eq!(r.json["is_expired"], true);
    assert_eq!(r.json["days_until_expiry"], -2);
    assert_eq!(r.json["expires_soon"], false);

    // Search, filters, ordering.
    let r = get(&app, &admin, "/api/documents/?search=renewal").await;
    assert_eq!(ids(&r.json), sorted_ids(&[&soon]));
    let r = get(&app, &admin, "/api/documents/?search=EXPIRY").await;
    assert_eq!(ids(&r.json), sorted_ids(&[&never]));
    let r = get(&app, &admin, "/api/documents/?type=certification").await;
    assert_eq!(ids(&r.json), sorted_ids(&[&later]));
    let r = get(&app, &admin, "/api/documents/?status=draft").await;
    assert_page(&r.json, 4);
    let r = get(&app, &admin, "/api/documents/?status=Published").await;
    assert_page(&r.json, 0);
    let r = get(
        &app,
        &admin,
        &format!("/api/documents/?uploaded_by={}", admin.id),
    )
    .await;
    assert_page(&r.json, 4);
    let r = get(&app, &admin, "/api/documents/?is_confidential=true").await;
    assert_page(&r.json, 0);
    let r = get(&app, &admin, "/api/documents/?ordering=title").await;
    let titles: Vec<&str> = r.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Gone", "Later", "Never", "Soon"]);
    for (query, field) in [
        ("type=memo", "type"),
        ("status=Lost", "status"),
        ("is_confidential=perhaps", "is_confidential"),
        ("is_latest=2", "is_latest"),
    ] {
        let r = get(&app, &admin, &format!("/api/documents/?{query}")).await;
        assert_field_error(&r, field, None);
    }
    // Deleted rows leave every list and query.
    let r = app
        .delete(&format!("/api/documents/{}/", id(&soon)))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(204);
    let r = get(&app, &admin, "/api/documents/expiring-soon/").await;
    assert_eq!(r.json, json!([]));
    let r = get(&app, &admin, "/api/documents/").await;
    assert_page(&r.json, 3);
    let logs = app.audit_logs_of("Document", &id(&soon)).await;
    assert_eq!(logs.last().unwrap().action, "Delete");
    let changes = app.entity_changes_of("Document", &id(&soon)).await;
    assert_eq!(changes.last().unwrap().change_type, "Delete");
});

db_test!(
    a_confidential_document_lives_its_whole_life_unseen_by_other_scoped_users,
    |app| {
        let admin = app.superuser().await;
        let acme = app.client("Acme").await;
        let owner = app
            .user(&admin, "owner@client.example", &["document_manager"])
            .await;
        app.grant(&admin, &owner.id, &acme).await;
        let peer = app
            .user(&admin, "peer@client.example", &["document_manager"])
            .await;
        app.grant(&admin, &peer.id, &acme).await;

        let before = app.trail_counts().await;
        let first = upload(
            &app,
            &owner,
            "Counselling referrals",
            &[
                Part::Text("client_id", &acme),
                Part::Text("is_confidential", "true"),
            ],
        )
        .await;
        let v1 = id(&first);
        let r = send_parts(
            &app,
            "POST",
            &format!("/api/documents/{v1}/create-version/"),
            &owner,
            &[Part::File("file", "referrals-v2.png", PNG)],
        )
        .await;
        r.assert_status(201);
        let v2 = id(&r.json);
        assert_eq!(r.json["is_confidential"], true);
        assert_eq!(r.json["uploaded_by_id"], owner.id.as_str());
        let r = post(&app, &owner, &format!("/api/documents/{v2}/publish/")).await;
        r.assert_status(200);
        assert_eq!(r.json["is_active"], true);
        let r = app
            .get(&format!("/api/documents/{v2}/download/"))
            .bearer(&owner.access)
            .header("x-client-id", &acme)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.body, PNG);
        assert_eq!(
            r.header("content-disposition"),
            Some("attachment; filename=\"referrals-v2.png\"")
        );

        // The peer cannot tell it exists.
        for path in [
            "/api/documents/".to_owned(),
            "/api/documents/published/".to_owned(),
            "/api/documents/latest-versions/".to_owned(),
            "/api/documents/confidential/".to_owned(),
            "/api/documents/?search=referrals".to_owned(),
        ] {
            let r = app
                .get(&path)
                .bearer(&peer.access)
                .header("x-client-id", &acme)
                .send()
                .await;
            r.assert_status(200);
            assert_eq!(ids(&r.json), Vec::<String>::new(), "{path}");
        }
        for doc in [&v1, &v2] {
            for path in ["", "download/", "version-history/", "check-expiry/"] {
                let r = get(&app, &peer, &format!("/api/documents/{doc}/{path}")).await;
                assert_error(&r, 404, "not_found", NOT_FOUND);
            }
            for action in ["publish", "archive", "create-version"] {
                let r = post(&app, &peer, &format!("/api/documents/{doc}/{action}/")).await;
                assert_error(&r, 404, "not_found", NOT_FOUND);
            }
        }
        // Platform users see it.
        let r = get(
            &app,
            &admin,
            &format!("/api/documents/{v2}/version-history/"),
        )
        .await;
        assert_eq!(r.json.as_array().unwrap().len(), 2);

        // Every change is in the trail: create, create-version (+ the old
        // version's change), publish.
        let after = app.trail_counts().await;
        assert_eq!(after.0 - before.0, 3, "audit rows");
        assert_eq!(after.1 - before.1, 4, "entity changes");
        let v2_changes = app.entity_changes_of("Document", &v2).await;
        let types: Vec<&str> = v2_changes.iter().map(|c| c.change_type.as_str()).collect();
        assert_eq!(types, ["Create", "Update"]);
        let publish = app.field_changes_of(&v2_changes[1].id).await;
        let names: Vec<&str> = publish.iter().map(|f| f.field_name.as_str()).collect();
        assert_eq!(names, ["metadata", "status"]);
        let status = publish.iter().find(|f| f.field_name == "status").unwrap();
        assert_eq!(status.old_value, Some(json!("Draft")));
        assert_eq!(status.new_value, Some(json!("Published")));
        for log in app.audit_logs_of("Document", &v2).await {
            assert_eq!(log.user_id.as_deref(), Some(owner.id.as_str()));
        }
    }
);
