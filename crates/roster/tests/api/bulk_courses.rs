//! Bulk import of courses from XLSX and CSV files (contract §1 "same
//! mechanism for courses", §3): the template, all-or-nothing uploads with a
//! per-row report, prerequisites by code (stored or in the file), topics,
//! dry runs, and who may upload.

use calamine::Reader;
use sea_orm::EntityTrait;

use crate::common::*;

const HEADER: &str = "code,name,department_code,description,credit_hours,theory_sessions_per_week,practical_sessions_per_week,session_duration_minutes,prerequisites,topics";

async fn upload(
    app: &TestApp,
    who: &Actor,
    filename: &str,
    bytes: &[u8],
    query: &str,
) -> kernel::testing::TestResponse {
    let (content_type, body) = multipart_file(filename, bytes);
    app.post(&format!("/api/courses/bulk-upload/{query}"))
        .bearer(&who.access)
        .raw(&content_type, body)
        .send()
        .await
}

async fn course_count(app: &TestApp) -> usize {
    roster::entities::course::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .len()
}

async fn topic_count(app: &TestApp) -> usize {
    roster::entities::topic::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .len()
}

/// The course `id` as `GET /api/courses/{id}/` shows it.
async fn shown(app: &TestApp, who: &Actor, id: Uuid) -> Value {
    let r = app
        .get(&format!("/api/courses/{id}/"))
        .bearer(&who.access)
        .send()
        .await;
    r.assert_status(200);
    r.json
}

/// An admin, the school and department `ICT` (with a HOD).
async fn setup(app: &TestApp) -> (Actor, Actor, Uuid) {
    let admin = app.admin().await;
    let hod = app.user("hod").await;
    app.school(&admin).await;
    let dept = app.department(&admin, "ICT", Some(&hod), &[]).await;
    (admin, hod, dept)
}

db_test!(templates_for_course_writers, |app| {
    let (admin, hod, _) = setup(&app).await;
    let csv = app
        .get("/api/courses/bulk-template/?format=csv")
        .bearer(&admin.access)
        .send()
        .await;
    csv.assert_status(200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert!(
        csv.header("content-disposition")
            .unwrap()
            .contains("courses-template.csv")
    );
    assert_eq!(String::from_utf8_lossy(&csv.body), format!("{HEADER}\r\n"));
    let dp = app.user("dp_academics").await;
    for who in [&dp, &hod] {
        let xlsx = app
            .get("/api/courses/bulk-template/?format=XLSX")
            .bearer(&who.access)
            .send()
            .await;
        xlsx.assert_status(200);
        assert!(
            xlsx.header("content-type")
                .unwrap()
                .contains("spreadsheetml")
        );
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(xlsx.body.clone())).unwrap();
        assert_eq!(book.sheet_names(), ["Courses", "Instructions"]);
        let courses = book.worksheet_range("Courses").unwrap();
        let header: Vec<String> = courses
            .rows()
            .next()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(header.join(","), HEADER);
        let help = book.worksheet_range("Instructions").unwrap();
        assert_eq!(help.rows().count(), 11);
    }
    app.get("/api/courses/bulk-template/?format=pdf")
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(400);
    for role in ["trainer", "trainee"] {
        let who = app.user(role).await;
        app.get("/api/courses/bulk-template/")
            .bearer(&who.access)
            .send()
            .await
            .assert_status(403);
    }
    // A HOD heading no department writes no course.
    let idle = app.user("hod").await;
    app.get("/api/courses/bulk-template/")
        .bearer(&idle.access)
        .send()
        .await
        .assert_status(403);
    app.get("/api/courses/bulk-template/")
        .send()
        .await
        .assert_status(401);
});

