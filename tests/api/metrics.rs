//! `GET /metrics`: the series the gateway exposes, and that no token or phone number reaches
//! them. The recorder is global to the test process, so values are compared before and after.

use std::time::Duration;

use diesel::sql_types::BigInt;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::helpers::{eventually, json as body_json, spawn_app_with, TestApp, TestUser};

/// The sum of the samples of `name` whose labels include every pair of `labels`.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, v) = l.rsplit_once(' ')?;
            let (n, rest) = series.split_once('{').unwrap_or((series, ""));
            let matches = n == name
                && labels
                    .iter()
                    .all(|(k, val)| rest.contains(&format!("{k}=\"{val}\"")));
            matches.then(|| v.parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// Whether a series of `name` with these labels is present at all.
fn present(text: &str, name: &str, labels: &[(&str, &str)]) -> bool {
    text.lines().any(|l| {
        l.split_once(['{', ' ']).is_some_and(|(n, _)| n == name)
            && labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
    })
}

async fn scrape(app: &TestApp) -> String {
    let resp = app.get("/metrics", None).await;
    assert_eq!(resp.status(), 200);
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ctype.starts_with("text/plain"), "{ctype}");
    resp.text().await.unwrap()
}

async fn execute(app: &TestApp, user: &TestUser, phones: &[&str]) -> i64 {
    let template = app.insert_text_template(&user.user_id, "Halo").await;
    let resp = app
        .post_json(
            "/bulk/campaign/execute",
            Some(&user.bearer),
            &json!({"campaign_id": template, "name": "metrics", "phone": phones,
                    "send_sync": "now", "session_id": user.session_id}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    body_json(resp).await["data"]["bulk_campaign_id"]
        .as_i64()
        .expect("campaign id")
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn processed_events(app: &TestApp) -> i64 {
    let mut c = app.db.primary.get().await.unwrap();
    let rows: Vec<Count> =
        diesel::sql_query("SELECT count(*) AS n FROM gen_event_webhooks WHERE processed")
            .load(&mut c)
            .await
            .unwrap();
    rows[0].n
}

#[actix_web::test]
async fn proxy_campaign_and_webhooks_are_counted_without_secrets() {
    let app = spawn_app_with(|s| s.send_rate_per_sec = 0.0).await;
    let user = app.create_user("metrics").await;
    // The simulated upstream delivers its webhooks (sent, receipts) to the gateway.
    let mut fake = app.upstream.user(&user.session_token).expect("fake user");
    fake.webhook = app.url("/webhook/wa");
    app.upstream.add_user(fake);
    let phones = ["6281277700001", "6281277700002", "6281277700003"];
    let before = scrape(&app).await;

    let resp = app
        .client
        .post(app.url(&format!("/wa/chat/send/text?token={}", user.session_token)))
        .json(&json!({"Phone": phones[0], "Body": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let id = execute(&app, &user, &phones[1..]).await;
    app.wait_for_status(&user.bearer, id, "completed", Duration::from_secs(20))
        .await;
    let ours = eventually(Duration::from_secs(20), || async {
        let n = processed_events(&app).await;
        (n >= 3).then_some(n)
    })
    .await;
    let diff = |after: &str, name: &str, labels: &[(&str, &str)]| {
        value(after, name, labels) - value(&before, name, labels)
    };
    let after = eventually(Duration::from_secs(10), || async {
        let after = scrape(&app).await;
        (diff(&after, "wa_gateway_webhook_events_processed_total", &[]) >= ours as f64)
            .then_some(after)
    })
    .await;

    let http = "wa_gateway_http_requests_total";
    let proxy_route = [
        ("route", "/wa/{tail:.*}"),
        ("method", "POST"),
        ("status", "200"),
    ];
    assert!(diff(&after, http, &proxy_route) >= 1.0, "{after}");
    let execute_route = [("route", "/bulk/campaign/execute"), ("status", "201")];
    assert!(diff(&after, http, &execute_route) >= 1.0);
    assert!(
        diff(
            &after,
            "wa_gateway_http_request_duration_seconds_count",
            &proxy_route[..2]
        ) >= 1.0
    );
    let upstream = "wa_gateway_upstream_requests_total";
    let proxied = [
        ("source", "proxy"),
        ("endpoint", "/chat/send/text"),
        ("outcome", "ok"),
    ];
    assert!(diff(&after, upstream, &proxied) >= 1.0, "{after}");
    let sent = [
        ("source", "client"),
        ("endpoint", "/chat/send/text"),
        ("outcome", "ok"),
    ];
    assert!(diff(&after, upstream, &sent) >= 2.0);
    assert!(diff(&after, "wa_gateway_entitlement_cache_misses_total", &[]) >= 1.0);
    // The session id is this test's own, so the counter is exact.
    let items = "wa_gateway_campaign_items_total";
    let session = ("session", user.session_id.as_str());
    assert_eq!(value(&after, items, &[session, ("outcome", "sent")]), 2.0);
    assert_eq!(value(&after, items, &[session, ("outcome", "failed")]), 0.0);
    assert!(diff(&after, "wa_gateway_webhook_events_stored_total", &[]) >= ours as f64);
    assert!(
        diff(
            &after,
            "wa_gateway_webhook_processing_lag_seconds_count",
            &[]
        ) >= ours as f64
    );
    for gauge in [
        "wa_gateway_db_pool_max_connections",
        "wa_gateway_db_pool_connections",
        "wa_gateway_db_pool_available_connections",
        "wa_gateway_db_pool_waiting_requests",
    ] {
        assert!(present(&after, gauge, &[("pool", "primary")]), "{gauge}");
    }
    assert!(
        value(
            &after,
            "wa_gateway_db_pool_max_connections",
            &[("pool", "primary")]
        ) > 0.0
    );

    assert!(!after.contains(&user.session_token), "token in /metrics");
    for p in phones {
        assert!(!after.contains(p), "phone {p} in /metrics");
    }
}

#[actix_web::test]
async fn queue_depth_follows_the_pending_items_of_a_session() {
    // One send per second: the queue drains slowly enough to be seen.
    let app = spawn_app_with(|s| s.send_rate_per_sec = 1.0).await;
    let user = app.create_user("queue").await;
    let phones: Vec<String> = (0..6).map(|i| format!("62812888000{i:02}")).collect();
    let refs: Vec<&str> = phones.iter().map(String::as_str).collect();
    let id = execute(&app, &user, &refs).await;
    let depth = |text: &str| {
        value(
            text,
            "wa_gateway_campaign_queue_depth",
            &[("session", user.session_id.as_str())],
        )
    };

    // The campaign actor moves the campaign to `processing` just after the answer.
    let first = eventually(Duration::from_secs(5), || async {
        let text = scrape(&app).await;
        present(
            &text,
            "wa_gateway_campaign_queue_depth",
            &[("session", &user.session_id)],
        )
        .then(|| depth(&text))
    })
    .await;
    assert!((1.0..=6.0).contains(&first), "depth {first}");

    let resp = app
        .post_json(
            &format!("/bulk/campaigns/{id}/cancel"),
            Some(&user.bearer),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    eventually(Duration::from_secs(10), || async {
        (depth(&scrape(&app).await) == 0.0).then_some(())
    })
    .await;
    let text = scrape(&app).await;
    assert!(!text.contains(&user.session_token));
    for p in &phones {
        assert!(!text.contains(p.as_str()));
    }
}

#[actix_web::test]
async fn metrics_can_be_turned_off() {
    let app = spawn_app_with(|s| s.metrics_enabled = false).await;
    let resp = app.get("/metrics", None).await;
    assert_eq!(resp.status(), 404);
}

#[actix_web::test]
async fn unreachable_upstream_and_variable_paths_are_labelled_without_user_data() {
    // Nothing listens on port 1: every upstream call fails to connect.
    let app = spawn_app_with(|s| {
        s.upstream_url = Some(url::Url::parse("http://127.0.0.1:1").unwrap());
    })
    .await;
    let user = app.create_user("unreachable").await;
    let before = scrape(&app).await;
    let phone = "6281299911122";

    for path in ["/wa/chat/send/text", &format!("/wa/user/lid/{phone}")] {
        let resp = app
            .client
            .post(app.url(&format!("{path}?token={}", user.session_token)))
            .json(&json!({"Phone": phone, "Body": "hi"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 502, "{path}");
    }

    let after = scrape(&app).await;
    let diff = |labels: &[(&str, &str)]| {
        let name = "wa_gateway_upstream_requests_total";
        value(&after, name, labels) - value(&before, name, labels)
    };
    let failed = |endpoint| {
        [
            ("source", "proxy"),
            ("endpoint", endpoint),
            ("outcome", "unreachable"),
        ]
    };
    assert!(diff(&failed("/chat/send/text")) >= 1.0, "{after}");
    assert!(diff(&failed("/user/lid/{jid}")) >= 1.0, "{after}");
    let http = [
        ("route", "/wa/{tail:.*}"),
        ("method", "POST"),
        ("status", "502"),
    ];
    assert!(
        value(&after, "wa_gateway_http_requests_total", &http)
            - value(&before, "wa_gateway_http_requests_total", &http)
            >= 2.0
    );
    assert!(!after.contains(&user.session_token));
    assert!(!after.contains(phone));
}
