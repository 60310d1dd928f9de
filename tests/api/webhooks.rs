//! `/webhook/wa` intake and the `WebhookRouter` (gateway-api.md §9, defects 24–28).

use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use wa_gateway::actors::webhook_router::DrainNow;
use wa_gateway::fake_upstream::sign_body;

use std::time::Duration;

use wa_gateway::fake_upstream::{connected_event, disconnected_event};

use crate::helpers::{eventually, json as body_json, spawn_app, spawn_app_with, TestApp, TestUser};

const FIXTURE_USER: &str = "5f2b8c9d0e1a4b3c8d7e6f5a4b3c2d1e";
const KEY: &str = "test-hmac-key-0123456789abcdef-0123";
const FIXTURES: [&str; 10] = [
    "connected",
    "disconnected",
    "logged-out",
    "message-image",
    "message-sent-text",
    "message-text-lid-reply",
    "message-text",
    "qr",
    "read-receipt-delivered",
    "read-receipt-read",
];

fn fixture(name: &str, session_key: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/upstream/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture");
    serde_json::from_str(&text.replace(FIXTURE_USER, session_key)).expect("fixture json")
}

fn json_body(event: &Value) -> Vec<u8> {
    serde_json::to_vec(event).unwrap()
}

/// The default (form) envelope of upstream.md §6.2 for a JSON-mode event object.
fn form_body(event: &Value) -> Vec<u8> {
    let mut obj = event.as_object().unwrap().clone();
    let user = obj
        .remove("userID")
        .and_then(|v| v.as_str().map(String::from));
    let inst = obj
        .remove("instanceName")
        .and_then(|v| v.as_str().map(String::from));
    let data = serde_json::to_string(&obj).unwrap();
    serde_urlencoded::to_string([
        ("instanceName", inst.unwrap_or_default()),
        ("jsonData", data),
        ("userID", user.unwrap_or_default()),
    ])
    .unwrap()
    .into_bytes()
}

async fn post(app: &TestApp, body: Vec<u8>, form: bool, sig: Option<String>) -> reqwest::Response {
    let mut req = app.client.post(app.url("/webhook/wa")).header(
        "content-type",
        if form {
            "application/x-www-form-urlencoded"
        } else {
            "application/json"
        },
    );
    if let Some(s) = sig {
        req = req.header("x-hmac-signature", s);
    }
    req.body(body).send().await.unwrap()
}

async fn drain(app: &TestApp) -> usize {
    app.actors.webhook_router.send(DrainNow).await.unwrap()
}

#[derive(QueryableByName, Debug)]
struct EventRow {
    #[diesel(sql_type = Bool)]
    processed: bool,
    #[diesel(sql_type = Bool)]
    unknown_session: bool,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    user_token: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    raw_data: Option<String>,
}

async fn events(app: &TestApp) -> Vec<EventRow> {
    let mut c = app.db.primary.get().await.unwrap();
    diesel::sql_query(
        "SELECT processed, unknown_session, last_error, user_token, raw_data FROM gen_event_webhooks ORDER BY id",
    )
    .load(&mut c)
    .await
    .unwrap()
}

#[derive(QueryableByName)]
struct One {
    #[diesel(sql_type = Nullable<Text>)]
    v: Option<String>,
}

async fn scalar(app: &TestApp, sql: &str) -> Option<String> {
    let mut c = app.db.primary.get().await.unwrap();
    let rows: Vec<One> = diesel::sql_query(sql).load(&mut c).await.unwrap();
    rows.into_iter().next().and_then(|r| r.v)
}

async fn enable_chat_log(app: &TestApp, user: &TestUser) {
    let mut c = app.db.primary.get().await.unwrap();
    diesel::sql_query(
        "INSERT INTO user_settings (user_token, chat_log_enabled) VALUES ($1, true)
         ON CONFLICT (user_token) DO UPDATE SET chat_log_enabled = true",
    )
    .bind::<Text, _>(&user.session_token)
    .execute(&mut c)
    .await
    .unwrap();
}

