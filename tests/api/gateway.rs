//! The `/wa/*` gateway: contract §4.1, §4.2, §5 against the real database and the simulated
//! upstream.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use wa_gateway::fake_upstream::{FakeUser, FaultKind, FaultRule};

use crate::helpers::{eventually, json, spawn_app, spawn_app_with, TestApp, TestUser};

const PHONE: &str = "6281234567890";

async fn exec(app: &TestApp, sql: &str) {
    let mut conn = app.conn().await;
    diesel::sql_query(sql)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[derive(QueryableByName, Debug)]
struct One {
    #[diesel(sql_type = Text)]
    v: String,
}

async fn query_text(app: &TestApp, sql: &str) -> Vec<String> {
    let mut conn = app.conn().await;
    let rows: Vec<One> = diesel::sql_query(sql)
        .load(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter().map(|r| r.v).collect()
}

async fn send_text(app: &TestApp, token: &str, phone: &str, body: &str) -> reqwest::Response {
    app.client
        .post(app.url("/wa/chat/send/text"))
        .header("token", token)
        .json(&json!({"Phone": phone, "Body": body}))
        .send()
        .await
        .expect("request")
}

async fn assert_gateway_error(resp: reqwest::Response, status: u16, message: &str) {
    assert_eq!(resp.status().as_u16(), status);
    let body = json(resp).await;
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["message"], message, "{body}");
    assert!(body["error_code"].is_string(), "{body}");
}

#[actix_web::test]
async fn gateway_token_sources_are_all_accepted_and_forwarded_in_the_token_header() {
    let app = spawn_app().await;
    let u = app.create_user("tok-sources").await;
    let body = json!({"Phone": PHONE, "Body": "hello"});
    let t = &u.session_token;
    let reqs = vec![
        app.client
            .post(app.url("/wa/chat/send/text"))
            .header("token", t),
        app.client
            .post(app.url("/wa/chat/send/text"))
            .header("Authorization", format!("Bearer {t}")),
        app.client
            .post(app.url("/wa/chat/send/text"))
            .header("Authorization", t.as_str()),
        app.client
            .post(app.url(&format!("/wa/chat/send/text?token={t}"))),
    ];
    for r in reqs {
        let resp = r.json(&body).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let v = json(resp).await;
        assert_eq!(v["success"], true, "{v}");
    }
    let journal = app.upstream.journal();
    assert_eq!(journal.len(), 4);
    assert!(journal.iter().all(|m| &m.token == t));
}

#[actix_web::test]
async fn gateway_entitlement_failures_have_the_contract_statuses_and_texts() {
    let app = spawn_app().await;
    // No token.
    let resp = app
        .client
        .post(app.url("/wa/chat/send/text"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_gateway_error(resp, 401, "Token required").await;
    // Unknown token.
    assert_gateway_error(
        send_text(&app, "nope", PHONE, "x").await,
        403,
        "invalid token",
    )
    .await;
    // Session without a user.
    exec(&app, r#"INSERT INTO "WhatsAppSession" ("id","sessionId","token","connected","loggedIn","status","createdAt","updatedAt") VALUES ('orphan1','orphankey','tok-orphan',true,true,'connected',now(),now())"#).await;
    assert_gateway_error(
        send_text(&app, "tok-orphan", PHONE, "x").await,
        403,
        "session not associated with any user",
    )
    .await;
    // No active subscription.
    let u = app.create_user("nosub").await;
    exec(
        &app,
        &format!(
            r#"UPDATE "ServicesWhatsappCustomers" SET status='cancelled' WHERE "customerId"='{}'"#,
            u.user_id
        ),
    )
    .await;
    assert_gateway_error(
        send_text(&app, &u.session_token, PHONE, "x").await,
        403,
        "no active subscription found",
    )
    .await;
    // Unknown group → the reference's 404.
    let resp = app.client.get(app.url("/wa/nothing")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.text().await.unwrap(), "404 page not found");
    assert!(app.upstream.journal().is_empty());
}

#[actix_web::test]
async fn gateway_expired_subscription_is_flipped_and_refused_and_latest_row_wins() {
    let app = spawn_app().await;
    let u = app
        .create_user_with("expired", 5, chrono::Duration::days(-2))
        .await;
    let date = (chrono::Utc::now() - chrono::Duration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    assert_gateway_error(
        send_text(&app, &u.session_token, PHONE, "x").await,
        403,
        &format!("subscription expired on {date}"),
    )
    .await;
    let st = query_text(
        &app,
        &format!(
            r#"SELECT status AS v FROM "ServicesWhatsappCustomers" WHERE "customerId"='{}'"#,
            u.user_id
        ),
    )
    .await;
    assert_eq!(st, vec!["expired".to_string()]);
    assert_gateway_error(
        send_text(&app, &u.session_token, PHONE, "x").await,
        403,
        "no active subscription found",
    )
    .await;

    // An expired active row with a smaller id does not shadow a valid one.
    let v = app.create_user("two-rows").await;
    exec(&app, &format!(
        r#"INSERT INTO "ServicesWhatsappCustomers" ("id","customerId","packageId","status","activatedAt","expiredAt","updatedAt")
           SELECT 'a0000000000000000000000000', "customerId", "packageId", 'active', now(), now() - interval '1 day', now()
           FROM "ServicesWhatsappCustomers" WHERE "customerId"='{}'"#, v.user_id)).await;
    let resp = send_text(&app, &v.session_token, PHONE, "x").await;
    assert_eq!(resp.status(), 200);
}

#[actix_web::test]
async fn gateway_cache_stops_a_removed_session_within_the_ttl() {
    let app = spawn_app_with(|s| s.entitlement_cache_ttl = Duration::from_millis(300)).await;
    let u = app.create_user("cache").await;
    assert_eq!(
        send_text(&app, &u.session_token, PHONE, "a").await.status(),
        200
    );
    exec(
        &app,
        &format!(
            r#"DELETE FROM "WhatsAppSession" WHERE id='{}'"#,
            u.session_id
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_gateway_error(
        send_text(&app, &u.session_token, PHONE, "b").await,
        403,
        "invalid token",
    )
    .await;
    // A revoked subscription likewise.
    let v = app.create_user("cache2").await;
    assert_eq!(
        send_text(&app, &v.session_token, PHONE, "a").await.status(),
        200
    );
    exec(
        &app,
        &format!(
            r#"UPDATE "ServicesWhatsappCustomers" SET status='cancelled' WHERE "customerId"='{}'"#,
            v.user_id
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_gateway_error(
        send_text(&app, &v.session_token, PHONE, "b").await,
        403,
        "no active subscription found",
    )
    .await;
}

async fn add_session(app: &TestApp, u: &TestUser, name: &str, connected: bool) -> String {
    let token = format!("tok-{}", uuid::Uuid::new_v4().simple());
    let mut fake = FakeUser::new(name, &token);
    fake.connected = connected;
    let mut conn = app.conn().await;
    wa_gateway::db::queries::admin::add_session(
        &mut conn,
        &wa_gateway::domain::UserId(u.user_id.clone()),
        wa_gateway::db::queries::admin::NewSessionSpec {
            session_key: fake.id.clone(),
            name: name.to_string(),
            token: token.clone(),
            connected,
        },
    )
    .await
    .expect("session");
    app.upstream.add_user(fake);
    token
}

async fn connect(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/wa/session/connect"))
        .header("token", token)
        .json(&json!({"Subscribe": ["Message"], "Immediate": true}))
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn gateway_session_limit_counts_other_sessions_and_serialises_connects() {
    let app = spawn_app().await;
    // Limit 2; one session already connected (the helper's).
    let u = app
        .create_user_with("limit", 2, chrono::Duration::days(30))
        .await;
    let b = add_session(&app, &u, "limit-b", false).await;
    let c = add_session(&app, &u, "limit-c", false).await;
    let (rb, rc) = tokio::join!(connect(&app, &b), connect(&app, &c));
    let statuses = [rb.status().as_u16(), rc.status().as_u16()];
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.contains(&403), "{statuses:?}");
    let refused = if rb.status() == 403 { rb } else { rc };
    assert_gateway_error(
        refused,
        403,
        "session limit exceeded. Maximum allowed: 2, current: 2",
    )
    .await;
    // The helper's own session is connected: reconnecting it counts only the others (1 < 2)
    // and reaches the upstream (which answers for itself).
    let r = connect(&app, &u.session_token).await;
    assert_ne!(r.status(), 403);

    // Package not found.
    exec(
        &app,
        &format!(
            r#"UPDATE "ServicesWhatsappCustomers" SET "packageId"='missing' WHERE "customerId"='{}'"#,
            u.user_id
        ),
    )
    .await;
    assert_gateway_error(connect(&app, &b).await, 403, "package not found").await;
}

#[derive(QueryableByName, Debug)]
struct Stats {
    #[diesel(sql_type = Text)]
    session: String,
    #[diesel(sql_type = BigInt)]
    sent: i64,
    #[diesel(sql_type = BigInt)]
    failed: i64,
    #[diesel(sql_type = BigInt)]
    text_sent: i64,
    #[diesel(sql_type = BigInt)]
    text_failed: i64,
    #[diesel(sql_type = BigInt)]
    image_failed: i64,
    #[diesel(sql_type = BigInt)]
    rows: i64,
}

async fn stats_of(app: &TestApp, user: &str) -> Vec<Stats> {
    let mut conn = app.conn().await;
    diesel::sql_query(
        r#"SELECT "sessionId" AS session, sum("totalMessagesSent")::int8 AS sent,
             sum("totalMessagesFailed")::int8 AS failed, sum("textMessagesSent")::int8 AS text_sent,
             sum("textMessagesFailed")::int8 AS text_failed, sum("imageMessagesFailed")::int8 AS image_failed,
             count(*) AS rows
           FROM "WhatsAppMessageStats" WHERE "userId" = $1 GROUP BY "sessionId" ORDER BY 1"#,
    )
    .bind::<Text, _>(user)
    .load(&mut conn)
    .await
    .expect("stats")
}

#[actix_web::test]
async fn gateway_stats_are_exact_under_1000_concurrent_sends_across_10_sessions() {
    let app = spawn_app().await;
    let u = app
        .create_user_with("stats", 20, chrono::Duration::days(30))
        .await;
    let mut tokens = vec![u.session_token.clone()];
    for i in 0..9 {
        tokens.push(add_session(&app, &u, &format!("stats-{i}"), true).await);
    }
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(200));
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let token = tokens[i % 10].clone();
        let client = app.client.clone();
        let url = app.url("/wa/chat/send/text");
        let sem = sem.clone();
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire().await.unwrap();
            client
                .post(url)
                .header("token", token)
                .json(&json!({"Phone": PHONE, "Body": format!("m{i}")}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let rows = eventually(Duration::from_secs(10), || async {
        let rows = stats_of(&app, &u.user_id).await;
        (rows.len() == 10 && rows.iter().all(|r| r.sent == 100)).then_some(rows)
    })
    .await;
    for r in &rows {
        assert_eq!(
            (r.sent, r.failed, r.text_sent, r.rows),
            (100, 0, 100, 1),
            "{r:?}"
        );
    }
}

#[actix_web::test]
async fn gateway_stats_count_upstream_failures_but_not_gateway_failures() {
    let app = spawn_app_with(|s| s.proxy_timeout = Duration::from_millis(500)).await;
    let u = app.create_user("stats-fail").await;
    app.upstream
        .inject_fault(FaultRule::next("/chat/send", FaultKind::SendError, 1));
    let resp = send_text(&app, &u.session_token, PHONE, "x").await;
    assert_eq!(resp.status(), 500);
    let body = json(resp).await;
    assert!(
        body.get("status").is_none(),
        "upstream body relayed: {body}"
    );
    // Not counted: a 504 (outcome unknown) and an image the gateway refused.
    app.upstream.inject_fault(FaultRule::next(
        "/chat/send",
        FaultKind::Hang(Duration::from_secs(2)),
        1,
    ));
    assert_gateway_error(
        send_text(&app, &u.session_token, PHONE, "y").await,
        504,
        "WhatsApp server did not answer in time; the outcome is unknown",
    )
    .await;
    let resp = app
        .client
        .post(app.url("/wa/chat/send/image"))
        .header("token", &u.session_token)
        .json(&json!({"Phone": PHONE, "Image": "http://127.0.0.1:1/x.png"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        send_text(&app, &u.session_token, PHONE, "z").await.status(),
        200
    );
    let rows = eventually(Duration::from_secs(5), || async {
        let rows = stats_of(&app, &u.user_id).await;
        (rows.len() == 1 && rows[0].sent == 1).then_some(rows)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let rows2 = stats_of(&app, &u.user_id).await;
    assert_eq!(rows2[0].failed, 1, "{rows:?}");
    assert_eq!(rows2[0].text_failed, 1);
    assert_eq!(rows2[0].image_failed, 0);
    assert_eq!(rows2[0].session, u.session_key);
}

#[actix_web::test]
async fn gateway_unreachable_upstream_is_502_and_oversized_body_is_413() {
    let app = spawn_app_with(|s| {
        s.upstream_url = Some(url::Url::parse("http://127.0.0.1:1/").unwrap());
        s.proxy_max_body_bytes = 1000;
    })
    .await;
    let u = app.create_user("unreach").await;
    assert_gateway_error(
        send_text(&app, &u.session_token, PHONE, "x").await,
        502,
        "Failed to reach WhatsApp server",
    )
    .await;
    let big = "x".repeat(5000);
    assert_gateway_error(
        send_text(&app, &u.session_token, PHONE, &big).await,
        413,
        "Request body too large",
    )
    .await;
    // Streamed (chunked) bodies are capped too.
    let stream = futures_util::stream::iter(
        (0..10).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'a'; 500]))),
    );
    let resp = app
        .client
        .post(app.url("/wa/chat/send/text"))
        .header("token", &u.session_token)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_gateway_error(resp, 413, "Request body too large").await;
}

#[actix_web::test]
async fn gateway_admin_and_webhook_events_bypass_checks_and_admin_allow_list_applies() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/wa/admin/users"))
        .header("Authorization", app.upstream.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Without a token the gateway does not answer 401 for /webhook/events: the upstream does.
    let resp = app
        .client
        .get(app.url("/wa/webhook/events"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    assert!(!text.contains("Token required"), "{status} {text}");

    let closed = spawn_app_with(|s| s.admin_allowed_ips = vec!["10.9.9.9".into()]).await;
    let resp = closed
        .client
        .get(closed.url("/wa/admin/users"))
        .header("Authorization", closed.upstream.admin_token())
        .send()
        .await
        .unwrap();
    assert_gateway_error(resp, 403, "admin access not allowed from this address").await;
    let open = spawn_app_with(|s| s.admin_allowed_ips = vec!["127.0.0.0/8".into()]).await;
    let resp = open
        .client
        .get(open.url("/wa/admin/users"))
        .header("Authorization", open.upstream.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

// ---- a local upstream that echoes what it received -------------------------------------

async fn echo(req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if req.path().ends_with("/chat/redirect") {
        return HttpResponse::Found()
            .insert_header(("Location", "/elsewhere"))
            .finish();
    }
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    HttpResponse::Ok()
        .append_header(("X-Multi", "one"))
        .append_header(("X-Multi", "two"))
        .json(json!({
            "uri": req.uri().to_string(),
            "headers": headers,
            "body_len": body.len(),
        }))
}

/// A local HTTP server: the echo upstream or the image server.
fn start_server(images_mode: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let app = App::new();
        if images_mode {
            app.default_service(web::to(images))
        } else {
            app.default_service(web::to(echo))
        }
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    format!("http://127.0.0.1:{port}")
}

#[actix_web::test]
async fn gateway_forwards_raw_path_strips_hop_by_hop_and_cookies_keeps_multi_headers_relays_redirects(
) {
    let upstream = start_server(false);
    let base = format!("{upstream}/base/");
    let app = spawn_app_with(move |s| s.upstream_url = Some(url::Url::parse(&base).unwrap())).await;
    let u = app.create_user("echo").await;
    let resp = app
        .client
        .get(app.url("/wa/user/info/a%2Fb?x=1&y=%20z"))
        .header("Authorization", format!("Bearer {}", u.session_token))
        .header("Cookie", "sid=secret")
        .header("Connection", "keep-alive, X-Private")
        .header("X-Private", "drop me")
        .header("X-Keep", "kept")
        .header("X-Forwarded-For", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let multi: Vec<_> = resp
        .headers()
        .get_all("x-multi")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(multi, vec!["one", "two"]);
    let v = json(resp).await;
    assert_eq!(v["uri"], "/base/user/info/a%2Fb?x=1&y=%20z");
    let headers: Vec<(String, String)> = serde_json::from_value(v["headers"].clone()).unwrap();
    let get = |n: &str| {
        headers
            .iter()
            .filter(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(get("token"), vec![u.session_token.clone()]);
    assert!(get("cookie").is_empty());
    assert!(get("x-private").is_empty());
    assert_eq!(get("x-keep"), vec!["kept"]);
    assert_eq!(get("x-forwarded-for"), vec!["203.0.113.7, 127.0.0.1"]);
    assert_eq!(get("x-forwarded-proto"), vec!["http"]);

    let resp = app
        .client
        .post(app.url("/wa/chat/redirect"))
        .header("token", &u.session_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "/elsewhere");

    // A large body is streamed through whole.
    let big = vec![b'a'; 200 * 1024];
    let resp = app
        .client
        .post(app.url("/wa/chat/upload"))
        .header("token", &u.session_token)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(json(resp).await["body_len"], 200 * 1024);
}

// ---- image inlining and the SSRF guard -------------------------------------------------

const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R',
];

async fn images(req: HttpRequest) -> HttpResponse {
    match req.path() {
        "/ok.png" => HttpResponse::Ok().content_type("image/png").body(PNG),
        "/page.html" => HttpResponse::Ok()
            .content_type("image/png")
            .body("<html><body>not an image</body></html>"),
        "/big.png" => {
            let mut v = PNG.to_vec();
            v.resize(2 * 1024 * 1024, 0);
            HttpResponse::Ok().content_type("image/png").body(v)
        }
        "/to-private" => HttpResponse::Found()
            .insert_header(("Location", "http://10.0.0.1/x.png"))
            .finish(),
        "/to-ok" => HttpResponse::Found()
            .insert_header(("Location", "/ok.png"))
            .finish(),
        _ => HttpResponse::NotFound().finish(),
    }
}

async fn send_image(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/wa/chat/send/image"))
        .header("token", token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn gateway_image_url_is_inlined_keeping_other_keys() {
    let img = start_server(true);
    let app = spawn_app().await;
    let u = app.create_user("img").await;
    let resp = send_image(
        &app,
        &u.session_token,
        json!({"Phone": PHONE, "image": format!("{img}/to-ok"), "Caption": "c", "Id": "MYID-1"}),
    )
    .await;
    // The fake upstream accepts only canonical key spellings: `image` stays as sent.
    let _ = resp.text().await;
    let resp = send_image(
        &app,
        &u.session_token,
        json!({"Phone": PHONE, "Image": format!("{img}/ok.png"), "Caption": "c", "Id": "MYID-2"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v = json(resp).await;
    assert_eq!(v["data"]["Id"], "MYID-2", "{v}");
    let sent = app.upstream.journal();
    let m = sent.iter().find(|m| m.id == "MYID-2").expect("journaled");
    assert!(m.caller_id);
    assert!(m
        .image
        .as_deref()
        .unwrap()
        .starts_with("data:image/png;base64,"));
}

#[actix_web::test]
async fn gateway_image_bad_and_forbidden_urls_are_400() {
    let img = start_server(true);
    let app = spawn_app_with(|s| s.image_max_bytes = 1024 * 1024).await;
    let u = app.create_user("img-bad").await;
    for (path, reason) in [
        (
            "/page.html",
            "content is not a PNG, JPEG, GIF or WebP image",
        ),
        ("/big.png", "image larger than 1048576 bytes"),
        ("/missing.png", "failed to download image: HTTP 404"),
        ("/to-private", "host resolves to a non-public address"),
    ] {
        let resp = send_image(
            &app,
            &u.session_token,
            json!({"Phone": PHONE, "Image": format!("{img}{path}")}),
        )
        .await;
        assert_gateway_error(resp, 400, &format!("Failed to process image: {reason}")).await;
    }
    // Without the test-only loopback allowance every non-public target is refused.
    let strict = spawn_app_with(|s| s.image_allow_loopback = false).await;
    let s = strict.create_user("img-ssrf").await;
    let port = img.rsplit(':').next().unwrap().to_string();
    for url in [
        format!("http://127.0.0.1:{port}/ok.png"),
        format!("http://localhost:{port}/ok.png"),
        "http://10.1.2.3/x.png".to_string(),
        "http://172.16.5.4/x.png".to_string(),
        "http://192.168.1.1/x.png".to_string(),
        "http://169.254.169.254/latest/meta-data".to_string(),
        format!("http://[::1]:{port}/ok.png"),
        "http://[fd00::1]/x.png".to_string(),
    ] {
        let resp = send_image(
            &strict,
            &s.session_token,
            json!({"Phone": PHONE, "Image": url}),
        )
        .await;
        assert_gateway_error(
            resp,
            400,
            "Failed to process image: host resolves to a non-public address",
        )
        .await;
    }
    assert!(app.upstream.journal().is_empty());
    assert!(strict.upstream.journal().is_empty());
}

// ---- logs --------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> Buf {
    static BUF: std::sync::OnceLock<Buf> = std::sync::OnceLock::new();
    BUF.get_or_init(|| {
        use tracing_subscriber::prelude::*;
        let buf = Buf::default();
        let w = buf.clone();
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(move || w.clone());
        let filter = tracing_subscriber::EnvFilter::new(
            "info,wa_gateway=trace,wa_gateway::fake_upstream=off",
        );
        tracing_subscriber::registry()
            .with(filter)
            .with(layer)
            .try_init()
            .expect("global subscriber");
        buf
    })
    .clone()
}

#[actix_web::test]
async fn gateway_logs_never_contain_token_body_or_whole_phone() {
    let buf = capture_logs();
    let app = spawn_app().await;
    let u = app.create_user("logs").await;
    let phone = "6289911223344";
    let secret_body = "very-secret-message-body-7d1c";
    let resp = send_text(&app, &u.session_token, phone, secret_body).await;
    assert_eq!(resp.status(), 200);
    let resp = app
        .client
        .get(app.url(&format!("/wa/user/info?token={}", u.session_token)))
        .send()
        .await
        .unwrap();
    let _ = resp.text().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logs = String::from_utf8_lossy(&buf.0.lock().unwrap()).to_string();
    assert!(logs.contains("proxied"), "the gateway logged nothing");
    assert!(!logs.contains(&u.session_token), "token in logs");
    assert!(!logs.contains(secret_body), "body in logs");
    assert!(!logs.contains(phone), "phone in logs");
}

/// The owner's table in two-database mode may lack the unique key the upsert needs: there the
/// recorder serialises per (user, session) with an advisory lock. Two recorders (two instances)
/// write the same keys at once; nothing is written before their shutdown flush (the interval is
/// an hour), and after it every counter is exact with one row per key.
#[actix_web::test]
async fn gateway_stats_two_database_path_is_exact_and_shutdown_flushes_everything() {
    use wa_gateway::gateway::stats::Hit;
    use wa_gateway::gateway::StatsRecorder;

    let app = spawn_app().await;
    exec(
        &app,
        r#"DROP INDEX IF EXISTS "WhatsAppMessageStats_userId_sessionId_key""#,
    )
    .await;
    let recorders: Vec<StatsRecorder> = (0..2)
        .map(|_| {
            StatsRecorder::start(
                app.db.transactional.clone(),
                true,
                Duration::from_secs(3600),
            )
        })
        .collect();
    let keys = ["s-1", "s-2", "s-3"];
    for (r, rec) in recorders.iter().enumerate() {
        for i in 0..300 {
            rec.record(Hit {
                user_id: "two-db-user".into(),
                session_key: keys[i % 3].into(),
                // text (0) and image (1) sends; every fifth one failed upstream
                kind: Some((i + r) % 2),
                success: i % 5 != 0,
            });
        }
    }
    assert!(
        stats_of(&app, "two-db-user").await.is_empty(),
        "nothing is written before a flush"
    );
    futures_util::future::join_all(recorders.iter().map(|r| r.shutdown())).await;
    let rows = stats_of(&app, "two-db-user").await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    for r in &rows {
        // 2 recorders × 100 hits per key; 20 of each recorder's 100 failed.
        assert_eq!((r.sent + r.failed, r.failed, r.rows), (200, 40, 1), "{r:?}");
        assert_eq!(r.text_sent + r.text_failed, 100, "{r:?}");
    }
}
