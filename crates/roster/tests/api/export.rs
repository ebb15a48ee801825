//! The weekly grid export (contract §4): `GET /api/timetable/export/` as
//! PDF, XLSX and CSV for a class group, a trainer and a room; who may export
//! which grid; bad parameters.

use std::io::Cursor;

use calamine::{Reader, Xlsx};

use crate::common::*;
use crate::timetable::{ENTRIES, body, entry, tt};

const EXPORT: &str = "/api/timetable/export/";

async fn publish(app: &TestApp, admin: &Actor, id: Uuid) {
    app.post(&format!("{ENTRIES}{id}/publish/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);
}

/// The rows of a CSV body.
fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    text.split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split(',')
                .map(|c| c.trim_matches('"').to_owned())
                .collect()
        })
        .collect()
}

db_test!(weekly_grids_as_pdf_xlsx_and_csv, |app| {
    let t = tt(&app).await;
    let admin = &t.e.admin;
    let term = t.e.year.terms[0];
    app.post("/api/timetable-settings/")
        .bearer(&admin.access)
        .json(&json!({"term": term, "breaks": [{"name": "Tea", "start": "10:00", "end": "10:30"}]}))
        .send()
        .await
        .assert_status(201);
    let long = id_of(
        &entry(
            &app,
            admin,
            body(t.e.enrollment, t.b12, "monday", "08:00", "10:00"),
        )
        .await,
    );
    let short = id_of(
        &entry(
            &app,
            admin,
            body(t.comp102, t.big, "tuesday", "11:00", "12:00"),
        )
        .await,
    );
    publish(&app, admin, long).await;
    publish(&app, admin, short).await;
    // A draft on Wednesday is nobody's published week.
    entry(
        &app,
        admin,
        body(t.comp102, t.b12, "wednesday", "14:00", "15:00"),
    )
    .await;

    // A trainee's class group, as PDF (the default format).
    let trainee = &t.e.trainees[0];
    let url = format!("{EXPORT}?term={term}&class_group={}", t.e.class_group);
    let r = app.get(&url).bearer(&trainee.access).send().await;
    r.assert_status(200);
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains("timetable-cs-1a-term-1.pdf")
    );
    let text = kernel::pdf::text_of(&r.body);
    assert!(text.starts_with("Timetable: CS-1A (Term 1)\n"), "{text}");
    for expected in [
        "Published timetable",
        "2 weekly sessions · 3h00 a week",
        "Monday\n",
        "Friday\n",
        "08:00–09:00\n",
        "COMP101 Course COMP101\nB12 (Main) ·",
        "COMP101 (cont.)\n",
        "10:00–10:30\n",
        "Tea\n",
        "COMP102 Course COMP102\nHALL (Main) ·",
        "Page 1 of 1\n",
    ] {
        assert!(text.contains(expected), "{expected:?} not in {text}");
    }
    // The Wednesday draft is not in it.
    assert_eq!(text.matches("COMP102 Course COMP102").count(), 1, "{text}");

    // The same week as CSV: a header, then one row per time band.
    let r = app
        .get(&format!("{url}&format=csv"))
        .bearer(&trainee.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    let rows = csv_rows(&r.body);
    assert_eq!(
        rows[0],
        [
            "Time",
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday"
        ]
    );
    assert_eq!(rows[1][0], "08:00–09:00");
    assert!(rows[1][1].starts_with("COMP101 Course COMP101 / B12 (Main)"));
    assert_eq!(rows[2][1], "COMP101 (cont.)");
    assert_eq!(rows[3][0], "10:00–10:30");
    assert!(rows[3][1..].iter().all(|c| c == "Tea"));
    let eleven = rows.iter().find(|r| r[0] == "11:00–12:00").unwrap();
    assert!(eleven[2].starts_with("COMP102"));
    assert_eq!(rows.last().unwrap()[0], "16:00–17:00");

    // As XLSX, for the trainer: the grid with the session merged over its
    // two rows, and the sessions listed.
    let trainer = &t.e.trainer;
    let r = app
        .get(&format!(
            "{EXPORT}?term={term}&trainer={}&format=xlsx",
            trainer.id
        ))
        .bearer(&trainer.access)
        .send()
        .await;
    r.assert_status(200);
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(r.body.clone())).unwrap();
    assert_eq!(book.sheet_names(), ["Timetable", "Sessions"]);
    let grid = book.worksheet_range("Timetable").unwrap();
    let cells: Vec<Vec<String>> = grid
        .rows()
        .map(|r| r.iter().map(ToString::to_string).collect())
        .collect();
    assert!(cells[0][0].starts_with("Timetable: "));
    let header = cells.iter().position(|r| r[0] == "Time").unwrap();
    assert_eq!(cells[header + 1][0], "08:00–09:00");
    assert!(cells[header + 1][1].starts_with("COMP101 Course COMP101\nCS-1A · B12"));
    let merged = book.merge_cells_by_sheet_name("Timetable").unwrap();
    assert_eq!(merged.len(), 1, "{merged:?}");
    let sessions = book.worksheet_range("Sessions").unwrap();
    assert_eq!(sessions.height(), 3);

    // A room's week, for a HOD of the department.
    let r = app
        .get(&format!("{EXPORT}?term={term}&room={}&format=csv", t.big))
        .bearer(&t.e.hod.access)
        .send()
        .await;
    r.assert_status(200);
    let rows = csv_rows(&r.body);
    let eleven = rows.iter().find(|r| r[0] == "11:00–12:00").unwrap();
    assert!(eleven[2].contains("CS-1A"));
    assert!(
        rows.iter()
            .skip(1)
            .all(|r| r[1].is_empty() || r[1] == "Tea")
    );

    // A generated version reviewed before publishing: only its entries.
    let r = app
        .get(&format!("{url}&format=csv&draft_version=T9-none"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert!(
        csv_rows(&r.body)
            .iter()
            .skip(1)
            .all(|r| r[1..].iter().all(|c| c.is_empty() || c == "Tea"))
    );
});

/// A second department, BUS, with its HOD, a trainer and class group BUS-1A.
struct Other {
    hod: Actor,
    trainer: Actor,
    class_group: Uuid,
}

impl Other {
    async fn new(app: &TestApp, t: &crate::timetable::Tt) -> Self {
        let admin = &t.e.admin;
        let hod = app.user("hod").await;
        let trainer = app.user("trainer").await;
        let department = app.department(admin, "BUS", Some(&hod), &[&trainer]).await;
        let programme = app.programme(admin, department, 2).await;
        let class_group = app
            .class_group(admin, "BUS-1A", programme, t.e.year.id, &[])
            .await;
        Self {
            hod,
            trainer,
            class_group,
        }
    }
}

db_test!(who_may_export_which_grid, |app| {
    let t = tt(&app).await;
    let term = t.e.year.terms[0];
    let trainee = &t.e.trainees[0];
    let other = Other::new(&app, &t).await;
    let cases = [
        // A trainee: own class group only; no trainer or room grids; no drafts.
        (trainee, format!("class_group={}", t.e.class_group), 200),
        (trainee, format!("class_group={}", other.class_group), 400),
        (trainee, format!("trainer={}", t.e.trainer.id), 403),
        (trainee, format!("room={}", t.b12), 403),
        (
            trainee,
            format!("class_group={}&draft_version=T1-x", t.e.class_group),
            403,
        ),
        // A trainer: their own week and their class groups.
        (&t.e.trainer, format!("trainer={}", t.e.trainer.id), 200),
        (&t.e.trainer, format!("trainer={}", other.trainer.id), 400),
        (
            &t.e.trainer,
            format!("class_group={}", other.class_group),
            400,
        ),
        (&t.e.trainer, format!("room={}", t.b12), 200),
        // A HOD: their department's trainers and class groups.
        (&t.e.hod, format!("trainer={}", t.e.trainer.id), 200),
        (&t.e.hod, format!("trainer={}", other.trainer.id), 400),
        (&t.e.hod, format!("class_group={}", other.class_group), 400),
        (&other.hod, format!("class_group={}", t.e.class_group), 400),
        // The administrator: anyone's.
        (
            &t.e.admin,
            format!("class_group={}", other.class_group),
            200,
        ),
        (&t.e.admin, format!("trainer={}", other.trainer.id), 200),
        // A trainee is no trainer.
        (&t.e.admin, format!("trainer={}", trainee.id), 400),
    ];
    for (who, query, status) in cases {
        let r = app
            .get(&format!("{EXPORT}?term={term}&{query}&format=csv"))
            .bearer(&who.access)
            .send()
            .await;
        assert_eq!(r.status, status, "{query}: {}", r.json);
        if status == 400 {
            let field = query.split('=').next().unwrap();
            assert!(r.json[field].is_array(), "{query}: {}", r.json);
        }
    }
    app.get(&format!("{EXPORT}?class_group={}", t.e.class_group))
        .send()
        .await
        .assert_status(401);
});

db_test!(bad_export_parameters, |app| {
    let t = tt(&app).await;
    let admin = &t.e.admin;
    let group = t.e.class_group;
    let term = t.e.year.terms[0];
    let cases = [
        (String::new(), "non_field_errors"),
        (
            format!("class_group={group}&room={}", t.b12),
            "non_field_errors",
        ),
        ("class_group=not-a-uuid".to_owned(), "class_group"),
        (format!("class_group={}", Uuid::new_v4()), "class_group"),
        (format!("room={}", Uuid::new_v4()), "room"),
        (format!("class_group={group}&format=docx"), "format"),
        (format!("class_group={group}&term=2026"), "term"),
        (
            format!("class_group={group}&term={}", Uuid::new_v4()),
            "term",
        ),
    ];
    for (query, field) in cases {
        let r = app
            .get(&format!("{EXPORT}?{query}"))
            .bearer(&admin.access)
            .send()
            .await;
        assert_eq!(r.status, 400, "{query}: {}", r.json);
        assert!(r.json[field].is_array(), "{query}: {}", r.json);
    }
    // Without a term, the term containing today (term 1).
    let r = app
        .get(&format!("{EXPORT}?class_group={group}&format=xlsx"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains("timetable-cs-1a-term-1.xlsx")
    );
    let _ = term;
});