#[actix_web::test]
async fn every_fixture_in_both_envelopes_is_stored_and_processed() {
    let app = spawn_app().await;
    let json_user = app.create_user("jsonuser").await;
    let form_user = app.create_user("formuser").await;
    enable_chat_log(&app, &json_user).await;
    for name in FIXTURES {
        for (user, form) in [(&json_user, false), (&form_user, true)] {
            let ev = fixture(name, &user.session_key);
            let body = if form { form_body(&ev) } else { json_body(&ev) };
            let resp = post(&app, body.clone(), form, None).await;
            assert_eq!(resp.status(), 200, "{name} form={form}");
            assert_eq!(body_json(resp).await, json!({"status": "success"}));
        }
    }
    drain(&app).await;
    let rows = events(&app).await;
    assert_eq!(rows.len(), 2 * FIXTURES.len());
    for r in &rows {
        assert!(r.processed, "{r:?}");
        assert!(r.last_error.is_none(), "{r:?}");
        assert!(!r.unknown_session);
        let t = r.user_token.as_deref().unwrap();
        assert!(t == json_user.session_token || t == form_user.session_token);
    }
    // The received bytes are stored as received (form body kept url-encoded).
    assert!(rows
        .iter()
        .any(|r| r.raw_data.as_deref().unwrap().starts_with("instanceName=")));
    // Messages and chats for the JSON user (chat log on): content stored, chat_room_id set.
    let body = scalar(
        &app,
        &format!(
            "SELECT body AS v FROM whats_app_messages WHERE message_id = '3A5F0C2B9D8E7F6A1B4C' AND user_token = '{}'",
            json_user.session_token
        ),
    )
    .await;
    assert_eq!(body.as_deref(), Some("Halo, saya mau pesan 2 paket ya"));
    let orphan = scalar(
        &app,
        "SELECT count(*)::text AS v FROM chat_messages m LEFT JOIN chat_rooms r ON r.id = m.chat_room_id WHERE r.id IS NULL",
    )
    .await;
    assert_eq!(orphan.as_deref(), Some("0"));
    // The form user has chat log off (default): no content.
    let n = scalar(
        &app,
        &format!(
            "SELECT count(*)::text AS v FROM whats_app_messages WHERE user_token = '{}' AND body IS NOT NULL",
            form_user.session_token
        ),
    )
    .await;
    assert_eq!(n.as_deref(), Some("0"));
    // Sent message read by its receipt (both envelopes).
    let st = scalar(
        &app,
        &format!(
            "SELECT status AS v FROM whats_app_messages WHERE message_id = '3EB0A1B2C3D4E5F6A7B8C9' AND user_token = '{}'",
            json_user.session_token
        ),
    )
    .await;
    assert_eq!(st.as_deref(), Some("read"));
    // Last session event of the fixture list is qr → qr_waiting.
    let state = scalar(
        &app,
        &format!(
            "SELECT session_state AS v FROM whats_app_sessions WHERE user_token = '{}'",
            form_user.session_token
        ),
    )
    .await;
    assert_eq!(state.as_deref(), Some("qr_waiting"));
}

#[actix_web::test]
async fn signatures_are_verified_over_the_received_bytes() {
    let app = spawn_app_with(|s| {
        s.webhook_hmac_key = Some(secrecy::SecretString::from(KEY.to_string()));
    })
    .await;
    let user = app.create_user("signed").await;
    for form in [false, true] {
        let ev = fixture("message-text", &user.session_key);
        let body = if form { form_body(&ev) } else { json_body(&ev) };
        let resp = post(&app, body.clone(), form, None).await;
        assert_eq!(resp.status(), 401);
        assert!(body_json(resp).await["error"].is_string());
        let bad = sign_body("another-key-0123456789abcdef-01234", &body);
        assert_eq!(
            post(&app, body.clone(), form, Some(bad)).await.status(),
            401
        );
        assert_eq!(
            post(&app, body.clone(), form, Some("nothex".into()))
                .await
                .status(),
            401
        );
        assert!(
            events(&app).await.is_empty(),
            "nothing stored before a good signature"
        );
    }
    let ev = fixture("connected", &user.session_key);
    for form in [false, true] {
        let body = if form { form_body(&ev) } else { json_body(&ev) };
        let good = sign_body(KEY, &body);
        let resp = post(&app, body, form, Some(good)).await;
        assert_eq!(resp.status(), 200);
    }
    // The same event in both envelopes is one event.
    assert_eq!(events(&app).await.len(), 1);
    // The upstream.md §6.3 test vector.
    let vector = br#"{"event":{},"instanceName":"cs-team-1","type":"Connected","userID":"5f2b8c9d0e1a4b3c8d7e6f5a4b3c2d1e"}"#;
    let resp = post(
        &app,
        vector.to_vec(),
        false,
        Some("bea69dabb2f32d4166cba56c8dd312313e9377415b3e7386ae0a951aa34d1b69".into()),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let rows = events(&app).await;
    assert_eq!(rows.len(), 2);
    assert!(
        rows[1].unknown_session,
        "an unknown session is stored, flagged"
    );
}

#[actix_web::test]
async fn redeliveries_are_recognised_and_harmless() {
    let app = spawn_app().await;
    let user = app.create_user("redeliver").await;
    let ev = fixture("message-text", &user.session_key);
    for _ in 0..3 {
        assert_eq!(post(&app, json_body(&ev), false, None).await.status(), 200);
    }
    assert_eq!(post(&app, form_body(&ev), true, None).await.status(), 200);
    drain(&app).await;
    assert_eq!(post(&app, json_body(&ev), false, None).await.status(), 200);
    drain(&app).await;
    assert_eq!(events(&app).await.len(), 1);
    let unread = scalar(
        &app,
        &format!(
            "SELECT unread_count::text AS v FROM chat_rooms WHERE user_token = '{}'",
            user.session_token
        ),
    )
    .await;
    assert_eq!(unread.as_deref(), Some("1"));
}

#[actix_web::test]
async fn malformed_bodies_are_4xx_with_an_error() {
    let app = spawn_app_with(|s| s.webhook_max_body_bytes = 64 * 1024).await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", b"".to_vec()),
        ("application/json", b"{".to_vec()),
        ("application/json", b"[]".to_vec()),
        ("application/json", b"null".to_vec()),
        ("application/json", br#"{"event":{}}"#.to_vec()),
        ("application/json", br#"{"type":5,"event":{}}"#.to_vec()),
        (
            "application/json",
            br#"{"type":"Message","event":[1]}"#.to_vec(),
        ),
        ("application/json", vec![0xff, 0xfe, b'{']),
        ("application/x-www-form-urlencoded", b"userID=x".to_vec()),
        (
            "application/x-www-form-urlencoded",
            b"jsonData=notjson".to_vec(),
        ),
        ("text/plain", b"hello".to_vec()),
    ];
    for (ct, body) in cases {
        let resp = app
            .client
            .post(app.url("/webhook/wa"))
            .header("content-type", ct)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{:?}", String::from_utf8_lossy(&body));
        assert!(body_json(resp).await["error"].is_string());
    }
    let big = format!(
        r#"{{"type":"X","event":{{"pad":"{}"}}}}"#,
        "a".repeat(70 * 1024)
    );
    let resp = post(&app, big.into_bytes(), false, None).await;
    assert_eq!(resp.status(), 413);
    assert!(events(&app).await.is_empty());
    // The reference's own shape is accepted (token → session), a string event too.
    let user = app.create_user("refshape").await;
    let body = json!({"type": "Connected", "event": {}, "token": user.session_token});
    assert_eq!(
        post(&app, json_body(&body), false, None).await.status(),
        200
    );
    drain(&app).await;
    let rows = events(&app).await;
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].unknown_session);
}

