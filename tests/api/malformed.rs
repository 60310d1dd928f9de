//! 1,000 malformed requests across every route (issue #8, item 5): bad JSON, wrong types, huge
//! numbers, bad ids in paths, bad query strings, missing or invalid auth, wrong content types,
//! invalid UTF-8. None may answer 5xx (or drop the connection), and `/health` stays 200.

use std::time::Duration;

use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::helpers::{json as body_json, spawn_app_with};

const REQUESTS: usize = 1000;

/// Routes of `src/http/mod.rs::configure` (plus `/wa/*`, `/webhook/wa` and a few paths and
/// methods that match nothing). `{id}`, `{sid}` and `{cid}` are replaced by bad or real values.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/health"),
    ("HEAD", "/health"),
    ("GET", "/webhook/wa"),
    ("POST", "/webhook/wa"),
    ("POST", "/webhook/wa"),
    ("PUT", "/webhook/wa"),
    ("GET", "/bulk/cron/process"),
    ("POST", "/bulk/campaign/execute"),
    ("POST", "/bulk/campaign/execute"),
    ("POST", "/bulk/campaign"),
    ("POST", "/bulk/campaign"),
    ("GET", "/bulk/campaign"),
    ("GET", "/bulk/campaign/{id}"),
    ("PUT", "/bulk/campaign/{id}"),
    ("PUT", "/bulk/campaign/{id}"),
    ("DELETE", "/bulk/campaign/{id}"),
    ("POST", "/bulk/contact/sync"),
    ("GET", "/bulk/contact"),
    ("POST", "/bulk/contact/add"),
    ("POST", "/bulk/contact/add"),
    ("DELETE", "/bulk/contact/delete"),
    ("GET", "/bulk/campaigns"),
    ("GET", "/bulk/campaigns/{id}"),
    ("DELETE", "/bulk/campaigns/{id}"),
    ("GET", "/bulk/campaigns/{id}/items"),
    ("GET", "/bulk/campaigns/{id}/events"),
    ("POST", "/bulk/campaigns/{id}/pause"),
    ("POST", "/bulk/campaigns/{id}/resume"),
    ("POST", "/bulk/campaigns/{id}/cancel"),
    ("POST", "/bulk/campaigns/{id}/retry"),
    ("GET", "/bulk/sessions/{sid}/chats"),
    ("GET", "/bulk/sessions/{sid}/chats/{cid}/messages"),
    ("GET", "/bulk/sessions/{sid}/state"),
    ("PUT", "/bulk/settings/chat-log"),
    ("PUT", "/bulk/settings/chat-log"),
    ("PATCH", "/bulk/campaigns/{id}"),
    ("GET", "/bulk/nothing/{id}"),
    ("OPTIONS", "/bulk/campaigns/{id}"),
    ("POST", "/wa/chat/send/text"),
    ("POST", "/wa/chat/send/text"),
    ("POST", "/wa/chat/send/image"),
    ("GET", "/wa/session/status"),
    ("POST", "/wa/session/connect"),
    ("GET", "/wa/user/contacts"),
    ("POST", "/wa/user/check"),
    ("GET", "/wa/webhook"),
    ("GET", "/wa/group/list"),
    ("GET", "/wa/admin/users"),
    ("GET", "/wa/webhook/events/{id}"),
    ("GET", "/wa/nothing/{id}"),
    ("GET", "/wa"),
    ("DELETE", "/wa/chat/send/text"),
];

const IDS: &[&str] = &[
    "1",
    "0",
    "-1",
    "abc",
    "99999999999999999999",
    "9223372036854775807",
    "-9223372036854775808",
    "1.5",
    "1e3",
    "%20",
    "%FF%FE",
    "%00",
    "1%27%20OR%201=1",
    "%F0%9F%98%80",
    "..%2F..%2Fetc",
    "0x10",
    "+1",
    "{template}",
    "{campaign}",
    "{campaign}",
];

const QUERIES: &[&str] = &[
    "",
    "",
    "?page=abc",
    "?page=-1&limit=-1",
    "?page=0&limit=0",
    "?page=99999999999999999999",
    "?page=9223372036854775807&limit=9223372036854775807",
    "?page=-9223372036854775808&limit=9223372036854775807",
    "?page=2&limit=9223372036854775807",
    "?limit=1.5",
    "?status=%FF%FE",
    "?status=bogus",
    "?status=sent&status=failed",
    "?search=%00",
    "?search=%25%27%22",
    "?search=%FF",
    "?page=1e3",
    "?secret=x",
    "?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=%FF%00",
    "?hub.mode=subscribe&hub.verify_token=wrong",
    "?token=garbage",
    "?token={session_token}",
    "?%%%=%%",
    "?page=1&page=2",
    "?=&=&&",
];

