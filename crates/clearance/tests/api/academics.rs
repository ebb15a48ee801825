//! `/api/academics/…` and student records that point to them.

use crate::common::*;

db_test!(
    academic_structure_is_read_by_all_and_written_by_admins,
    |app| {
        let admin = app.admin().await;
        let (student, student_id) = app.student(&admin, "SCE/CS/0001/2022").await;
        let r = app
            .post("/api/academics/schools/")
            .bearer(&student.access)
            .json(&json!({"name": "Engineering", "code": "sce"}))
            .send()
            .await;
        r.assert_status(403);
        let r = app
            .post("/api/academics/schools/")
            .bearer(&admin.access)
            .json(&json!({"name": "Engineering", "code": "sce", "email": "dean@mksu.ac.ke"}))
            .send()
            .await;
        r.assert_status(201);
        assert_eq!(r.json["code"], "SCE");
        let school = r.json["id"].as_str().unwrap().to_owned();
        assert_eq!(app.audit_rows("create", &school).await.len(), 1);
        let r = app
            .post("/api/academics/schools/")
            .bearer(&admin.access)
            .json(&json!({"name": "Again", "code": "SCE"}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(
            r.json,
            json!({"code": ["An entry with this code already exists."]})
        );

        let r = app
            .post("/api/academics/departments/")
            .bearer(&admin.access)
            .json(&json!({"name": "Computing", "code": "CS"}))
            .send()
            .await;
        assert_eq!(r.json, json!({"school": ["This field is required."]}));
        let r = app
            .post("/api/academics/departments/")
            .bearer(&admin.access)
            .json(&json!({"name": "Computing", "code": "CS", "school": school}))
            .send()
            .await;
        r.assert_status(201);
        let department = r.json["id"].as_str().unwrap().to_owned();
        let r = app.post("/api/academics/courses/").bearer(&admin.access).json(&json!({"name": "BSc CS", "code": "BSCCS", "department": department, "duration_years": 0})).send().await;
        assert_eq!(
            r.json,
            json!({"duration_years": ["Ensure this value is greater than or equal to 1."]})
        );
        let r = app
            .post("/api/academics/courses/")
            .bearer(&admin.access)
            .json(&json!({"name": "BSc CS", "code": "BSCCS", "department": department}))
            .send()
            .await;
        r.assert_status(201);
        assert_eq!(r.json["duration_years"], 4);
        let course = r.json["id"].as_str().unwrap().to_owned();

        for path in [
            "/api/academics/schools/",
            "/api/academics/departments/",
            "/api/academics/courses/",
        ] {
            let r = app.get(path).bearer(&student.access).send().await;
            r.assert_status(200);
            assert_eq!(r.json["count"], 1, "{path}");
            app.get(path).send().await.assert_status(401);
        }
        let r = app
            .get(&format!("/api/academics/departments/?school={school}"))
            .bearer(&student.access)
            .send()
            .await;
        assert_eq!(r.json["count"], 1);
        app.get(&format!("/api/academics/courses/{course}/"))
            .bearer(&student.access)
            .send()
            .await
            .assert_status(200);
        app.get("/api/academics/courses/nope/")
            .bearer(&student.access)
            .send()
            .await
            .assert_status(404);

        // A student record can now point to them.
        let r = app
            .patch(&format!("/api/students/{student_id}/"))
            .bearer(&admin.access)
            .json(&json!({"school": school, "department": department, "course": course}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["course"], course.as_str());
        let r = app
            .get(&format!("/api/students/?course={course}"))
            .bearer(&admin.access)
            .send()
            .await;
        assert_eq!(r.json["count"], 1);
        // Removing the school clears the student's links (SET NULL) but keeps the record.
        app.delete(&format!("/api/academics/schools/{school}/"))
            .bearer(&student.access)
            .send()
            .await
            .assert_status(403);
        app.delete(&format!("/api/academics/schools/{school}/"))
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(204);
        let r = app
            .get(&format!("/api/students/{student_id}/"))
            .bearer(&admin.access)
            .send()
            .await;
        assert_eq!(r.json["school"], Value::Null);
        assert_eq!(r.json["course"], Value::Null);
    }
);

db_test!(
    every_academic_list_filters_searches_orders_and_deletes_alike,
    |app| {
        let admin = app.admin().await;
        let post = |path: &'static str, body: Value| {
            let admin = admin.clone();
            let app = &app;
            async move {
                let r = app
                    .post(path)
                    .bearer(&admin.access)
                    .json(&body)
                    .send()
                    .await;
                r.assert_status(201);
                r.json["id"].as_str().unwrap().to_owned()
            }
        };
        let school = post(
            "/api/academics/schools/",
            json!({"name": "Science", "code": "SCI"}),
        )
        .await;
        let other = post(
            "/api/academics/schools/",
            json!({"name": "Arts", "code": "ART", "is_active": false}),
        )
        .await;
        let maths = post(
            "/api/academics/departments/",
            json!({"name": "Mathematics", "code": "MAT", "school": school}),
        )
        .await;
        let physics = post(
            "/api/academics/departments/",
            json!({"name": "Physics", "code": "PHY", "school": school}),
        )
        .await;
        post(
            "/api/academics/departments/",
            json!({"name": "History", "code": "HIS", "school": other}),
        )
        .await;
        let stats = post(
            "/api/academics/courses/",
            json!({"name": "BSc Statistics", "code": "BST", "department": maths}),
        )
        .await;
        post(
            "/api/academics/courses/",
            json!({"name": "BSc Actuarial", "code": "BAC", "department": maths}),
        )
        .await;
        post(
            "/api/academics/courses/",
            json!({"name": "BSc Physics", "code": "BPH", "department": physics}),
        )
        .await;

        let names = |r: &kernel::testing::TestResponse| -> Vec<String> {
            r.json["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["code"].as_str().unwrap().to_owned())
                .collect()
        };
        let get = |path: String| {
            let admin = admin.clone();
            let app = &app;
            async move {
                let r = app.get(&path).bearer(&admin.access).send().await;
                r.assert_status(200);
                r
            }
        };
        assert_eq!(
            names(&get("/api/academics/schools/?is_active=true".into()).await),
            ["SCI"]
        );
        assert_eq!(
            names(&get(format!("/api/academics/departments/?school={school}")).await),
            ["MAT", "PHY"]
        );
        assert_eq!(
            names(&get("/api/academics/departments/?search=hist".into()).await),
            ["HIS"]
        );
        assert_eq!(
            names(&get(format!("/api/academics/courses/?department={maths}")).await),
            ["BAC", "BST"]
        );
        assert_eq!(
            names(&get("/api/academics/courses/?ordering=-code".into()).await),
            ["BST", "BPH", "BAC"]
        );
        assert_eq!(
            names(&get("/api/academics/courses/?search=phys".into()).await),
            ["BPH"]
        );
        app.get("/api/academics/courses/?department=nope")
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(400);

        // Deleting a course or a department is audited like a school.
        for path in [
            format!("/api/academics/courses/{stats}/"),
            format!("/api/academics/departments/{physics}/"),
        ] {
            app.delete(&path)
                .bearer(&admin.access)
                .send()
                .await
                .assert_status(204);
            app.delete(&path)
                .bearer(&admin.access)
                .send()
                .await
                .assert_status(404);
        }
        assert_eq!(app.audit_rows("delete", &stats).await.len(), 1);
        assert_eq!(app.audit_rows("delete", &physics).await.len(), 1);
        // The physics course went with its department.
        assert_eq!(names(&get("/api/academics/courses/".into()).await), ["BAC"]);
    }
);