#[actix_web::test]
async fn a_read_before_its_delivered_stays_read() {
    let app = spawn_app().await;
    let user = app.create_user("ooo").await;
    for name in [
        "read-receipt-read",
        "read-receipt-delivered",
        "message-sent-text",
    ] {
        let ev = fixture(name, &user.session_key);
        assert_eq!(post(&app, json_body(&ev), false, None).await.status(), 200);
        drain(&app).await;
    }
    let q = |t: &str| {
        format!(
            "SELECT {t} AS v FROM whats_app_messages WHERE message_id = '3EB0A1B2C3D4E5F6A7B8C9'"
        )
    };
    assert_eq!(scalar(&app, &q("status")).await.as_deref(), Some("read"));
    let cm = scalar(
        &app,
        "SELECT status || (read_at IS NOT NULL)::text AS v FROM chat_messages WHERE message_id = '3EB0A1B2C3D4E5F6A7B8C9'",
    )
    .await;
    assert_eq!(cm.as_deref(), Some("readtrue"));
    // A late Delivered does not move it back.
    let mut ev = fixture("read-receipt-delivered", &user.session_key);
    ev["event"]["Timestamp"] = json!("2025-01-15T04:00:00Z");
    assert_eq!(post(&app, json_body(&ev), false, None).await.status(), 200);
    drain(&app).await;
    assert_eq!(scalar(&app, &q("status")).await.as_deref(), Some("read"));
}

#[actix_web::test]
async fn connection_events_track_session_state() {
    let app = spawn_app().await;
    let user = app.create_user("conn").await;
    let q = format!(
        "SELECT session_state || connected::text || logged_in::text AS v FROM whats_app_sessions WHERE user_token = '{}'",
        user.session_token
    );
    for (name, want) in [
        ("connected", "connectedtruetrue"),
        ("disconnected", "disconnectedfalsetrue"),
        ("connected", "connectedtruetrue"),
        ("logged-out", "logged_outfalsefalse"),
    ] {
        let mut ev = fixture(name, &user.session_key);
        // Distinct events (otherwise the second Connected is a redelivery).
        ev["event"]["seq"] = json!(uuid::Uuid::new_v4().to_string());
        assert_eq!(post(&app, json_body(&ev), false, None).await.status(), 200);
        drain(&app).await;
        assert_eq!(scalar(&app, &q).await.as_deref(), Some(want), "{name}");
    }
}