db_test!(csv_upload_creates_courses_prerequisites_and_topics, |app| {
    let (admin, _, dept) = setup(&app).await;
    let base = app.course(&admin, "BASE100", dept, 1, 0, 60).await;
    // COMP201 needs a later row and a stored course; codes in any case.
    let csv = format!(
        "{HEADER}\r\ncomp201,Programming II,ict,\"Loops, functions\",4,2,1,90,comp101; BASE100,Loops:120; Functions : 90\r\n\r\nCOMP101,Programming I,ICT,,,,,,,Intro:60\r\n"
    );
    let r = upload(&app, &admin, "courses.csv", csv.as_bytes(), "").await;
    r.assert_status(201);
    assert_eq!(r.json["created"], 2);
    assert_eq!(r.json["rows"][0]["row"], 2);
    assert_eq!(r.json["rows"][0]["code"], "COMP201");
    assert_eq!(r.json["rows"][0]["status"], "created");
    assert_eq!(r.json["rows"][1]["row"], 4);
    assert_eq!(r.json["rows"][1]["code"], "COMP101");
    let c201 = id_of(&r.json["rows"][0]);
    let c101 = id_of(&r.json["rows"][1]);

    let two = shown(&app, &admin, c201).await;
    assert_eq!(two["name"], "Programming II");
    assert_eq!(two["department"], dept.to_string());
    assert_eq!(two["description"], "Loops, functions");
    assert_eq!(two["credit_hours"], 4);
    assert_eq!(two["theory_sessions_per_week"], 2);
    assert_eq!(two["practical_sessions_per_week"], 1);
    assert_eq!(two["session_duration_minutes"], 90);
    let mut prerequisites: Vec<String> = two["prerequisites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    prerequisites.sort();
    let mut expected = vec![c101.to_string(), base.to_string()];
    expected.sort();
    assert_eq!(prerequisites, expected);
    assert_eq!(two["topic_count"], 2);
    assert_eq!(two["total_topic_minutes"], 210);
    let topics = app
        .get(&format!("/api/courses/{c201}/topics/"))
        .bearer(&admin.access)
        .send()
        .await;
    topics.assert_status(200);
    let listed: Vec<(String, i64, i64)> = topics.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["title"].as_str().unwrap().to_owned(),
                t["order"].as_i64().unwrap(),
                t["duration_minutes"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("Loops".to_owned(), 1, 120),
            ("Functions".to_owned(), 2, 90)
        ]
    );
    // Defaults as a create's.
    let one = shown(&app, &admin, c101).await;
    assert_eq!(one["credit_hours"], 0);
    assert_eq!(one["theory_sessions_per_week"], 1);
    assert_eq!(one["practical_sessions_per_week"], 0);
    assert_eq!(one["session_duration_minutes"], 60);
    assert_eq!(one["prerequisites"], json!([]));
    assert_eq!(one["total_topic_minutes"], 60);
    let tree = app
        .get(&format!("/api/courses/{c201}/prerequisite-tree/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(tree.json["prerequisites"].as_array().unwrap().len(), 2);
    // One audit row per course and topic, and one for the upload.
    let audit = app
        .get("/api/audit-logs/?action=bulk_create")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(audit.json["count"], 1);
    let audited = |kind: &'static str| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            app.get(&format!(
                "/api/audit-logs/?action=create&resource_type={kind}"
            ))
            .bearer(&token)
            .send()
            .await
            .json["count"]
                .clone()
        }
    };
    // BASE100 through the API, the two imported.
    assert_eq!(audited("course").await, 3);
    assert_eq!(audited("topic").await, 3);
});

db_test!(xlsx_upload_creates_courses, |app| {
    let (admin, _, dept) = setup(&app).await;
    // Columns in another order and case, numbers as number cells.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (col, title) in [
        "Session Duration Minutes",
        "CODE",
        "Name",
        "Department Code",
        "Topics",
        "Credit Hours",
    ]
    .iter()
    .enumerate()
    {
        sheet
            .write_string(0, u16::try_from(col).unwrap(), *title)
            .unwrap();
    }
    sheet.write_number(1, 0, 120.0).unwrap();
    sheet.write_string(1, 1, "NET101").unwrap();
    sheet.write_string(1, 2, "Networks").unwrap();
    sheet.write_string(1, 3, "ICT").unwrap();
    sheet.write_string(1, 4, "OSI model:45;Routing:75").unwrap();
    sheet.write_number(1, 5, 3.0).unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let r = upload(&app, &admin, "upload.bin", &bytes, "").await;
    r.assert_status(201);
    assert_eq!(r.json["created"], 1);
    assert_eq!(r.json["rows"][0]["code"], "NET101");
    let c = shown(&app, &admin, id_of(&r.json["rows"][0])).await;
    assert_eq!(c["session_duration_minutes"], 120);
    assert_eq!(c["credit_hours"], 3);
    assert_eq!(c["department"], dept.to_string());
    assert_eq!(c["topic_count"], 2);
    assert_eq!(c["total_topic_minutes"], 120);
});