const CONTENT_TYPES: &[Option<&str>] = &[
    Some("application/json"),
    Some("application/json"),
    Some("application/json"),
    Some("text/plain"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data"),
    Some("application/json; charset=utf-16"),
    Some("application/xml"),
    Some("*/*"),
    Some("garbage"),
    None,
];

const KEYS: &[&str] = &[
    "campaign_id",
    "name",
    "phone",
    "send_sync",
    "timezone",
    "session_id",
    "type",
    "message_body",
    "image_url",
    "image_base64",
    "caption",
    "status",
    "enabled",
    "contacts",
    "full_name",
    "Phone",
    "Body",
    "Image",
    "Id",
    "Caption",
    "webhookurl",
    "events",
    "event",
    "userID",
    "instanceName",
    "jsonData",
];

/// Raw JSON values, many of them wrong for every field.
fn value(rng: &mut StdRng, depth: usize) -> String {
    let simple = [
        "null",
        "true",
        "-1",
        "0",
        "1",
        "1.5",
        "1e308",
        "1e309",
        "-1e309",
        "18446744073709551616",
        "-9223372036854775809",
        "9223372036854775807",
        "99999999999999999999999999999999",
        "\"\"",
        "\"x\"",
        "\"\\u0000\"",
        "\"a\\u0000b\"",
        "\"\\ud800\"",
        "\"😀😀😀\"",
        "\"now\"",
        "\"2025-13-45 25:61\"",
        "\"31/02/2025 10:00\"",
        "\"9999-12-31T23:59:59+14:00\"",
        "\"Mars/Phobos\"",
        "\"+99:99\"",
        "\"text\"",
        "\"image\"",
        "\"video\"",
        "\"paused\"",
        "\"6281234567890\"",
        "\"+62 812-0000-0001\"",
        "\"data:image/png;base64,!!!!\"",
        "\"data:image/png;base64,iVBORw0KGgo=\"",
        "\"http://169.254.169.254/latest/meta-data\"",
        "\"http://127.0.0.1:1/x.png\"",
        "\"file:///etc/passwd\"",
        "\"' OR 1=1 --\"",
        "[]",
        "[1,2]",
        "[null]",
        "[\"6281234567890\", 5, null]",
        "[\"not-a-number\", \"\", \"+\"]",
        "{}",
        "{\"a\":1}",
        "[{\"phone\": 1}]",
        "[{\"phone\": \"6281234567890\", \"full_name\": [1]}]",
        "[{\"phone\": \"\\u0000\", \"full_name\": \"\\u0000\"}]",
    ];
    match rng.gen_range(0..20) {
        0 => format!("\"{}\"", "x".repeat(rng.gen_range(256..5000))),
        1 => format!("\"{}\"", "9".repeat(rng.gen_range(20..400))),
        2 if depth < 2 => {
            let n = rng.gen_range(0..4);
            let items: Vec<String> = (0..n).map(|_| value(rng, depth + 1)).collect();
            format!("[{}]", items.join(","))
        }
        3 => format!("{}{}", "[".repeat(300), "]".repeat(300)),
        _ => simple.choose(rng).expect("value").to_string(),
    }
}

fn body(rng: &mut StdRng, session_key: &str) -> Vec<u8> {
    match rng.gen_range(0..24) {
        0 => Vec::new(),
        1 => b"{".to_vec(),
        2 => b"null".to_vec(),
        3 => b"[]".to_vec(),
        4 => b"\"just a string\"".to_vec(),
        5 => b"{\"a\":}".to_vec(),
        6 => b"{\"name\":\"\xff\xfe\xfd\",\"phone\":[\"\xc3\x28\"]}".to_vec(),
        7 => b"\xef\xbb\xbf{\"name\":\"bom\"}".to_vec(),
        8 => b"a=b&c=%FF&jsonData=%7B".to_vec(),
        9 => b"instanceName=x&userID=y&jsonData=%7B%22type%22%3A%22Message%22%7D".to_vec(),
        10 => b"{\"name\":\"a\",\"name\":\"b\",\"campaign_id\":1,\"campaign_id\":\"1\"}".to_vec(),
        11 => vec![0u8; rng.gen_range(1..2048)],
        12 => {
            // a webhook-looking event for the real session, with bad members
            format!(
                "{{\"type\":{},\"userID\":\"{session_key}\",\"event\":{}}}",
                value(rng, 0),
                value(rng, 0)
            )
            .into_bytes()
        }
        _ => {
            let n = rng.gen_range(1..6);
            let members: Vec<String> = (0..n)
                .map(|_| format!("\"{}\":{}", KEYS.choose(rng).expect("key"), value(rng, 0)))
                .collect();
            format!("{{{}}}", members.join(",")).into_bytes()
        }
    }
}

struct Setup {
    bearer: String,
    session_token: String,
    session_id: String,
    session_key: String,
    template: i64,
    campaign: i64,
}

fn bad_jwt() -> String {
    use jsonwebtoken::{encode, EncodingKey, Header};
    encode(
        &Header::default(),
        &json!({"sub": "someone", "exp": 4_102_444_800u64}),
        &EncodingKey::from_secret(b"not-the-secret"),
    )
    .expect("jwt")
}

fn fill(template: &str, rng: &mut StdRng, s: &Setup) -> String {
    let pick_id = |rng: &mut StdRng| -> String {
        match *IDS.choose(rng).expect("id") {
            "{template}" => s.template.to_string(),
            "{campaign}" => s.campaign.to_string(),
            other => other.to_string(),
        }
    };
    let sid = match rng.gen_range(0..6) {
        0 | 1 => s.session_id.clone(),
        2 => s.session_key.clone(),
        _ => pick_id(rng),
    };
    let cid = ["6281234567890@s.whatsapp.net", "x", "%00", "%FF", "1"]
        .choose(rng)
        .expect("cid")
        .to_string();
    let id = pick_id(rng);
    template
        .replace("{id}", &id)
        .replace("{sid}", &sid)
        .replace("{cid}", &cid)
}

#[actix_web::test]
async fn a_thousand_malformed_requests_get_no_5xx() {
    let seed: u64 = std::env::var("MALFORMED_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let app = spawn_app_with(|s| {
        s.send_rate_per_sec = 0.0;
        s.webhook_verify_token = Some(secrecy::SecretString::from("verify-me".to_string()));
    })
    .await;
    let user = app.create_user("fuzz").await;
    let template = app.insert_text_template(&user.user_id, "Halo").await;
    let resp = app
        .post_json(
            "/bulk/campaign/execute",
            Some(&user.bearer),
            &json!({"campaign_id": template, "name": "fuzz", "phone": ["6281234500001"], "send_sync": "now"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let campaign = body_json(resp).await["data"]["bulk_campaign_id"]
        .as_i64()
        .expect("id");
    let setup = Setup {
        bearer: user.bearer.clone(),
        session_token: user.session_token.clone(),
        session_id: user.session_id.clone(),
        session_key: user.session_key.clone(),
        template,
        campaign,
    };
    let wrong_jwt = bad_jwt();

    let mut rng = StdRng::seed_from_u64(seed);
    let mut requests = Vec::with_capacity(REQUESTS);
    for k in 0..REQUESTS {
        // Every route in turn, the rest drawn at random.
        let (method, path) = ROUTES[k % ROUTES.len()];
        let path = fill(path, &mut rng, &setup);
        let query = QUERIES
            .choose(&mut rng)
            .expect("query")
            .replace("{session_token}", &setup.session_token);
        let url = format!("{}{}", app.address, path) + &query;
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        if path.starts_with("/wa") {
            match rng.gen_range(0..6) {
                0 => {}
                1 => headers.push(("token".into(), b"garbage".to_vec())),
                2 => headers.push(("token".into(), b"\xff\xfe".to_vec())),
                3 => headers.push((
                    "authorization".into(),
                    format!("Bearer {}", setup.session_token).into_bytes(),
                )),
                _ => headers.push(("token".into(), setup.session_token.clone().into_bytes())),
            }
        } else {
            match rng.gen_range(0..10) {
                0 => {}
                1 => headers.push(("authorization".into(), b"Bearer".to_vec())),
                2 => headers.push(("authorization".into(), b"Bearer garbage".to_vec())),
                3 => headers.push(("authorization".into(), b"Basic Zm9vOmJhcg==".to_vec())),
                4 => headers.push((
                    "authorization".into(),
                    format!("Bearer {wrong_jwt}").into_bytes(),
                )),
                5 => headers.push((
                    "authorization".into(),
                    format!("Bearer {}x", setup.bearer).into_bytes(),
                )),
                6 => headers.push(("authorization".into(), b"Bearer \xff\xfe\x80".to_vec())),
                _ => headers.push((
                    "authorization".into(),
                    format!("Bearer {}", setup.bearer).into_bytes(),
                )),
            }
        }
        if let Some(ct) = CONTENT_TYPES.choose(&mut rng).expect("content type") {
            headers.push(("content-type".into(), ct.as_bytes().to_vec()));
        }
        match rng.gen_range(0..8) {
            0 => headers.push((
                "idempotency-key".into(),
                "k".repeat(rng.gen_range(1..3000)).into_bytes(),
            )),
            1 => headers.push(("x-hmac-signature".into(), b"zz-not-hex".to_vec())),
            2 => headers.push(("accept".into(), b"text/event-stream".to_vec())),
            _ => {}
        }
        let body = if method == "GET" || method == "HEAD" {
            if rng.gen_bool(0.1) {
                body(&mut rng, &setup.session_key)
            } else {
                Vec::new()
            }
        } else {
            body(&mut rng, &setup.session_key)
        };
        requests.push((method, url, headers, body));
    }

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let results: Vec<(String, String, u16, String)> = futures_util::stream::iter(requests)
        .map(|(method, url, headers, body)| {
            let client = client.clone();
            async move {
                let mut req = client.request(method.parse().expect("method"), &url);
                for (k, v) in headers {
                    req = req.header(
                        k.as_str(),
                        reqwest::header::HeaderValue::from_bytes(&v).expect("header value"),
                    );
                }
                let described = format!("{method} {url}");
                let body_preview =
                    String::from_utf8_lossy(&body[..body.len().min(200)]).to_string();
                match req.body(body).send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let text = r.text().await.unwrap_or_default();
                        (
                            described,
                            body_preview,
                            status,
                            text.chars().take(300).collect(),
                        )
                    }
                    Err(e) => (described, body_preview, 0, format!("request failed: {e}")),
                }
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;

    let mut histogram = std::collections::BTreeMap::new();
    for (_, _, status, _) in &results {
        *histogram.entry(*status).or_insert(0usize) += 1;
    }
    // A 5xx the upstream itself gave (the real one answers `500 {"code":500,"error":"already
    // connected","success":false}` to a second connect) is relayed as-is by the `/wa/*` proxy:
    // it is the upstream's answer, not the gateway's. Gateway-made errors carry `error_code`.
    let relayed = |req: &str, text: &str| {
        req.contains("/wa/")
            && serde_json::from_str::<serde_json::Value>(text)
                .is_ok_and(|v| v.get("success").is_some() && v.get("error_code").is_none())
    };
    let bad: Vec<_> = results
        .iter()
        .filter(|(req, _, status, text)| (*status >= 500 && !relayed(req, text)) || *status == 0)
        .collect();
    assert_eq!(results.len(), REQUESTS);
    assert!(
        bad.is_empty(),
        "{} of {REQUESTS} malformed requests answered 5xx or dropped (statuses {histogram:?}):\n{}",
        bad.len(),
        bad.iter()
            .take(40)
            .map(|(req, body, status, text)| format!(
                "{status} {req}\n    body: {body}\n    answer: {text}"
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Most of them reached a handler and were refused with a 4xx.
    assert!(
        histogram.range(400..500).map(|(_, n)| n).sum::<usize>() > REQUESTS / 2,
        "{histogram:?}"
    );
    let health = app.get("/health", None).await;
    assert_eq!(health.status(), 200);
}

/// A webhook whose strings hold U+0000 (which PostgreSQL `text`/`jsonb` cannot store) is stored
/// with the character replaced, and does not fail the other events committed with it.
#[actix_web::test]
async fn a_webhook_with_nul_characters_is_stored_and_spoils_no_batch() {
    let app = spawn_app_with(|_| {}).await;
    let user = app.create_user("nul").await;
    let bodies: Vec<Vec<u8>> = (0..21)
        .map(|i| {
            let text = if i == 10 {
                "a\u{0}b".to_string()
            } else {
                format!("pesan {i}")
            };
            let mut ev = wa_gateway::fake_upstream::incoming_text_event("6281234567890", &text);
            ev["userID"] = json!(user.session_key);
            if i == 10 {
                ev["type"] = json!("Message");
                ev["extra\u{0}key"] = json!("\u{0}");
            }
            serde_json::to_vec(&ev).expect("json")
        })
        .collect();
    assert!(bodies[10].windows(6).any(|w| w == b"\\u0000"));
    let url = app.url("/webhook/wa");
    let statuses: Vec<u16> = futures_util::future::join_all(bodies.into_iter().map(|b| {
        app.client
            .post(&url)
            .header("content-type", "application/json")
            .body(b)
            .send()
    }))
    .await
    .into_iter()
    .map(|r| r.map(|r| r.status().as_u16()).unwrap_or(0))
    .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    // A raw 0 byte is valid in neither envelope: 400, nothing stored.
    let resp = app
        .client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"instanceName=x&userID=y&jsonData={\"type\":\"Message\"}\0".to_vec())
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 400);
}