#[actix_web::test]
async fn verification_handshake() {
    let app = spawn_app().await;
    let resp = app.get("/webhook/wa", None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        body_json(resp).await,
        json!({"message": "Webhook verification disabled"})
    );
    let app = spawn_app_with(|s| {
        s.webhook_verify_token = Some(secrecy::SecretString::from("vt".to_string()));
    })
    .await;
    let ok = app
        .get(
            "/webhook/wa?hub.mode=subscribe&hub.verify_token=vt&hub.challenge=abc",
            None,
        )
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "abc");
    let bad = app
        .get(
            "/webhook/wa?hub.mode=subscribe&hub.verify_token=no&hub.challenge=abc",
            None,
        )
        .await;
    assert_eq!(bad.status(), 403);
    assert_eq!(body_json(bad).await["error"], "Forbidden");
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Counters {
    #[diesel(sql_type = BigInt)]
    sent: i64,
    #[diesel(sql_type = BigInt)]
    delivered: i64,
    #[diesel(sql_type = BigInt)]
    read: i64,
    #[diesel(sql_type = BigInt)]
    items_read: i64,
}

/// Points the simulated upstream's per-user webhook at the gateway.
fn deliver_webhooks_to_gateway(app: &TestApp, user: &TestUser) {
    let mut fu = app.upstream.user(&user.session_token).expect("fake user");
    fu.webhook = app.url("/webhook/wa");
    app.upstream.add_user(fu);
}

