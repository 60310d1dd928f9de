//! Contacts (contract §8, defects 22, 23): sync, list, add, delete.

use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use serde_json::{json, Map, Value};
use wa_gateway::fake_upstream::{FaultKind, FaultRule};

use crate::helpers::{json, spawn_app, spawn_app_with, TestApp, TestUser};

async fn sync(app: &TestApp, bearer: &str, token: Option<&str>) -> (u16, Value) {
    let mut r = app
        .client
        .post(app.url("/bulk/contact/sync"))
        .bearer_auth(bearer);
    if let Some(t) = token {
        r = r.header("token", t);
    }
    let resp = r.send().await.unwrap();
    let s = resp.status().as_u16();
    (s, json(resp).await)
}

fn set_contacts(app: &TestApp, u: &TestUser, contacts: Value) {
    let mut fake = app.upstream.user(&u.session_token).expect("fake user");
    fake.contacts = contacts;
    app.upstream.add_user(fake);
}

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct Row {
    #[diesel(sql_type = Text)]
    phone: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    full_name: String,
    #[diesel(sql_type = Text)]
    push_name: String,
    #[diesel(sql_type = Text)]
    source: String,
}

async fn rows(app: &TestApp, user: &str) -> Vec<Row> {
    let mut conn = app.conn().await;
    diesel::sql_query(
        r#"SELECT phone, COALESCE(name,'') AS name, COALESCE(full_name,'') AS full_name, COALESCE(push_name,'') AS push_name, source
           FROM "WhatsAppContact" WHERE user_id = $1 AND deleted_at IS NULL ORDER BY phone"#,
    )
    .bind::<Text, _>(user)
    .load(&mut conn)
    .await
    .unwrap()
}

async fn count_all(app: &TestApp, user: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct C {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = app.conn().await;
    let c: C = diesel::sql_query(
        r#"SELECT count(*) AS n FROM "WhatsAppContact" WHERE user_id = $1 AND deleted_at IS NULL"#,
    )
    .bind::<Text, _>(user)
    .get_result(&mut conn)
    .await
    .unwrap();
    c.n
}

fn assert_bulk_error(
    status: u16,
    body: &Value,
    want: u16,
    code_in_body: i64,
    message: &str,
    error_code: &str,
) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["code"], code_in_body, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["message"], message, "{body}");
    assert_eq!(body["error_code"], error_code, "{body}");
}

#[actix_web::test]
async fn contacts_sync_stores_the_address_book() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let (s, body) = sync(&app, &u.bearer, Some(&u.session_token)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["code"], 200);
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "Successfully synced 2 contacts");
    assert_eq!(body["stored"], 2);
    let data = body["data"].as_object().unwrap();
    assert_eq!(data.len(), 3, "the @lid entry is still listed");
    for entry in data.values() {
        let mut keys: Vec<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            ["BusinessName", "FirstName", "Found", "FullName", "PushName"]
        );
    }
    assert_eq!(
        data["6281234567890@s.whatsapp.net"],
        json!({"BusinessName":"","FirstName":"Budi","Found":true,"FullName":"Budi Santoso","PushName":"Budi"})
    );
    let stored = rows(&app, &u.user_id).await;
    assert_eq!(
        stored,
        vec![
            Row {
                phone: "6281234567890".into(),
                name: "Budi".into(),
                full_name: "Budi Santoso".into(),
                push_name: "Budi".into(),
                source: "sync".into()
            },
            Row {
                phone: "6289876543210".into(),
                name: "".into(),
                full_name: "".into(),
                push_name: "Toko Maju".into(),
                source: "sync".into()
            },
        ]
    );
    // Again: no duplicates.
    let (s, body) = sync(&app, &u.bearer, Some(&u.session_token)).await;
    assert_eq!(s, 200);
    assert_eq!(body["stored"], 2);
    assert_eq!(count_all(&app, &u.user_id).await, 2);

    let list = json(app.get("/bulk/contact", Some(&u.bearer)).await).await;
    assert_eq!(
        list,
        json!({"code":200,"success":true,"data":[
            {"phone":"6281234567890","full_name":"Budi Santoso","source":"sync"},
            {"phone":"6289876543210","full_name":"Toko Maju","source":"sync"}
        ]})
    );
}

