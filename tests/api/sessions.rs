//! `GET|PUT /bulk/sessions/{session_id}/settings`: the per-session send rate, daily cap and
//! webhook key, and what each of them does.

use std::time::Duration;

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use wa_gateway::actors::webhook_router::{DrainNow, ReplayUnknown};
use wa_gateway::fake_upstream::sign_body;

use crate::helpers::{eventually, json as body_json, spawn_app, TestApp, TestUser};

const SESSION_KEY: &str = "0123456789abcdef0123456789abcdef0123";

async fn settings(app: &TestApp, user: &TestUser, session: &str) -> reqwest::Response {
    app.get(
        &format!("/bulk/sessions/{session}/settings"),
        Some(&user.bearer),
    )
    .await
}

async fn put_settings(app: &TestApp, user: &TestUser, body: Value) -> reqwest::Response {
    app.put_json(
        &format!("/bulk/sessions/{}/settings", user.session_id),
        Some(&user.bearer),
        &body,
    )
    .await
}

#[actix_web::test]
async fn settings_round_trip_for_their_owner_only() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;

    let resp = settings(&app, &alice, &alice.session_id).await;
    assert_eq!(resp.status(), 200);
    let d = body_json(resp).await["data"].clone();
    assert_eq!(d["rate_per_sec"], Value::Null);
    assert_eq!(d["effective_rate_per_sec"], json!(1.0));
    assert_eq!(d["daily_cap"], Value::Null);
    assert_eq!(d["effective_daily_cap"], Value::Null);
    assert_eq!(d["sent_today"], json!(0));
    assert_eq!(d["webhook_hmac_key_set"], json!(false));

    let resp = put_settings(
        &app,
        &alice,
        json!({"rate_per_sec": 2.5, "daily_cap": 100, "webhook_hmac_key": SESSION_KEY}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let d = body_json(resp).await["data"].clone();
    assert_eq!(d["rate_per_sec"], json!(2.5));
    assert_eq!(d["effective_rate_per_sec"], json!(2.5));
    assert_eq!(d["daily_cap"], json!(100));
    assert_eq!(d["webhook_hmac_key_set"], json!(true));
    assert!(
        !d.to_string().contains(SESSION_KEY),
        "the key is never shown"
    );

    // Absent keys are kept, null goes back to the default. The session's upstream id works too.
    let resp = app
        .put_json(
            &format!("/bulk/sessions/{}/settings", alice.session_key),
            Some(&alice.bearer),
            &json!({"rate_per_sec": null}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let d = body_json(resp).await["data"].clone();
    assert_eq!(d["rate_per_sec"], Value::Null);
    assert_eq!(d["effective_rate_per_sec"], json!(1.0));
    assert_eq!(d["daily_cap"], json!(100));
    assert_eq!(d["webhook_hmac_key_set"], json!(true));

    // Another user's session does not exist for bob; no token is a 401.
    assert_eq!(settings(&app, &bob, &alice.session_id).await.status(), 404);
    let resp = app
        .put_json(
            &format!("/bulk/sessions/{}/settings", alice.session_id),
            Some(&bob.bearer),
            &json!({"daily_cap": 1}),
        )
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        app.get(
            &format!("/bulk/sessions/{}/settings", alice.session_id),
            None
        )
        .await
        .status(),
        401
    );

    // Bad values are 400 in the bulk envelope, and change nothing.
    for bad in [
        json!({"rate_per_sec": 0}),
        json!({"rate_per_sec": 1000}),
        json!({"daily_cap": -1}),
        json!({"daily_cap": "ten"}),
        json!({"webhook_hmac_key": "too-short"}),
        json!({"unknown": 1}),
        json!("not an object"),
    ] {
        let resp = put_settings(&app, &alice, bad.clone()).await;
        assert_eq!(resp.status(), 400, "{bad}");
        let b = body_json(resp).await;
        assert_eq!(b["success"], json!(false), "{b}");
    }
    let d = body_json(settings(&app, &alice, &alice.session_id).await).await["data"].clone();
    assert_eq!(d["daily_cap"], json!(100));
}

fn message_event(session_key: &str, id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "Message",
        "event": {"Info": {"ID": id, "Chat": "6281234567890@s.whatsapp.net",
                            "Sender": "6281234567890@s.whatsapp.net", "IsFromMe": false,
                            "Timestamp": "2026-11-25T10:00:00Z", "PushName": "Budi"},
                  "Message": {"conversation": "halo"}},
        "userID": session_key,
        "instanceName": "x"
    }))
    .unwrap()
}

async fn post_webhook(app: &TestApp, body: Vec<u8>, sig: Option<String>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/webhook/wa"))
        .header("content-type", "application/json");
    if let Some(s) = sig {
        req = req.header("x-hmac-signature", s);
    }
    req.body(body).send().await.unwrap()
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let mut c = app.db.primary.get().await.unwrap();
    let rows: Vec<N> = diesel::sql_query(sql).load(&mut c).await.unwrap();
    rows[0].n
}

