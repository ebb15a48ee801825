//! The "done when", as a new user walks it (contract §9, flows 1
//! and 2): an administrator sets up a school with a bulk trainee upload,
//! registers trainers' faces, enrols class groups; every clash is refused
//! with its conflicts and suggestions while a free slot is accepted; a
//! generated timetable for the whole term has zero conflicts, is reviewed
//! and published, and trainers and trainees see it in `my_schedule` and as a
//! PDF grid.

use crate::common::*;

/// A CSV file as a multipart body under `file`.
fn csv_upload(csv: &str) -> kernel::testing::Multipart {
    kernel::testing::Multipart::new().file("file", "trainees.csv", "text/csv", csv.as_bytes())
}

/// One photo from the face_recognition test images, when they are here.
fn photo(name: &str) -> Option<Vec<u8>> {
    let dir = std::env::var("CAMPUS_TEST_FACE_IMAGES").ok()?;
    std::fs::read(std::path::Path::new(&dir).join(name)).ok()
}

fn image_upload(bytes: &[u8]) -> kernel::testing::Multipart {
    kernel::testing::Multipart::new().file("image", "face.jpg", "image/jpeg", bytes)
}

async fn created(app: &TestApp, admin: &Actor, path: &str, body: Value) -> Value {
    let r = app
        .post(path)
        .bearer(&admin.access)
        .json(&body)
        .send()
        .await;
    assert_eq!(r.status, 201, "POST {path}: {}", r.json);
    r.json
}