#[actix_web::test]
async fn contacts_sync_never_erases_names_and_keeps_typed_ones() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let (s, _) = sync(&app, &u.bearer, Some(&u.session_token)).await;
    assert_eq!(s, 200);
    // A typed contact.
    let resp = app
        .post_json(
            "/bulk/contact/add",
            Some(&u.bearer),
            &json!({"contacts":[{"phone":"+62 811-1111-111","full_name":"Typed Name"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    set_contacts(
        &app,
        &u,
        json!({
            "6281234567890@s.whatsapp.net": {"BusinessName":"","FirstName":"","Found":true,"FullName":"","PushName":"","RedactedPhone":""},
            "628111111111@s.whatsapp.net": {"BusinessName":"","FirstName":"Up","Found":true,"FullName":"Upstream Name","PushName":"up","RedactedPhone":""},
            "weird-key": {"BusinessName":"","FirstName":"x","Found":true,"FullName":"x","PushName":"x","RedactedPhone":""},
            "999@lid": {"BusinessName":"","FirstName":"","Found":true,"FullName":"","PushName":"L","RedactedPhone":""}
        }),
    );
    let (s, body) = sync(&app, &u.bearer, Some(&u.session_token)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["stored"], 2);
    let stored = rows(&app, &u.user_id).await;
    assert_eq!(stored.len(), 3);
    let budi = stored.iter().find(|r| r.phone == "6281234567890").unwrap();
    assert_eq!(
        (
            budi.name.as_str(),
            budi.full_name.as_str(),
            budi.push_name.as_str()
        ),
        ("Budi", "Budi Santoso", "Budi")
    );
    let typed = stored.iter().find(|r| r.phone == "628111111111").unwrap();
    assert_eq!(typed.full_name, "Typed Name");
    assert_eq!(typed.source, "manual");
    assert_eq!(typed.name, "Up");
    assert_eq!(typed.push_name, "up");
}

#[actix_web::test]
async fn contacts_sync_requires_an_owned_entitled_session_token() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let other = app.create_user("bob").await;

    let (s, body) = sync(&app, &u.bearer, None).await;
    assert_bulk_error(
        s,
        &body,
        401,
        401,
        "WhatsApp session token is required",
        "session_token_required",
    );
    let (s, body) = sync(&app, &u.bearer, Some("")).await;
    assert_eq!(s, 401, "{body}");

    // Another user's session token: refused, nothing imported.
    let (s, body) = sync(&app, &u.bearer, Some(&other.session_token)).await;
    assert_bulk_error(
        s,
        &body,
        403,
        403,
        "WhatsApp session token does not belong to this user",
        "session_not_owned",
    );
    let (s, body) = sync(&app, &u.bearer, Some("tok-unknown")).await;
    assert_eq!(s, 403, "{body}");
    assert_eq!(count_all(&app, &u.user_id).await, 0);
    assert_eq!(count_all(&app, &other.user_id).await, 0);

    // Expired subscription.
    let mut conn = app.conn().await;
    diesel::sql_query(r#"UPDATE "ServicesWhatsappCustomers" SET "expiredAt" = now() - interval '1 day' WHERE "customerId" = $1"#)
        .bind::<Text, _>(&u.user_id)
        .execute(&mut conn)
        .await
        .unwrap();
    let (s, body) = sync(&app, &u.bearer, Some(&u.session_token)).await;
    assert_bulk_error(
        s,
        &body,
        403,
        403,
        "no active subscription found",
        "no_active_subscription",
    );

    // Bearer still required.
    let resp = app
        .client
        .post(app.url("/bulk/contact/sync"))
        .header("token", &u.session_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(json(resp).await["error"], "Authorization header required");
}

#[actix_web::test]
async fn contacts_sync_upstream_failures() {
    let app = spawn_app_with(|s| s.contact_sync_timeout = Duration::from_millis(500)).await;
    let u = app.create_user("alice").await;

    app.upstream.inject_fault(FaultRule::next(
        "/user/contacts",
        FaultKind::Unauthorized,
        1,
    ));
    let (s, body) = sync(&app, &u.bearer, Some(&u.session_token)).await;
    assert_bulk_error(
        s,
        &body,
        400,
        401,
        "Failed to sync contacts from WhatsApp server",
        "upstream_rejected",
    );

    app.upstream
        .inject_fault(FaultRule::next("/user/contacts", FaultKind::NoSession, 1));
    let (s, body) = sync(&app, &u.bearer, Some(&u.session_token)).await;
    assert_bulk_error(
        s,
        &body,
        400,
        500,
        "Failed to sync contacts from WhatsApp server",
        "upstream_rejected",
    );

    app.upstream.inject_fault(FaultRule::next(
        "/user/contacts",
        FaultKind::DropConnection,
        1,
    ));
    let (s, body) = sync(&app, &u.bearer, Some(&u.session_token)).await;
    assert_bulk_error(
        s,
        &body,
        502,
        502,
        "Failed to connect to WhatsApp server",
        "upstream_unreachable",
    );

    app.upstream.inject_fault(FaultRule::next(
        "/user/contacts",
        FaultKind::Hang(Duration::from_secs(3)),
        1,
    ));
    let started = Instant::now();
    let (s, body) = sync(&app, &u.bearer, Some(&u.session_token)).await;
    assert_bulk_error(
        s,
        &body,
        502,
        502,
        "Failed to connect to WhatsApp server",
        "upstream_unreachable",
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "timed out after {:?}",
        started.elapsed()
    );
    assert_eq!(count_all(&app, &u.user_id).await, 0);

    // Upstream gone entirely.
    app.upstream.stop().await;
    let (s, body) = sync(&app, &u.bearer, Some(&u.session_token)).await;
    assert_eq!(s, 502, "{body}");
}

#[actix_web::test]
async fn contacts_sync_of_10000_contacts_in_one_call() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let mut book = Map::new();
    for i in 0..10_000u64 {
        book.insert(
            format!("62812{:08}@s.whatsapp.net", i),
            json!({"BusinessName": if i % 10 == 0 { "Shop" } else { "" }, "FirstName": format!("F{i}"), "Found": true,
                   "FullName": format!("Full {i}"), "PushName": format!("P{i}"), "RedactedPhone": ""}),
        );
    }
    book.insert("123456789012345@lid".into(), json!({"BusinessName":"","FirstName":"","Found":true,"FullName":"","PushName":"L","RedactedPhone":"+62"}));
    set_contacts(&app, &u, Value::Object(book));
    let started = Instant::now();
    let (s, body) = sync(&app, &u.bearer, Some(&u.session_token)).await;
    let elapsed = started.elapsed();
    eprintln!(
        "contact sync of 10,000 contacts: {} ms",
        elapsed.as_millis()
    );
    assert_eq!(
        s,
        200,
        "{}",
        &body.to_string()[..200.min(body.to_string().len())]
    );
    assert_eq!(body["stored"], 10_000);
    assert_eq!(body["data"].as_object().unwrap().len(), 10_001);
    assert_eq!(body["message"], "Successfully synced 10000 contacts");
    assert_eq!(count_all(&app, &u.user_id).await, 10_000);

    // A second full sync updates in place.
    let started = Instant::now();
    let (s, body) = sync(&app, &u.bearer, Some(&u.session_token)).await;
    eprintln!(
        "contact re-sync of 10,000 contacts: {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(s, 200);
    assert_eq!(body["stored"], 10_000);
    assert_eq!(count_all(&app, &u.user_id).await, 10_000);

    let page = json(
        app.get("/bulk/contact?page=2&limit=100", Some(&u.bearer))
            .await,
    )
    .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 100);
}

#[actix_web::test]
async fn contacts_list_search_pagination_and_isolation() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let other = app.create_user("bob").await;
    let resp = app.get("/bulk/contact", Some(&u.bearer)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        json(resp).await,
        json!({"code":200,"success":true,"data":[]})
    );

    let resp = app
        .post_json(
            "/bulk/contact/add",
            Some(&u.bearer),
            &json!({"contacts":[
                {"phone":"628111000001","full_name":"Andi 100%"},
                {"phone":"628111000002","full_name":"Budi"},
                {"phone":"628111000003","full_name":"Citra"}
            ]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let resp = app
        .post_json(
            "/bulk/contact/add",
            Some(&other.bearer),
            &json!({"contacts":[{"phone":"628999000001","full_name":"Budi Other"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);

    let body = json(app.get("/bulk/contact", Some(&u.bearer)).await).await;
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(
        data[0],
        json!({"phone":"628111000001","full_name":"Andi 100%","source":"manual"})
    );

    let body = json(app.get("/bulk/contact?search=budi", Some(&u.bearer)).await).await;
    assert_eq!(
        body["data"],
        json!([{"phone":"628111000002","full_name":"Budi","source":"manual"}])
    );
    let body = json(
        app.get("/bulk/contact?search=000003", Some(&u.bearer))
            .await,
    )
    .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    let body = json(app.get("/bulk/contact?search=%25", Some(&u.bearer)).await).await;
    assert_eq!(
        body["data"].as_array().unwrap().len(),
        1,
        "% is literal: {body}"
    );
    let body = json(
        app.get("/bulk/contact?search=nobody", Some(&u.bearer))
            .await,
    )
    .await;
    assert_eq!(body["data"], json!([]));

    let body = json(
        app.get("/bulk/contact?page=2&limit=2", Some(&u.bearer))
            .await,
    )
    .await;
    assert_eq!(
        body["data"],
        json!([{"phone":"628111000003","full_name":"Citra","source":"manual"}])
    );
    let resp = app.get("/bulk/contact?page=0", Some(&u.bearer)).await;
    assert_eq!(resp.status(), 400);
    let resp = app.get("/bulk/contact?limit=x", Some(&u.bearer)).await;
    assert_eq!(resp.status(), 400);
}

#[actix_web::test]
async fn contacts_list_failure_is_opaque() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let mut conn = app.conn().await;
    diesel::sql_query(r#"ALTER TABLE "WhatsAppContact" RENAME TO "WhatsAppContact_gone""#)
        .execute(&mut conn)
        .await
        .unwrap();
    let resp = app.get("/bulk/contact", Some(&u.bearer)).await;
    let s = resp.status().as_u16();
    assert_bulk_error(
        s,
        &json(resp).await,
        500,
        500,
        "Failed to fetch contacts",
        "internal_error",
    );
    let resp = app
        .post_json(
            "/bulk/contact/add",
            Some(&u.bearer),
            &json!({"contacts":[{"phone":"628111000001","full_name":"A"}]}),
        )
        .await;
    let s = resp.status().as_u16();
    assert_bulk_error(
        s,
        &json(resp).await,
        500,
        500,
        "Internal server error",
        "internal_error",
    );
}

#[actix_web::test]
async fn contacts_add_normalises_and_upserts() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let resp = app
        .post_json(
            "/bulk/contact/add",
            Some(&u.bearer),
            &json!({"Contacts":[{"Phone":" +62 812-3456-789 ","Full_Name":"John Doe"},{"phone":"628555000111","full_name":"Jane"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body = json(resp).await;
    assert_eq!(body["code"], 200);
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "Processed 2 contacts (2 added, 0 updated)");
    assert_eq!(body["data"]["added_count"], 2);
    assert_eq!(body["data"]["updated_count"], 0);
    let c = &body["data"]["contacts"][0];
    let mut keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "business",
            "created_at",
            "deleted_at",
            "full_name",
            "id",
            "name",
            "notify",
            "phone",
            "push_name",
            "short",
            "source",
            "updated_at",
            "user_id",
            "verified"
        ]
    );
    assert_eq!(c["phone"], "628123456789");
    assert_eq!(c["full_name"], "John Doe");
    assert_eq!(c["source"], "manual");
    assert_eq!(c["deleted_at"], Value::Null);

    // The same number written differently updates the row.
    let resp = app
        .post_json(
            "/bulk/contact/add",
            Some(&u.bearer),
            &json!({"contacts":[{"phone":"628123456789","full_name":"John D."}]}),
        )
        .await;
    let body = json(resp).await;
    assert_eq!(body["message"], "Processed 1 contacts (0 added, 1 updated)");
    assert_eq!(body["data"]["contacts"][0]["full_name"], "John D.");
    assert_eq!(count_all(&app, &u.user_id).await, 2);

    // Duplicates inside one request count once.
    let resp = app
        .post_json(
            "/bulk/contact/add",
            Some(&u.bearer),
            &json!({"contacts":[{"phone":"628700000001","full_name":"A"},{"phone":"+628700000001","full_name":"B"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body = json(resp).await;
    assert_eq!(body["data"]["added_count"], 1);
    assert_eq!(body["data"]["contacts"][0]["full_name"], "B");
}

#[actix_web::test]
async fn contacts_add_is_all_or_nothing_and_validates() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let b = Some(u.bearer.as_str());
    let cases = [
        (json!({"contacts":[{"phone":"628111000001","full_name":"A"},{"phone":"12@lid","full_name":"B"}]}), "Invalid request: contacts[1].phone: LID identities have no phone number"),
        (json!({"contacts":[{"phone":"628111000001","full_name":"A"},{"phone":"abc","full_name":"B"}]}), "Invalid request: contacts[1].phone: phone number contains characters other than digits"),
        (json!({"contacts":[{"phone":"123","full_name":"B"}]}), "Invalid request: contacts[0].phone: phone number must have 7 to 15 digits"),
        (json!({"contacts":[{"phone":"628111000001"}]}), "Invalid request: contacts[0].full_name is required"),
        (json!({"contacts":[{"full_name":"A"}]}), "Invalid request: contacts[0].phone is required"),
        (json!({"contacts":[]}), "Invalid request: contacts must list at least one contact"),
        (json!({}), "Invalid request: contacts must list at least one contact"),
    ];
    for (body, message) in cases {
        let resp = app.post_json("/bulk/contact/add", b, &body).await;
        let s = resp.status().as_u16();
        assert_bulk_error(s, &json(resp).await, 400, 400, message, "invalid_request");
    }
    for body in [
        json!({"contacts":[{"phone":628111000001i64,"full_name":"A"}]}),
        json!({"contacts":{"phone":"628111000001"}}),
        json!({"contacts":"x"}),
        json!(5),
    ] {
        let resp = app.post_json("/bulk/contact/add", b, &body).await;
        assert_eq!(resp.status(), 400);
        let body = json(resp).await;
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid request: "),
            "{body}"
        );
    }
    for raw in ["", "{\"contacts\": [", "not json"] {
        let resp = app
            .client
            .post(app.url("/bulk/contact/add"))
            .bearer_auth(&u.bearer)
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{raw}");
        assert_eq!(json(resp).await["error_code"], "invalid_request");
    }
    assert_eq!(count_all(&app, &u.user_id).await, 0, "nothing was written");
}

#[actix_web::test]
async fn contacts_delete_normalises_and_is_per_user() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let other = app.create_user("bob").await;
    for who in [&u, &other] {
        let resp = app
            .post_json(
                "/bulk/contact/add",
                Some(&who.bearer),
                &json!({"contacts":[{"phone":"628111000001","full_name":"A"},{"phone":"628111000002","full_name":"B"}]}),
            )
            .await;
        assert_eq!(resp.status(), 200);
    }
    // Another user's numbers that this user does not have: 404, nothing deleted.
    let resp = app
        .delete_json(
            "/bulk/contact/delete",
            Some(&u.bearer),
            Some(&json!({"phone":["628999999999"]})),
        )
        .await;
    let s = resp.status().as_u16();
    assert_bulk_error(
        s,
        &json(resp).await,
        404,
        404,
        "No contacts found for the provided phone numbers",
        "contacts_not_found",
    );

    let resp = app
        .delete_json(
            "/bulk/contact/delete",
            Some(&u.bearer),
            Some(&json!({"phone":["+62 811-1000-001", "628111000002", "628000000000"]})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        json(resp).await,
        json!({"code":200,"success":true,"message":"Successfully deleted 2 contacts","data":{"deleted_count":2,"requested_count":3}})
    );
    assert_eq!(count_all(&app, &u.user_id).await, 0);
    assert_eq!(
        count_all(&app, &other.user_id).await,
        2,
        "the other user's rows are untouched"
    );
    let resp = app
        .delete_json(
            "/bulk/contact/delete",
            Some(&u.bearer),
            Some(&json!({"phone":["628111000001"]})),
        )
        .await;
    assert_eq!(resp.status(), 404);

    for body in [
        json!({"phone":[]}),
        json!({}),
        json!({"phone":"628111000001"}),
        json!({"phone":[1]}),
    ] {
        let resp = app
            .delete_json("/bulk/contact/delete", Some(&u.bearer), Some(&body))
            .await;
        assert_eq!(resp.status(), 400, "{body}");
        let b = json(resp).await;
        assert!(
            b["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid request: "),
            "{b}"
        );
    }
    let resp = app
        .delete_json("/bulk/contact/delete", Some(&u.bearer), None)
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(json(resp).await["message"], "Invalid request: EOF");
}