db_test!(dry_run_and_bad_files_create_nothing, |app| {
    let (admin, _, _) = setup(&app).await;
    let before = course_count(&app).await;
    let csv = format!("{HEADER}\nDRY1,Dry,ICT,,,,,,DRY2,Only:30\nDRY2,Run,ICT,,,,,,,\n");
    let dry = upload(&app, &admin, "a.csv", csv.as_bytes(), "?dry_run=true").await;
    dry.assert_status(200);
    assert_eq!(dry.json["created"], 0);
    assert_eq!(dry.json["dry_run"], true);
    assert_eq!(dry.json["valid"], 2);
    assert_eq!(
        dry.json["rows"],
        json!([{"row": 2, "code": "DRY1", "status": "valid"}, {"row": 3, "code": "DRY2", "status": "valid"}])
    );
    assert_eq!(course_count(&app).await, before);
    assert_eq!(topic_count(&app).await, 0);
    upload(&app, &admin, "a.csv", csv.as_bytes(), "?dry_run=maybe")
        .await
        .assert_status(400);
    for (name, bytes) in [
        ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00binary".to_vec()),
        ("fake.xlsx", b"PK\x03\x04not really a zip".to_vec()),
        ("empty.csv", Vec::new()),
        ("header-only.csv", format!("{HEADER}\n").into_bytes()),
        (
            "missing-columns.csv",
            b"code,name\nX1,No department column\n".to_vec(),
        ),
        ("big.csv", vec![b'a'; 5 * 1024 * 1024 + 1]),
    ] {
        let r = upload(&app, &admin, name, &bytes, "").await;
        r.assert_status(400);
        assert!(r.json["file"].is_array(), "{name}: {}", r.json);
    }
    let none = app
        .post("/api/courses/bulk-upload/")
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await;
    none.assert_status(400);
    assert!(none.json["file"].is_array());
    assert_eq!(course_count(&app).await, before);
    // The same file for real.
    let r = upload(&app, &admin, "a.csv", csv.as_bytes(), "?dry_run=false").await;
    r.assert_status(201);
    assert_eq!(course_count(&app).await, before + 2);
});