db_test!(
    an_administrator_sets_up_a_school_and_publishes_a_generated_timetable,
    settings = crate::faces::face_settings(),
    |app| {
        let admin = app.admin().await;

        // Flow 1: the school, staff, departments.
        app.school(&admin).await;
        let mut staff = Vec::new();
        for (role, first) in [
            ("hod", "Hana"),
            ("trainer", "Tom"),
            ("trainer", "Tess"),
            ("trainer", "Theo"),
        ] {
            let user = created(
                &app,
                &admin,
                "/api/users/",
                json!({
                    "email": format!("{first}-{}@example.org", tag()).to_lowercase(),
                    "first_name": first, "last_name": "Staff", "role": role,
                    "password": PASSWORD, "email_verified": true,
                }),
            )
            .await;
            staff.push(user);
        }
        let hod = app
            .sign_in(staff[0]["email"].as_str().unwrap(), PASSWORD)
            .await;
        let trainer_ids: Vec<Value> = staff[1..].iter().map(|u| u["id"].clone()).collect();
        let department = created(&app, &admin, "/api/departments/", json!({
        "name": "Information Technology", "code": "ict", "hod": hod.id, "trainers": trainer_ids,
    })).await;
        assert_eq!(department["code"], "ICT");
        let department = id_of(&department);
        let programme = app.programme(&admin, department, 2).await;
        let year = app.academic_year_with_terms(&admin).await;
        let term = year.terms[0];
        let groups = [
            app.class_group(&admin, "IT-1A", programme, year.id, &[])
                .await,
            app.class_group(&admin, "IT-1B", programme, year.id, &[])
                .await,
        ];

        // A bulk trainee upload puts trainees straight into their class groups.
        let mut csv =
            String::from("email,first_name,last_name,role,admission_number,class_group\n");
        for i in 0..6 {
            let group = if i % 2 == 0 { "IT-1A" } else { "IT-1B" };
            csv.push_str(&format!(
                "trainee{i}-{}@example.org,Trainee,Number{i},trainee,ADM/{i}/{},{group}\n",
                tag(),
                tag()
            ));
        }
        let r = app
            .post("/api/users/bulk-upload/")
            .bearer(&admin.access)
            .multipart(csv_upload(&csv))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.json);
        assert_eq!(r.json["created"], 6);
        let r = app
            .get(&format!("/api/class-groups/{}/", groups[0]))
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["trainee_count"], 3);
        // Invitations go out through the job queue.
        assert!(app.run_jobs().await >= 6);

        // Trainers' faces from real photos (when the verifier is installed).
        if let Some(face) = photo("obama.jpg") {
            let r = app
                .post(&format!(
                    "/api/users/{}/face/",
                    staff[1]["id"].as_str().unwrap()
                ))
                .bearer(&admin.access)
                .multipart(image_upload(&face))
                .send()
                .await;
            assert_eq!(r.status, 201, "{}", r.json);
            assert_eq!(r.json["has_face"], true);
        } else {
            assert!(
                std::env::var("CI").is_err(),
                "CI must provide CAMPUS_TEST_FACE_IMAGES"
            );
        }

        // Rooms, courses, the curriculum and the enrollments.
        for (name, kind, capacity) in [
            ("B12", "classroom", 40),
            ("B13", "classroom", 40),
            ("LAB1", "computer_lab", 30),
            ("LAB2", "computer_lab", 30),
        ] {
            created(
                &app,
                &admin,
                "/api/rooms/",
                json!({
                    "name": name, "room_type": kind, "capacity": capacity,
                    "latitude": -1.2921, "longitude": 36.8219,
                }),
            )
            .await;
        }
        let rooms: Value = app
            .get("/api/rooms/")
            .bearer(&admin.access)
            .send()
            .await
            .json;
        let room = |name: &str| -> String {
            rooms["results"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == name)
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let trainers: Vec<Actor> = {
            let mut out = Vec::new();
            for user in &staff[1..] {
                out.push(app.sign_in(user["email"].as_str().unwrap(), PASSWORD).await);
            }
            out
        };
        let mut enrollments = Vec::new();
        for code in ["COMP101", "COMP102", "COMP103"] {
            let course = app.course(&admin, code, department, 2, 1, 60).await;
            app.mapping(&admin, programme, course, 1).await;
            for group in groups {
                // Tom (mornings on Mondays only) takes the first; Tess and Theo the rest.
                let trainer = match enrollments.len() {
                    0 => &trainers[0],
                    n => &trainers[1 + n % 2],
                };
                enrollments.push(
                    app.enrollment(&admin, group, course, &year, term, Some(trainer))
                        .await,
                );
            }
        }
        // Tom teaches mornings only.
        let r = app
        .post("/api/trainer-availability/")
        .bearer(&trainers[0].access)
        .json(&json!({"day_of_week": "monday", "start_time": "08:00", "end_time": "13:00", "term": term}))
        .send()
        .await;
        r.assert_status(201);

        // Flow 2, by hand: a free slot is accepted ...
        let tom_enrollment = {
            let r = app
                .get(&format!(
                    "/api/enrollments/?trainer={}&term={term}",
                    trainers[0].id
                ))
                .bearer(&admin.access)
                .send()
                .await;
            r.assert_status(200);
            r.json["results"][0].clone()
        };
        let first = app
        .post("/api/timetable/")
        .bearer(&admin.access)
        .json(&json!({
            "course_enrollment": tom_enrollment["id"], "day_of_week": "Monday",
            "start_time": "08:00", "end_time": "09:00", "room": room("B12"), "session_type": "theory",
        }))
        .send()
        .await;
        assert_eq!(first.status, 201, "{}", first.json);
        // ... and every clash is refused with its conflicts and suggestions.
        let clash = app
        .post("/api/timetable/")
        .bearer(&admin.access)
        .json(&json!({
            "enrollment": tom_enrollment["id"], "day_of_week": "monday",
            "start_time": "08:30", "end_time": "09:30", "room": room("B12"), "session_type": "theory",
        }))
        .send()
        .await;
        clash.assert_status(400);
        let kinds: Vec<&str> = clash.json["conflicts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        for kind in ["room_conflict", "trainer_conflict", "class_group_conflict"] {
            assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
        }
        assert_eq!(
            clash.json["non_field_errors"].as_array().unwrap().len(),
            kinds.len()
        );
        assert!(
            !clash.json["suggestions"]["slots"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        let unavailable = app
        .post("/api/timetable/")
        .bearer(&admin.access)
        .json(&json!({
            "enrollment": tom_enrollment["id"], "day_of_week": "monday",
            "start_time": "14:00", "end_time": "15:00", "room": room("B13"), "session_type": "theory",
        }))
        .send()
        .await;
        unavailable.assert_status(400);
        assert_eq!(
            unavailable.json["conflicts"][0]["type"],
            "trainer_unavailable"
        );
        // The hand-made entry is published so generation must work around it.
        let entry = id_of(&first.json);
        app.post(&format!("/api/timetable/{entry}/publish/"))
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(200);

        // Generation for the whole term, reviewed, then published.
        let r = app
            .post("/api/timetable-generation/generate/")
            .bearer(&admin.access)
            .json(&json!({"term_id": term, "seed": 7}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        let report = &r.json["report"];
        assert_eq!(report["unplaced"], json!([]));
        assert_eq!(report["requested_sessions"], report["placed_sessions"]);
        let version = report["draft_version"].as_str().unwrap().to_owned();
        let summary = app
            .get(&format!(
                "/api/timetable/draft_summary/?draft_version={version}"
            ))
            .bearer(&admin.access)
            .send()
            .await;
        summary.assert_status(200);
        // Every generated entry passes the conflict check on its own.
        let drafts = app
            .get(&format!(
                "/api/timetable/?draft_version={version}&page_size=100"
            ))
            .bearer(&admin.access)
            .send()
            .await;
        drafts.assert_status(200);
        for entry in drafts.json["results"].as_array().unwrap() {
            let r = app
            .post("/api/timetable/conflicts/")
            .bearer(&admin.access)
            .json(&json!({
                "id": entry["id"], "enrollment": entry["enrollment"], "day_of_week": entry["day_of_week"],
                "start_time": entry["start_time"], "end_time": entry["end_time"], "room": entry["room"],
                "session_type": entry["session_type"],
            }))
            .send()
            .await;
            r.assert_status(200);
            assert_eq!(
                r.json["has_conflicts"], false,
                "{entry} conflicts: {}",
                r.json
            );
        }
        let published = app
            .post("/api/timetable/publish_draft/")
            .bearer(&admin.access)
            .json(&json!({"draft_version": version}))
            .send()
            .await;
        assert_eq!(published.status, 200, "{}", published.json);
        assert!(published.json["published_count"].as_u64().unwrap() > 0);

        // Trainers and trainees see it.
        let today = chrono::Utc::now().date_naive();
        let range = format!(
            "start_date={today}&end_date={}",
            today + chrono::Days::new(6)
        );
        let mine = app
            .get(&format!("/api/timetable/my_schedule/?{range}"))
            .bearer(&trainers[1].access)
            .send()
            .await;
        mine.assert_status(200);
        let sessions: usize = mine
            .json
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["sessions"].as_array().unwrap().len())
            .sum();
        assert!(sessions > 0, "{}", mine.json);
        // A trainee added by hand to IT-1A sees the class group's sessions.
        let trainee = created(&app, &admin, "/api/users/", json!({
        "email": format!("tina-{}@example.org", tag()), "first_name": "Tina", "last_name": "Trainee",
        "role": "trainee", "password": PASSWORD, "email_verified": true,
    })).await;
        let r = app
            .post(&format!("/api/class-groups/{}/trainees/", groups[0]))
            .bearer(&admin.access)
            .json(&json!({"trainee_ids": [trainee["id"]]}))
            .send()
            .await;
        assert!(r.status.is_success(), "{}", r.json);
        let tina = app
            .sign_in(trainee["email"].as_str().unwrap(), PASSWORD)
            .await;
        let hers = app
            .get(&format!("/api/timetable/my_schedule/?{range}"))
            .bearer(&tina.access)
            .send()
            .await;
        hers.assert_status(200);
        let sessions: usize = hers
            .json
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["sessions"].as_array().unwrap().len())
            .sum();
        assert!(sessions > 0, "{}", hers.json);

        // … and as a PDF grid of the week: the trainee their class group's,
        // the trainer their own.
        let grids = [
            (&tina, format!("class_group={}", groups[0])),
            (&trainers[1], format!("trainer={}", trainers[1].id)),
        ];
        for (who, subject) in grids {
            let r = app
                .get(&format!(
                    "/api/timetable/export/?term={term}&{subject}&format=pdf"
                ))
                .bearer(&who.access)
                .send()
                .await;
            r.assert_status(200);
            assert_eq!(r.header("content-type"), Some("application/pdf"));
            let text = kernel::pdf::text_of(&r.body);
            assert!(text.contains("Published timetable"), "{text}");
            assert!(text.contains("Monday\n"), "{text}");
            assert!(text.contains("Page 1 of "), "{text}");
            let schedule = if subject.starts_with("class") {
                &hers.json
            } else {
                &mine.json
            };
            for course in course_names(schedule) {
                assert!(text.contains(&course), "{course} not in {text}");
            }
        }
    }
);

/// The courses of a `my_schedule` answer.
fn course_names(schedule: &Value) -> Vec<String> {
    let mut names: Vec<String> = schedule
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["sessions"].as_array().unwrap().iter())
        .map(|s| s["course_name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}