async fn start_campaign(app: &TestApp, user: &TestUser, phones: &[&str]) -> i64 {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let mut c = app.conn().await;
    let t: Vec<Id> = diesel::sql_query(
        r#"INSERT INTO "WhatsAppCampaigns"(user_id,name,type,status,message_body,created_at,updated_at)
           VALUES ($1,'tpl','text','active','hi',now(),now()) RETURNING id"#,
    )
    .bind::<Text, _>(&user.user_id)
    .load(&mut c)
    .await
    .unwrap();
    let resp = app
        .post_json(
            "/bulk/campaign/execute",
            Some(&user.bearer),
            &json!({"campaign_id": t[0].id, "name": "wh", "phone": phones, "send_sync": "now",
                    "session_id": user.session_id}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let body = body_json(resp).await;
    body["data"]["bulk_campaign_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("campaign id in {body}"))
}

async fn counters(app: &TestApp, id: i64) -> Counters {
    let mut c = app.conn().await;
    let rows: Vec<Counters> = diesel::sql_query(
        r#"SELECT sent_count::bigint AS sent, delivered_count::bigint AS delivered, read_count::bigint AS read,
             (SELECT count(*) FROM "WhatsAppBulkCampaignItems" i WHERE i.bulk_campaign_id = c.id
                AND i.read_at IS NOT NULL AND i.delivered_at IS NOT NULL AND i.status = 'sent') AS items_read
           FROM "WhatsAppBulkCampaigns" c WHERE id = $1"#,
    )
    .bind::<BigInt, _>(id)
    .load(&mut c)
    .await
    .unwrap();
    rows.into_iter().next().unwrap()
}

#[actix_web::test]
async fn receipts_from_the_upstream_reach_campaign_items() {
    let app = spawn_app().await;
    let user = app.create_user("receipts").await;
    deliver_webhooks_to_gateway(&app, &user);
    let id = start_campaign(
        &app,
        &user,
        &["6281200000001", "6281200000002", "6281200000003"],
    )
    .await;
    let want = Counters {
        sent: 3,
        delivered: 3,
        read: 3,
        items_read: 3,
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while counters(&app, id).await != want {
        if std::time::Instant::now() > deadline {
            let evs: Vec<String> = events(&app)
                .await
                .iter()
                .map(|e| format!("{:?} {:?}", e.processed, e.last_error))
                .collect();
            panic!(
                "counters {:?}; events {evs:?}; deliveries {:?}",
                counters(&app, id).await,
                app.upstream.webhook_deliveries()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Redelivered receipts change nothing.
    let deliveries = app.upstream.webhook_deliveries();
    assert!(!deliveries.is_empty());
    drain(&app).await;
    assert_eq!(counters(&app, id).await, want);
    let n = scalar(
        &app,
        "SELECT count(*)::text AS v FROM gen_event_webhooks WHERE NOT processed OR last_error IS NOT NULL",
    )
    .await;
    assert_eq!(n.as_deref(), Some("0"));
}

#[actix_web::test]
async fn disconnected_pauses_sending_and_connected_resumes_it() {
    let app = spawn_app().await;
    let user = app.create_user("pause").await;
    deliver_webhooks_to_gateway(&app, &user);
    // A first campaign starts the session's sender.
    let first = start_campaign(&app, &user, &["6281200000011"]).await;
    eventually(Duration::from_secs(20), || async {
        (counters(&app, first).await.sent == 1).then_some(())
    })
    .await;
    app.upstream
        .emit_event(&user.session_token, disconnected_event())
        .await
        .unwrap();
    let q = format!(
        "SELECT session_state AS v FROM whats_app_sessions WHERE user_token = '{}'",
        user.session_token
    );
    eventually(Duration::from_secs(10), || async {
        (scalar(&app, &q).await.as_deref() == Some("disconnected")).then_some(())
    })
    .await;
    let second = start_campaign(&app, &user, &["6281200000012"]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        app.upstream.sends_to("6281200000012"),
        0,
        "paused while disconnected"
    );
    app.upstream
        .emit_event(&user.session_token, connected_event())
        .await
        .unwrap();
    eventually(Duration::from_secs(20), || async {
        (counters(&app, second).await.sent == 1).then_some(())
    })
    .await;
    assert_eq!(scalar(&app, &q).await.as_deref(), Some("connected"));
}

#[actix_web::test]
async fn chats_messages_and_state_are_readable_by_their_owner_only() {
    let app = spawn_app().await;
    let user = app.create_user("reader").await;
    let other = app.create_user("other").await;
    let sid = &user.session_id;
    // Chat log off by default: turn it on through the route.
    let resp = app
        .put_json(
            "/bulk/settings/chat-log",
            Some(&user.bearer),
            &json!({"session_id": sid, "enabled": true}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    for name in [
        "connected",
        "message-text",
        "message-image",
        "message-sent-text",
    ] {
        let ev = fixture(name, &user.session_key);
        assert_eq!(post(&app, json_body(&ev), false, None).await.status(), 200);
    }
    drain(&app).await;
    let chats = body_json(
        app.get(&format!("/bulk/sessions/{sid}/chats"), Some(&user.bearer))
            .await,
    )
    .await;
    let list = chats["data"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{chats}");
    assert_eq!(list[0]["contact_j_id"], "6281234567890@s.whatsapp.net");
    assert_eq!(list[0]["unread_count"], 2);
    assert!(list[0].get("user_token").is_none());
    let msgs = body_json(
        app.get(
            &format!(
                "/bulk/sessions/{sid}/chats/6281234567890@s.whatsapp.net/messages?page=1&limit=2"
            ),
            Some(&user.bearer),
        )
        .await,
    )
    .await;
    let m = msgs["data"].as_array().unwrap();
    assert_eq!(m.len(), 2, "{msgs}");
    // Newest first.
    let t0 = m[0]["message_timestamp"].as_str().unwrap();
    let t1 = m[1]["message_timestamp"].as_str().unwrap();
    assert!(t0 >= t1, "{msgs}");
    assert!(m[0]["chat_room_id"].as_i64().unwrap() > 0);
    let all = body_json(
        app.get(
            &format!("/bulk/sessions/{sid}/chats/6281234567890@s.whatsapp.net/messages"),
            Some(&user.bearer),
        )
        .await,
    )
    .await;
    let all = all["data"].as_array().unwrap();
    assert_eq!(all.len(), 3);
    let sent = all
        .iter()
        .find(|m| m["message_id"] == "3EB0A1B2C3D4E5F6A7B8C9")
        .unwrap();
    assert_eq!(sent["sender_type"], "user");
    assert_eq!(
        sent["content"],
        "Halo Budi, promo paket hemat berlaku sampai Jumat."
    );
    let state = body_json(
        app.get(&format!("/bulk/sessions/{sid}/state"), Some(&user.bearer))
            .await,
    )
    .await;
    assert_eq!(state["data"]["session_state"], "connected");
    assert_eq!(state["data"]["chat_log_enabled"], true);
    // Another tenant, or no token: refused.
    assert_eq!(
        app.get(&format!("/bulk/sessions/{sid}/chats"), Some(&other.bearer))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get(&format!("/bulk/sessions/{sid}/state"), None)
            .await
            .status(),
        401
    );
}

/// Makes the primary database refuse inserts into `table` of rows matching `condition` (a
/// trigger raising `message`).
async fn refuse_inserts(app: &TestApp, table: &str, condition: &str, message: &str) {
    let mut c = app.db.primary.get().await.unwrap();
    diesel::sql_query(format!(
        "CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF {condition} THEN RAISE EXCEPTION '{message}'; END IF; RETURN NEW; END $$"
    ))
    .execute(&mut c)
    .await
    .unwrap();
    diesel::sql_query(format!(
        "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION refuse_{table}()"
    ))
    .execute(&mut c)
    .await
    .unwrap();
}

/// An event the database refuses (here: a trigger refusing one event type) fails alone; the
/// events committed in the same group are stored and answered 200.
#[actix_web::test]
async fn one_refused_event_does_not_fail_its_batch() {
    let app = spawn_app().await;
    let user = app.create_user("batch").await;
    refuse_inserts(
        &app,
        "gen_event_webhooks",
        "NEW.event_type = 'Poison'",
        "poison refused",
    )
    .await;
    let mut bodies = Vec::new();
    for i in 0..40 {
        let kind = if i == 20 { "Poison" } else { "Message" };
        let mut ev = fixture("message-text", &user.session_key);
        ev["type"] = json!(kind);
        ev["event"]["Info"]["ID"] = json!(format!("3EB0BATCH{i:04}"));
        bodies.push((kind, json_body(&ev)));
    }
    let answers = futures_util::future::join_all(
        bodies
            .iter()
            .map(|(_, b)| post(&app, b.clone(), false, None)),
    )
    .await;
    for ((kind, _), resp) in bodies.iter().zip(answers) {
        if *kind == "Poison" {
            assert!(resp.status().is_server_error(), "{}", resp.status());
        } else {
            assert_eq!(resp.status(), 200);
        }
    }
    let stored = scalar(
        &app,
        "SELECT count(*)::text AS v FROM gen_event_webhooks WHERE event_type = 'Message'",
    )
    .await;
    assert_eq!(stored.as_deref(), Some("39"));
}

/// The router tries a batch whole; when one event's effects are refused (here: a trigger on
/// `whats_app_messages`), only that event fails, with its error on its row and a retry later,
/// and the other events of the same batch are processed.
#[actix_web::test]
async fn one_failing_event_does_not_hold_back_its_batch() {
    let app = spawn_app().await;
    let user = app.create_user("router-batch").await;
    refuse_inserts(
        &app,
        "whats_app_messages",
        "NEW.message_id = '3EB0ROUTER0020'",
        "message refused",
    )
    .await;
    let mut c = app.db.primary.get().await.unwrap();
    let bodies: Vec<String> = (0..40)
        .map(|i| {
            let mut ev = fixture("message-text", &user.session_key);
            ev["event"]["Info"]["ID"] = json!(format!("3EB0ROUTER{i:04}"));
            String::from_utf8(json_body(&ev)).unwrap()
        })
        .collect();
    // Stored in one statement, so that one claim holds them all.
    diesel::sql_query(
        "INSERT INTO gen_event_webhooks (event_type, source, user_token, event_data, raw_data, processed,
           received_at, dedup_key, session_id, user_id)
         SELECT 'Message', 'wa', $1, '{}'::jsonb, b, false, now(), 'router-batch-' || n, $2, $3
         FROM unnest($4::text[]) WITH ORDINALITY AS x(b, n)",
    )
    .bind::<Text, _>(&user.session_token)
    .bind::<Text, _>(&user.session_id)
    .bind::<Text, _>(&user.user_id)
    .bind::<diesel::sql_types::Array<Text>, _>(&bodies)
    .execute(&mut c)
    .await
    .unwrap();
    drain(&app).await;
    let rows = events(&app).await;
    assert_eq!(rows.len(), 40);
    for (i, r) in rows.iter().enumerate() {
        if i == 20 {
            assert!(!r.processed, "the refused event waits for its retry");
            let err = r.last_error.as_deref().unwrap_or_default();
            assert!(err.contains("message refused"), "{err}");
        } else {
            assert!(r.processed && r.last_error.is_none(), "event {i}: {r:?}");
        }
    }
    let stored = scalar(
        &app,
        "SELECT count(*)::text AS v FROM whats_app_messages WHERE message_id LIKE '3EB0ROUTER%'",
    )
    .await;
    assert_eq!(stored.as_deref(), Some("39"));
}

/// The events of one chat history, with message ids under `prefix`: out-of-order timestamps, a
/// `MessageSent` repeating a received message's id, a receipt before its message, a new push
/// name, and two chats.
fn history(session_key: &str, prefix: &str) -> Vec<Value> {
    let msg = |id: &str, chat: &str, at: &str, text: &str, push: &str| {
        let mut ev = fixture("message-text", session_key);
        let info = &mut ev["event"]["Info"];
        info["ID"] = json!(format!("{prefix}{id}"));
        info["Chat"] = json!(chat);
        info["Sender"] = json!(chat);
        info["Timestamp"] = json!(at);
        info["PushName"] = json!(push);
        ev["event"]["Message"] = json!({ "conversation": text });
        ev
    };
    let sent = |id: &str, chat: &str, at: &str| {
        let mut ev = fixture("message-sent-text", session_key);
        ev["event"]["Info"]["ID"] = json!(format!("{prefix}{id}"));
        ev["event"]["Info"]["Chat"] = json!(chat);
        ev["event"]["Info"]["Timestamp"] = json!(at);
        ev
    };
    let (x, y) = (
        "6281111111111@s.whatsapp.net",
        "6282222222222@s.whatsapp.net",
    );
    let mut receipt = fixture("read-receipt-delivered", session_key);
    receipt["event"]["MessageIDs"] = json!([format!("{prefix}m3")]);
    receipt["event"]["Chat"] = json!(y);
    receipt["event"]["Sender"] = json!(y);
    vec![
        msg("m1", x, "2025-01-15T03:30:00Z", "one", "Budi"),
        msg(
            "m2",
            x,
            "2025-01-15T03:20:00Z",
            "two (sent earlier)",
            "Budi",
        ),
        sent("m1", x, "2025-01-15T03:31:00Z"),
        receipt,
        sent("m3", y, "2025-01-15T03:35:00Z"),
        msg("m4", x, "2025-01-15T03:40:00Z", "four", "Budi S."),
        msg("m5", y, "2025-01-15T03:50:00Z", "five", "Sari"),
    ]
}

/// What a tenant's chats, chat messages and messages hold, with its own names replaced.
async fn chat_state(app: &TestApp, user: &TestUser, prefix: &str) -> Vec<String> {
    let t = &user.session_token;
    let rooms = scalar(app, &format!(
        "SELECT string_agg(concat_ws('|', contact_j_id, contact_name, last_message, last_sender, last_activity,
           unread_count, is_group, user_id IS NOT NULL), E'\\n' ORDER BY contact_j_id) AS v
         FROM chat_rooms WHERE user_token = '{t}'"
    ))
    .await;
    let chat_messages = scalar(app, &format!(
        "SELECT string_agg(concat_ws('|', m.message_id, r.contact_j_id, m.sender_j_id, m.sender_type, m.content,
           m.status, m.delivered_at IS NOT NULL, m.read_at IS NOT NULL, m.message_timestamp), E'\\n' ORDER BY m.message_id) AS v
         FROM chat_messages m JOIN chat_rooms r ON r.id = m.chat_room_id WHERE m.user_token = '{t}'"
    ))
    .await;
    let messages = scalar(app, &format!(
        r#"SELECT string_agg(concat_ws('|', message_id, "from", "to", from_me, push_name, body, status), E'\n' ORDER BY message_id) AS v
         FROM whats_app_messages WHERE user_token = '{t}'"#
    ))
    .await;
    [rooms, chat_messages, messages]
        .into_iter()
        .map(|v| {
            v.unwrap_or_default()
                .replace(&user.session_key, "SELF")
                .replace(prefix, "")
        })
        .collect()
}

#[actix_web::test]
async fn a_batch_of_messages_ends_as_the_same_events_one_by_one() {
    let app = spawn_app().await;
    let single = app.create_user("one-by-one").await;
    let batched = app.create_user("batched").await;
    enable_chat_log(&app, &single).await;
    enable_chat_log(&app, &batched).await;
    for ev in history(&single.session_key, "S-") {
        assert_eq!(post(&app, json_body(&ev), false, None).await.status(), 200);
        drain(&app).await;
    }
    // The same events for the second tenant, stored at once (as the intake stores them) so
    // that the router claims them as one batch.
    let mut c = app.db.primary.get().await.unwrap();
    let copied = diesel::sql_query(
        "INSERT INTO gen_event_webhooks (event_type, source, user_token, event_data, raw_data, processed, received_at,
           dedup_key, session_id, user_id, unknown_session)
         SELECT event_type, source, $2, event_data, replace(replace(raw_data, $1, $3), 'S-', 'B-'), false, received_at,
           'b|' || dedup_key, $4, $5, false
         FROM gen_event_webhooks WHERE user_token = $6 ORDER BY id",
    )
    .bind::<Text, _>(&single.session_key)
    .bind::<Text, _>(&batched.session_token)
    .bind::<Text, _>(&batched.session_key)
    .bind::<Text, _>(&batched.session_id)
    .bind::<Text, _>(&batched.user_id)
    .bind::<Text, _>(&single.session_token)
    .execute(&mut c)
    .await
    .unwrap();
    assert_eq!(copied, 7);
    drain(&app).await;
    let left = scalar(&app, "SELECT count(*)::text AS v FROM gen_event_webhooks WHERE NOT processed OR last_error IS NOT NULL").await;
    assert_eq!(left.as_deref(), Some("0"));

    let one_by_one = chat_state(&app, &single, "S-").await;
    assert_eq!(one_by_one, chat_state(&app, &batched, "B-").await);
    // And what that state is: chat X holds m1, m2, m4 (three unread, the latest text and
    // push name); chat Y holds m3 (sent, delivered before it arrived) and m5.
    let rooms: Vec<&str> = one_by_one[0].lines().collect();
    assert_eq!(rooms.len(), 2, "{rooms:?}");
    assert!(
        rooms[0].starts_with("6281111111111@s.whatsapp.net|Budi S.|four|contact|"),
        "{}",
        rooms[0]
    );
    assert!(rooms[0].ends_with("|3|f|t"), "{}", rooms[0]);
    assert!(
        rooms[1].starts_with("6282222222222@s.whatsapp.net|Sari|five|contact|"),
        "{}",
        rooms[1]
    );
    assert!(rooms[1].ends_with("|1|f|t"), "{}", rooms[1]);
    let chat_messages: Vec<&str> = one_by_one[1].lines().collect();
    assert_eq!(chat_messages.len(), 5, "{chat_messages:?}");
    assert!(
        chat_messages.iter().any(|m| m
            .starts_with("m3|6282222222222@s.whatsapp.net|SELF@s.whatsapp.net|user|")
            && m.contains("|delivered|t|f|")),
        "{chat_messages:?}"
    );
    assert!(
        chat_messages.iter().any(|m| m.starts_with(
            "m1|6281111111111@s.whatsapp.net|6281111111111@s.whatsapp.net|contact|one|delivered"
        )),
        "{chat_messages:?}"
    );
}

fn message(session_key: &str, id: &str) -> Vec<u8> {
    let mut ev = fixture("message-text", session_key);
    ev["event"]["Info"]["ID"] = json!(id);
    json_body(&ev)
}

async fn processed(app: &TestApp, message_id: &str) -> bool {
    let sql = format!(
        "SELECT processed::text AS v FROM gen_event_webhooks WHERE raw_data LIKE '%\"{message_id}\"%'"
    );
    scalar(app, &sql).await.as_deref() == Some("true")
}

/// A session's events are handled in order of arrival: while one waits for its retry, the
/// session's later events wait behind it; other sessions' events do not.
#[actix_web::test]
async fn a_session_s_later_events_wait_behind_its_retry() {
    let app = spawn_app().await;
    let a = app.create_user("order-a").await;
    let b = app.create_user("order-b").await;
    refuse_inserts(
        &app,
        "whats_app_messages",
        "NEW.message_id = '3EB0ORDER-A1'",
        "message refused",
    )
    .await;
    assert_eq!(
        post(&app, message(&a.session_key, "3EB0ORDER-A1"), false, None)
            .await
            .status(),
        200
    );
    drain(&app).await;
    assert!(
        !processed(&app, "3EB0ORDER-A1").await,
        "refused: waits for its retry"
    );

    for (key, id) in [
        (&a.session_key, "3EB0ORDER-A2"),
        (&b.session_key, "3EB0ORDER-B1"),
    ] {
        assert_eq!(
            post(&app, message(key, id), false, None).await.status(),
            200
        );
    }
    drain(&app).await;
    assert!(
        processed(&app, "3EB0ORDER-B1").await,
        "another session's event goes on"
    );
    assert!(
        !processed(&app, "3EB0ORDER-A2").await,
        "held behind the session's retry"
    );

    // The refusal ends and the retry falls due: both events of the session are handled.
    app.exec("DROP TRIGGER refuse_whats_app_messages ON whats_app_messages")
        .await;
    app.exec("UPDATE gen_event_webhooks SET next_attempt_at = now() WHERE NOT processed")
        .await;
    drain(&app).await;
    assert!(processed(&app, "3EB0ORDER-A1").await);
    assert!(processed(&app, "3EB0ORDER-A2").await);
    let order = scalar(
        &app,
        "SELECT string_agg(message_id, ',' ORDER BY id) AS v FROM whats_app_messages WHERE message_id LIKE '3EB0ORDER-A%'",
    )
    .await;
    assert_eq!(order.as_deref(), Some("3EB0ORDER-A1,3EB0ORDER-A2"));
}

#[derive(QueryableByName)]
struct Plan {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    plan: String,
}

/// The claim's cost does not grow with the processed history: with 20,000 processed events
/// ahead of a backlog, claiming a few of them reads a few pages, not the history.
#[actix_web::test]
async fn the_claim_does_not_walk_the_processed_history() {
    let app = spawn_app().await;
    app.exec(
        "INSERT INTO gen_event_webhooks (event_type, raw_data, processed, processed_at, dedup_key, session_id)
         SELECT 'Message', repeat('x', 200), n <= 20000, now(), 'history-' || n, 's'
         FROM generate_series(1, 22000) AS n",
    )
    .await;
    app.exec("ANALYZE gen_event_webhooks").await;
    let mut c = app.db.primary.get().await.unwrap();
    let sql = format!(
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {}",
        wa_gateway::db::queries::events::CLAIM_SQL
    );
    let rows: Vec<Plan> = diesel::sql_query(sql)
        .bind::<BigInt, _>(10)
        .load(&mut c)
        .await
        .unwrap();
    let plan: Value = serde_json::from_str(&rows[0].plan).unwrap();
    let top = &plan[0]["Plan"];
    assert_eq!(top["Actual Rows"], json!(10), "{plan}");
    let pages =
        top["Shared Hit Blocks"].as_u64().unwrap() + top["Shared Read Blocks"].as_u64().unwrap();
    assert!(pages < 200, "the claim read {pages} pages: {plan}");
}

/// Stored events are compressed with lz4 (pglz cost a fifth of PostgreSQL's CPU in intake).
#[actix_web::test]
async fn stored_events_are_compressed_with_lz4() {
    let app = spawn_app().await;
    let user = app.create_user("lz4").await;
    let mut ev = fixture("message-text", &user.session_key);
    ev["event"]["Message"] = json!({ "conversation": "a long message ".repeat(200) });
    assert_eq!(post(&app, json_body(&ev), false, None).await.status(), 200);
    let methods = scalar(
        &app,
        "SELECT concat_ws(',', pg_column_compression(raw_data), pg_column_compression(event_data)) AS v
         FROM gen_event_webhooks",
    )
    .await;
    assert_eq!(methods.as_deref(), Some("lz4,lz4"));
}