db_test!(bad_rows_create_nothing, |app| {
    let (admin, _, dept) = setup(&app).await;
    app.course(&admin, "TAKEN1", dept, 1, 0, 60).await;
    let before = course_count(&app).await;
    let csv = format!(
        "{HEADER}\n\
         GOOD1,Good,ICT,,,,,,,Intro:60\n\
         good1,Duplicate,ICT,,,,,,,\n\
         TAKEN1,Stored already,ICT,,,,,,,\n\
         NODEPT,Nowhere,XYZ,,,,,,,\n\
         BADMIN,Odd length,ICT,,,,,50,,\n\
         NOPRE,Unknown prerequisite,ICT,,,,,,NOPE999,\n\
         BADTOP,Bad topics,ICT,,,,,,,Loops;Sorting:0;:30\n\
         CYCA,Cycle A,ICT,,,,,,CYCB,\n\
         CYCB,Cycle B,ICT,,,,,,CYCA,\n\
         SELF1,Itself,ICT,,two,,,,SELF1,\n\
         ,No code,ICT,,,0,0,,,\n"
    );
    let r = upload(&app, &admin, "bad.csv", csv.as_bytes(), "").await;
    r.assert_status(400);
    assert_eq!(
        r.json["detail"],
        "10 rows have errors; no course was created."
    );
    let rows = r.json["rows"].as_array().unwrap();
    let numbers: Vec<i64> = rows.iter().map(|r| r["row"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert!(rows.iter().all(|r| r["status"] == "error"));
    assert_eq!(rows[0]["code"], "good1");
    assert_eq!(
        rows[0]["errors"]["code"][0],
        "This code appears more than once in the file."
    );
    assert_eq!(
        rows[1]["errors"]["code"][0],
        "Course with this code already exists."
    );
    assert_eq!(
        rows[2]["errors"],
        json!({"department_code": ["No department has the code \"XYZ\"."]})
    );
    assert_eq!(
        rows[3]["errors"]["session_duration_minutes"][0],
        "Ensure this value is a multiple of 15."
    );
    assert!(
        rows[4]["errors"]["prerequisites"][0]
            .as_str()
            .unwrap()
            .contains("NOPE999")
    );
    assert_eq!(rows[5]["errors"]["topics"].as_array().unwrap().len(), 3);
    assert_eq!(
        rows[6]["errors"]["prerequisites"][0],
        "Circular prerequisite: CYCA \u{2192} CYCB \u{2192} CYCA."
    );
    assert_eq!(
        rows[7]["errors"]["prerequisites"][0],
        "Circular prerequisite: CYCB \u{2192} CYCA \u{2192} CYCB."
    );
    assert_eq!(
        rows[8]["errors"]["prerequisites"][0],
        "A course cannot be its own prerequisite."
    );
    assert_eq!(
        rows[8]["errors"]["credit_hours"][0],
        "A valid integer is required."
    );
    assert_eq!(rows[9]["code"], "");
    assert!(rows[9]["errors"]["code"].is_array());
    assert!(rows[9]["errors"]["non_field_errors"].is_array());
    assert_eq!(course_count(&app).await, before);
    assert_eq!(topic_count(&app).await, 0);
    // One bad row is enough to stop the good one.
    let one = format!("{HEADER}\nGOOD1,Good,ICT,,,,,,,\nTAKEN1,Again,ICT,,,,,,,\n");
    let r = upload(&app, &admin, "one.csv", one.as_bytes(), "").await;
    r.assert_status(400);
    assert_eq!(r.json["detail"], "1 row has errors; no course was created.");
    assert_eq!(r.json["rows"][0]["row"], 3);
    assert_eq!(course_count(&app).await, before);
});

db_test!(hod_imports_only_for_own_department, |app| {
    let (admin, hod, dept) = setup(&app).await;
    let other = app.department(&admin, "OTH", None, &[]).await;
    let before = course_count(&app).await;
    let csv = format!("{HEADER}\nH1,Mine,,,,,,,,\nH2,Theirs,OTH,,,,,,,\n");
    let r = upload(&app, &hod, "x.csv", csv.as_bytes(), "").await;
    r.assert_status(400);
    let rows = r.json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["row"], 3);
    assert_eq!(
        rows[0]["errors"]["department_code"][0],
        "You may only add courses to your own department."
    );
    assert_eq!(course_count(&app).await, before);
    // Blank department code: the HOD's own; an admin must name one.
    let good = format!("{HEADER}\nH1,Mine,,,,,,,,\nH3,Also mine,ict,,,,,,H1,\n");
    let ok = upload(&app, &hod, "x.csv", good.as_bytes(), "").await;
    ok.assert_status(201);
    for row in ok.json["rows"].as_array().unwrap() {
        assert_eq!(
            shown(&app, &hod, id_of(row)).await["department"],
            dept.to_string()
        );
    }
    let blank = format!("{HEADER}\nA1,No department,,,,,,,,\n");
    let r = upload(&app, &admin, "x.csv", blank.as_bytes(), "").await;
    r.assert_status(400);
    assert!(r.json["rows"][0]["errors"]["department_code"].is_array());
    // Admins and DP academics import for any department.
    let dp = app.user("dp_academics").await;
    let theirs = format!("{HEADER}\nO1,Other,OTH,,,,,,,\n");
    let r = upload(&app, &dp, "x.csv", theirs.as_bytes(), "").await;
    r.assert_status(201);
    assert_eq!(
        shown(&app, &admin, id_of(&r.json["rows"][0])).await["department"],
        other.to_string()
    );
    for role in ["trainer", "trainee"] {
        let who = app.user(role).await;
        upload(&app, &who, "x.csv", good.as_bytes(), "")
            .await
            .assert_status(403);
    }
    let (content_type, body) = multipart_file("x.csv", good.as_bytes());
    app.post("/api/courses/bulk-upload/")
        .raw(&content_type, body)
        .send()
        .await
        .assert_status(401);
    assert_eq!(course_count(&app).await, before + 3);
});