#[actix_web::test]
async fn a_session_key_signs_that_sessions_webhooks() {
    let app = spawn_app().await;
    let signed = app.create_user("signed").await;
    let open = app.create_user("open").await;
    assert_eq!(
        put_settings(&app, &signed, json!({"webhook_hmac_key": SESSION_KEY}))
            .await
            .status(),
        200
    );

    let body = message_event(&signed.session_key, "3EB0AAAA0000000000000001");
    assert_eq!(post_webhook(&app, body.clone(), None).await.status(), 401);
    let wrong = sign_body("another-key-0123456789abcdef-01234", &body);
    assert_eq!(
        post_webhook(&app, body.clone(), Some(wrong)).await.status(),
        401
    );
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM gen_event_webhooks").await,
        0,
        "nothing stored without the session's signature"
    );
    let good = sign_body(SESSION_KEY, &body);
    assert_eq!(post_webhook(&app, body, Some(good)).await.status(), 200);

    // A session without a key (and no global key) still takes unsigned events.
    let body = message_event(&open.session_key, "3EB0AAAA0000000000000002");
    assert_eq!(post_webhook(&app, body, None).await.status(), 200);
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM gen_event_webhooks").await,
        2
    );

    // Removing the key makes the session's unsigned events welcome again.
    assert_eq!(
        put_settings(&app, &signed, json!({"webhook_hmac_key": null}))
            .await
            .status(),
        200
    );
    let body = message_event(&signed.session_key, "3EB0AAAA0000000000000003");
    assert_eq!(post_webhook(&app, body, None).await.status(), 200);
}

#[actix_web::test]
async fn events_of_a_session_created_later_are_replayed() {
    let app = spawn_app().await;
    let user = app.create_user("later").await;
    let upstream_id = "aaaabbbbccccddddeeeeffff00001111";
    for (i, id) in ["3EB0BBBB0000000000000001", "3EB0BBBB0000000000000002"]
        .iter()
        .enumerate()
    {
        let resp = post_webhook(&app, message_event(upstream_id, id), None).await;
        assert_eq!(resp.status(), 200, "event {i}");
    }
    app.actors.webhook_router.send(DrainNow).await.unwrap();
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM gen_event_webhooks WHERE unknown_session AND processed"
        )
        .await,
        2
    );
    // Nothing to adopt yet.
    assert_eq!(
        app.actors.webhook_router.send(ReplayUnknown).await.unwrap(),
        0
    );

    // The owner's system registers the session (a second session of the same user).
    app.exec(&format!(
        r#"INSERT INTO "WhatsAppSession" (id, "sessionId", "sessionName", token, "userId", connected, "loggedIn", "createdAt", "updatedAt")
           VALUES ('later-2', '{upstream_id}', 'later 2', 'tok-later-2', '{}', true, true, now(), now())"#,
        user.user_id
    ))
    .await;
    assert_eq!(
        app.actors.webhook_router.send(ReplayUnknown).await.unwrap(),
        2
    );
    eventually(Duration::from_secs(10), || async {
        app.actors.webhook_router.send(DrainNow).await.unwrap();
        let n = count(
            &app,
            "SELECT count(*) AS n FROM whats_app_messages WHERE user_token = 'tok-later-2'",
        )
        .await;
        (n == 2).then_some(())
    })
    .await;
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM gen_event_webhooks WHERE unknown_session OR NOT processed OR session_id <> 'later-2'"
        )
        .await,
        0
    );
}

#[derive(QueryableByName)]
struct Sent {
    #[diesel(sql_type = BigInt)]
    sent: i64,
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<String>,
}

async fn progress(app: &TestApp, id: i64) -> Sent {
    let mut c = app.conn().await;
    let rows: Vec<Sent> = diesel::sql_query(
        r#"SELECT count(*) FILTER (WHERE i.status = 'sent') AS sent,
                  count(*) FILTER (WHERE i.status = 'pending') AS pending,
                  max(c.status) AS status
           FROM "WhatsAppBulkCampaigns" c JOIN "WhatsAppBulkCampaignItems" i ON i.bulk_campaign_id = c.id
           WHERE c.id = $1"#,
    )
    .bind::<BigInt, _>(id)
    .load(&mut c)
    .await
    .unwrap();
    rows.into_iter().next().unwrap()
}

#[actix_web::test]
async fn the_daily_cap_holds_and_a_raised_cap_resumes_sending() {
    let app = spawn_app().await;
    let user = app.create_user("capped").await;
    let resp = put_settings(&app, &user, json!({"daily_cap": 3, "rate_per_sec": 20})).await;
    assert_eq!(resp.status(), 200);
    let template = app.insert_text_template(&user.user_id, "hello").await;
    let phones: Vec<String> = (1..=5).map(|i| format!("62812000000{i:02}")).collect();
    let resp = app
        .post_json(
            "/bulk/campaign/execute",
            Some(&user.bearer),
            &json!({"campaign_id": template, "name": "capped", "phone": phones,
                    "send_sync": "now", "session_id": user.session_id}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let id = body_json(resp).await["data"]["bulk_campaign_id"]
        .as_i64()
        .unwrap();

    eventually(Duration::from_secs(15), || async {
        (progress(&app, id).await.sent == 3).then_some(())
    })
    .await;
    // The cap is a hard stop: a while later still three sent, two waiting, still processing.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let p = progress(&app, id).await;
    assert_eq!((p.sent, p.pending), (3, 2));
    assert_eq!(p.status.as_deref(), Some("processing"));
    assert_eq!(app.upstream.journal().len(), 3);
    let d = body_json(settings(&app, &user, &user.session_id).await).await["data"].clone();
    assert_eq!(d["sent_today"], json!(3));

    // Raising the cap lets the rest go, each recipient once.
    let resp = put_settings(&app, &user, json!({"daily_cap": 10})).await;
    assert_eq!(resp.status(), 200);
    app.wait_for_status(&user.bearer, id, "completed", Duration::from_secs(15))
        .await;
    let journal = app.upstream.journal();
    assert_eq!(journal.len(), 5);
    let mut seen: Vec<_> = journal.iter().map(|m| m.phone.clone()).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5);
}
