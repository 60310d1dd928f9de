use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

use super::*;

const TOKEN: &str = "tok-1";
const KEY: &str = "test-hmac-key-0123456789abcdef-0123";
const PNG_1X1: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

async fn fake() -> (FakeUpstream, FakeUser) {
    let fake = FakeUpstream::start(FakeUpstreamConfig {
        delivered_after: Duration::from_millis(30),
        read_after: Duration::from_millis(60),
        webhook_retry_delay: Duration::from_millis(10),
        ..Default::default()
    })
    .await
    .expect("start");
    let user = FakeUser::new("cs-team-1", TOKEN);
    fake.add_user(user.clone());
    (fake, user)
}

async fn call(
    fake: &FakeUpstream,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut req = client().request(method, format!("{}{}", fake.base_url(), path));
    if let Some(t) = token {
        req = req.header("token", t);
    }
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

async fn post(fake: &FakeUpstream, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let (s, b) = call(fake, reqwest::Method::POST, path, token, Some(body)).await;
    (s, serde_json::from_str(&b).unwrap_or(Value::String(b)))
}

async fn get(fake: &FakeUpstream, path: &str, token: Option<&str>) -> (u16, Value) {
    let (s, b) = call(fake, reqwest::Method::GET, path, token, None).await;
    (s, serde_json::from_str(&b).unwrap_or(Value::String(b)))
}

fn err(code: u16, msg: &str) -> Value {
    json!({"code": code, "error": msg, "success": false})
}

async fn wait_until(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

// --- a small webhook receiver ------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Hit {
    content_type: String,
    signature: Option<String>,
    body: Vec<u8>,
}

#[derive(Clone, Default)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    fail_first: Arc<AtomicU32>,
}

impl Receiver {
    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("lock").clone()
    }

    /// Events received, parsed from either format.
    fn events(&self) -> Vec<Value> {
        self.hits()
            .iter()
            .map(|h| {
                if h.content_type.starts_with("application/json") {
                    serde_json::from_slice(&h.body).expect("json")
                } else {
                    let form: Vec<(String, String)> =
                        serde_urlencoded::from_bytes(&h.body).expect("form");
                    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                    let mut v: Value =
                        serde_json::from_str(&get("jsonData").expect("jsonData")).expect("json");
                    v["userID"] = json!(get("userID"));
                    v["instanceName"] = json!(get("instanceName"));
                    v
                }
            })
            .collect()
    }
}

async fn hook(req: HttpRequest, body: web::Bytes, rx: web::Data<Receiver>) -> HttpResponse {
    let h = req.headers();
    rx.hits.lock().expect("lock").push(Hit {
        content_type: h
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
        signature: h
            .get("x-hmac-signature")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: body.to_vec(),
    });
    let left = rx.fail_first.load(Ordering::SeqCst);
    if left > 0 {
        rx.fail_first.store(left - 1, Ordering::SeqCst);
        return HttpResponse::InternalServerError().finish();
    }
    HttpResponse::Ok().finish()
}

async fn receiver(fail_first: u32) -> (String, Receiver) {
    let rx = Receiver::default();
    rx.fail_first.store(fail_first, Ordering::SeqCst);
    let data = web::Data::new(rx.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(hook))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    (format!("http://{addr}/hooks/wa"), rx)
}

// --- tests -------------------------------------------------------------------------------------

#[test]
fn hmac_test_vectors() {
    let json_body = r#"{"event":{},"instanceName":"cs-team-1","type":"Connected","userID":"5f2b8c9d0e1a4b3c8d7e6f5a4b3c2d1e"}"#;
    let form_body = "instanceName=cs-team-1&jsonData=%7B%22event%22%3A%7B%7D%2C%22type%22%3A%22Connected%22%7D&userID=5f2b8c9d0e1a4b3c8d7e6f5a4b3c2d1e";
    assert_eq!(
        sign_body(KEY, json_body.as_bytes()),
        "bea69dabb2f32d4166cba56c8dd312313e9377415b3e7386ae0a951aa34d1b69"
    );
    assert_eq!(
        sign_body(KEY, form_body.as_bytes()),
        "2ccece7cf62205b581beeaccc50b82821a3afdbec5380a22f9902c0a81cfec76"
    );
    // Our own body builders produce exactly these bytes.
    let uid = "5f2b8c9d0e1a4b3c8d7e6f5a4b3c2d1e";
    let (b, ct) = webhooks::build_body(WebhookFormat::Json, &connected_event(), uid, "cs-team-1");
    assert_eq!(ct, "application/json");
    assert_eq!(b.as_ref(), json_body.as_bytes());
    let (b, ct) = webhooks::build_body(WebhookFormat::Form, &connected_event(), uid, "cs-team-1");
    assert_eq!(ct, "application/x-www-form-urlencoded");
    assert_eq!(b.as_ref(), form_body.as_bytes());
}

#[test]
fn go_json_escapes_html() {
    assert_eq!(
        webhooks::go_json(&json!({"a": "<b>&</b>"})),
        r#"{"a":"\u003cb\u003e\u0026\u003c/b\u003e"}"#
    );
}

#[test]
fn subscription_filter() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(webhooks::subscription_allows(&s(&["All"]), "ReadReceipt"));
    assert!(!webhooks::subscription_allows(
        &s(&["ReadReceipt"]),
        "ReadReceipt"
    ));
    assert!(!webhooks::subscription_allows(
        &s(&["Message", "Receipt"]),
        "ReadReceipt"
    ));
    assert!(webhooks::subscription_allows(&s(&["Message"]), "Message"));
    assert!(!webhooks::subscription_allows(
        &s(&["Message"]),
        "MessageSent"
    ));
    assert!(!webhooks::subscription_allows(&[], "Message"));
}

#[test]
fn fault_rule_json() {
    let r: FaultRule =
        serde_json::from_str(r#"{"path_prefix":"/chat/send","kind":"hang","ms":250,"times":2}"#)
            .expect("parse");
    assert_eq!(r.kind, FaultKind::Hang(Duration::from_millis(250)));
    assert_eq!(r.times, Some(2));
    let back = serde_json::to_value(&r).expect("ser");
    assert_eq!(back["kind"], "hang");
    assert_eq!(back["ms"], 250);
}

#[actix_web::test]
async fn auth_401_and_token_sources() {
    let (fake, _) = fake().await;
    let body = r#"{"Phone":"6281234567890","Body":"hi"}"#;
    let (s, v) = post(&fake, "/chat/send/text", None, body).await;
    assert_eq!((s, v), (401, err(401, "unauthorized")));
    let (s, _) = post(&fake, "/chat/send/text", Some("wrong"), body).await;
    assert_eq!(s, 401);
    // Header name in any case.
    let resp = client()
        .post(format!("{}/chat/send/text", fake.base_url()))
        .header("Token", TOKEN)
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    // Query parameter.
    let (s, _) = post(&fake, &format!("/chat/send/text?token={TOKEN}"), None, body).await;
    assert_eq!(s, 200);
    // Raw body ends with a newline and keys are sorted.
    let (_, raw) = call(
        &fake,
        reqwest::Method::GET,
        "/session/status",
        Some("x"),
        None,
    )
    .await;
    assert_eq!(
        raw,
        "{\"code\":401,\"error\":\"unauthorized\",\"success\":false}\n"
    );
    // Unknown path and wrong method: plain-text 404.
    let (s, raw) = call(&fake, reqwest::Method::GET, "/nope", Some(TOKEN), None).await;
    assert_eq!((s, raw.as_str()), (404, "404 page not found\n"));
    let (s, _) = call(
        &fake,
        reqwest::Method::GET,
        "/chat/send/text",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(fake.sends_to("+6281234567890"), 2);
}

#[actix_web::test]
async fn send_text_success_with_caller_id() {
    let (fake, user) = fake().await;
    let (s, v) = post(
        &fake,
        "/chat/send/text",
        Some(TOKEN),
        r#"{"Phone":"+6281234567890","Body":"Halo Budi","Id":"3EB0CALLER00000000000001"}"#,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["code"], 200);
    assert_eq!(v["success"], true);
    assert_eq!(v["data"]["Details"], "Sent");
    assert_eq!(v["data"]["Id"], "3EB0CALLER00000000000001");
    assert!(v["data"]["Timestamp"].is_i64());

    // Generated id.
    let (_, v) = post(
        &fake,
        "/chat/send/text",
        Some(TOKEN),
        r#"{"Phone":"6281234567890@s.whatsapp.net","Body":"again"}"#,
    )
    .await;
    let id = v["data"]["Id"].as_str().expect("id");
    assert_eq!(id.len(), 22);
    assert!(id.starts_with("3EB0"));
    assert!(id[4..]
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));

    let j = fake.journal();
    assert_eq!(j.len(), 2);
    assert_eq!(j[0].user_id, user.id);
    assert_eq!(j[0].kind, "text");
    assert_eq!(j[0].chat, "6281234567890@s.whatsapp.net");
    assert!(j[0].caller_id);
    assert_eq!(j[0].body_digest, body_digest("Halo Budi"));
    assert_eq!(fake.sends_to("6281234567890"), 2);
    assert_eq!(fake.sends_to("6281234567891"), 0);
    fake.clear_journal();
    assert!(fake.journal().is_empty());
}

#[actix_web::test]
async fn send_text_validation_order() {
    let (fake, _) = fake().await;
    let p = "/chat/send/text";
    let cases: &[(&str, u16, &str)] = &[
        ("", 400, "could not decode Payload"),
        ("[]", 400, "could not decode Payload"),
        ("not json", 400, "could not decode Payload"),
        (
            r#"{"Phone":6281234567890,"Body":"x"}"#,
            400,
            "could not decode Payload",
        ),
        (
            r#"{"Phone":"62812","Body":"x","LinkPreview":"yes"}"#,
            400,
            "could not decode Payload",
        ),
        (r#"{}"#, 400, "missing Phone in Payload"),
        (
            r#"{"phone":"6281234567890","Body":"x"}"#,
            400,
            "missing Phone in Payload",
        ),
        (
            r#"{"Phone":"","Body":"x"}"#,
            400,
            "missing Phone in Payload",
        ),
        (
            r#"{"Phone":"6281234567890"}"#,
            400,
            "missing Body in Payload",
        ),
        (
            r#"{"Phone":"6281234567890","body":"x"}"#,
            400,
            "missing Body in Payload",
        ),
        (
            r#"{"Phone":"abc@","Body":"x"}"#,
            400,
            "could not parse Phone",
        ),
        (
            r#"{"Phone":"a@b@c","Body":"x"}"#,
            400,
            "could not parse Phone",
        ),
        (
            r#"{"Phone":"6281234567890","Body":"x","ContextInfo":{"StanzaID":"ABC"}}"#,
            400,
            "missing Participant in ContextInfo",
        ),
        (
            r#"{"Phone":"6281234567890","Body":"x","ContextInfo":{"Participant":"1@s.whatsapp.net"}}"#,
            400,
            "missing StanzaID in ContextInfo",
        ),
    ];
    for (body, code, msg) in cases {
        let (s, v) = post(&fake, p, Some(TOKEN), body).await;
        assert_eq!((s, v), (*code, err(*code, msg)), "body {body:?}");
    }
    assert!(fake.journal().is_empty());

    // A full reply reference and a group JID are fine.
    let (s, _) = post(
        &fake,
        p,
        Some(TOKEN),
        r#"{"Phone":"120363012345678901@g.us","Body":"x","ContextInfo":{"StanzaId":"ABC","Participant":"1@s.whatsapp.net"}}"#,
    )
    .await;
    assert_eq!(s, 200);

    // Connected but not logged in: validation first, then the send error.
    fake.set_session(TOKEN, true, false);
    let (s, v) = post(&fake, p, Some(TOKEN), r#"{"Phone":"6281234567890"}"#).await;
    assert_eq!((s, v), (400, err(400, "missing Body in Payload")));
    let (s, v) = post(
        &fake,
        p,
        Some(TOKEN),
        r#"{"Phone":"6281234567890","Body":"x"}"#,
    )
    .await;
    assert_eq!(
        (s, v),
        (
            500,
            err(
                500,
                "error sending message: the store doesn't contain a device JID"
            )
        )
    );

    // No session comes before decoding.
    fake.set_session(TOKEN, false, true);
    let (s, v) = post(&fake, p, Some(TOKEN), "").await;
    assert_eq!((s, v), (500, err(500, "no session")));
    assert_eq!(fake.journal().len(), 1);
}

#[actix_web::test]
async fn send_image_checks() {
    let (fake, _) = fake().await;
    let p = "/chat/send/image";
    let cases: &[(&str, u16, &str)] = &[
        (
            r#"{"Phone":"6281234567890"}"#,
            400,
            "missing Image in Payload",
        ),
        (
            r#"{"Phone":"6281234567890","Image":"/9j/4AAQ"}"#,
            400,
            r#"Image data should start with "data:image/png;base64,""#,
        ),
        (
            r#"{"Phone":"6281234567890","Image":"data:image/png;base64,@@@not base64"}"#,
            400,
            "could not decode base64 encoded data from payload",
        ),
        (
            r#"{"Phone":"6281234567890","Image":"data:image/png;base64,aGVsbG8="}"#,
            500,
            "could not decode image for thumbnail preparation: image: unknown format",
        ),
    ];
    for (body, code, msg) in cases {
        let (s, v) = post(&fake, p, Some(TOKEN), body).await;
        assert_eq!((s, v), (*code, err(*code, msg)), "body {body:?}");
    }
    let body = json!({"Phone": "6281234567890", "Image": PNG_1X1, "Caption": "Struk"}).to_string();
    let (s, v) = post(&fake, p, Some(TOKEN), &body).await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = post(
        &fake,
        p,
        Some(TOKEN),
        r#"{"Phone":"6281234567890","Image":"https://example.com/a.jpg"}"#,
    )
    .await;
    assert_eq!(s, 200);
    let j = fake.journal();
    assert_eq!(j.len(), 2);
    assert_eq!(j[0].kind, "image");
    assert_eq!(j[0].image.as_deref(), Some(PNG_1X1));
    assert_eq!(j[0].body_digest, body_digest("Struk"));

    fake.set_session(TOKEN, true, false);
    let (s, v) = post(&fake, p, Some(TOKEN), &body).await;
    assert_eq!(
        (s, v),
        (
            500,
            err(
                500,
                "Error sending message: the store doesn't contain a device JID"
            )
        )
    );
}

#[actix_web::test]
async fn other_send_types() {
    let (fake, _) = fake().await;
    let ok_cases = [
        (
            "video",
            json!({"Phone":"62811","Video":"data:video/mp4;base64,AAAA"}),
        ),
        (
            "audio",
            json!({"Phone":"62811","Audio":"data:audio/ogg;base64,AAAA"}),
        ),
        (
            "document",
            json!({"Phone":"62811","Document":"data:application/octet-stream;base64,AAAA","FileName":"a.pdf"}),
        ),
        (
            "sticker",
            json!({"Phone":"62811","Sticker":"data:image/webp;base64,AAAA"}),
        ),
        (
            "location",
            json!({"Phone":"62811","Latitude":-6.2,"Longitude":106.8}),
        ),
        (
            "contact",
            json!({"Phone":"62811","Name":"Budi","Vcard":"BEGIN:VCARD"}),
        ),
        (
            "buttons",
            json!({"Phone":"62811","Title":"T","Buttons":[{"ButtonId":"1","ButtonText":"Ya"}]}),
        ),
        (
            "edit",
            json!({"Phone":"62811","Body":"fixed","Id":"3EB0AAAAAAAAAAAAAAAAAA"}),
        ),
    ];
    for (kind, body) in ok_cases {
        let (s, v) = post(
            &fake,
            &format!("/chat/send/{kind}"),
            Some(TOKEN),
            &body.to_string(),
        )
        .await;
        assert_eq!(s, 200, "{kind}: {v}");
        assert!(v["data"]["Timestamp"].is_i64(), "{kind}");
    }
    let (s, v) = post(
        &fake,
        "/chat/send/list",
        Some(TOKEN),
        r#"{"Phone":"62811","ButtonText":"Menu","Desc":"d","TopText":"t","Sections":[{"title":"s","rows":[{"title":"r","desc":"","RowId":"1"}]}]}"#,
    )
    .await;
    assert_eq!(s, 200);
    assert!(v["data"]["Timestamp"].is_string());
    let (s, v) = post(
        &fake,
        "/chat/send/poll",
        Some(TOKEN),
        r#"{"group":"120363012345678901@g.us","header":"Q?","options":["a","b"]}"#,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["data"]["Details"], "Poll sent successfully");
    assert!(v["data"].get("Timestamp").is_none());
    let (s, v) = post(
        &fake,
        "/chat/send/location",
        Some(TOKEN),
        r#"{"Phone":"62811","Latitude":0,"Longitude":1}"#,
    )
    .await;
    assert_eq!((s, v), (400, err(400, "missing Latitude in Payload")));
    let (s, v) = post(
        &fake,
        "/chat/send/document",
        Some(TOKEN),
        r#"{"Phone":"62811","Document":"data:application/octet-stream;base64,AAAA"}"#,
    )
    .await;
    assert_eq!((s, v), (400, err(400, "missing FileName in Payload")));
    let (s, _) = post(&fake, "/chat/send/template", Some(TOKEN), "{}").await;
    assert_eq!(s, 404);
    assert_eq!(fake.journal().len(), 10);
    assert_eq!(fake.sends_to("62811"), 9);
    assert_eq!(fake.sends_to("120363012345678901@g.us"), 1);
}

#[actix_web::test]
async fn session_lifecycle_and_status() {
    let (fake, user) = fake().await;
    let (s, v) = get(&fake, "/session/status", Some(TOKEN)).await;
    assert_eq!(s, 200);
    let d = &v["data"];
    assert_eq!(d["connected"], true);
    assert_eq!(d["loggedIn"], true);
    assert_eq!(d["events"], "All");
    assert_eq!(d["history"], "0");
    assert_eq!(d["id"], user.id.as_str());
    assert_eq!(d["jid"], format!("{}:12@s.whatsapp.net", user.phone));
    assert_eq!(d["token"], TOKEN);
    assert_eq!(d["s3_config"]["media_delivery"], "base64");

    let (s, v) = post(
        &fake,
        "/session/connect",
        Some(TOKEN),
        r#"{"Subscribe":["All"],"Immediate":true}"#,
    )
    .await;
    assert_eq!((s, v), (500, err(500, "already connected")));
    let (s, v) = post(&fake, "/session/disconnect", Some(TOKEN), "").await;
    assert_eq!(
        (s, v["data"]["Details"].clone()),
        (200, json!("Disconnected"))
    );
    let (_, v) = get(&fake, "/session/status", Some(TOKEN)).await;
    assert_eq!(
        (
            v["data"]["connected"].clone(),
            v["data"]["loggedIn"].clone()
        ),
        (json!(false), json!(false))
    );
    let (s, v) = post(
        &fake,
        "/user/check",
        Some(TOKEN),
        r#"{"Phone":["6281234567890"]}"#,
    )
    .await;
    assert_eq!((s, v), (500, err(500, "no session")));
    let (s, v) = post(&fake, "/session/connect", Some(TOKEN), "").await;
    assert_eq!((s, v), (400, err(400, "could not decode Payload")));
    let (s, v) = post(
        &fake,
        "/session/connect",
        Some(TOKEN),
        r#"{"Subscribe":["Message","Bogus","ReadReceipt"],"Immediate":false}"#,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["data"]["details"], "Connected!");
    assert_eq!(v["data"]["events"], "Message,ReadReceipt");
    assert_eq!(
        v["data"]["jid"],
        format!("{}:12@s.whatsapp.net", user.phone)
    );

    let (s, v) = post(&fake, "/session/logout", Some(TOKEN), "").await;
    assert_eq!(
        (s, v["data"]["Details"].clone()),
        (200, json!("Logged out"))
    );
    let (_, v) = post(
        &fake,
        "/session/connect",
        Some(TOKEN),
        r#"{"Immediate":true}"#,
    )
    .await;
    assert_eq!(v["data"]["jid"], "");
    assert_eq!(v["data"]["events"], "");
    let (_, v) = get(&fake, "/session/status", Some(TOKEN)).await;
    assert_eq!(
        (
            v["data"]["connected"].clone(),
            v["data"]["loggedIn"].clone()
        ),
        (json!(true), json!(false))
    );
    let (s, v) = get(&fake, "/session/qr", Some(TOKEN)).await;
    assert_eq!(s, 200);
    assert!(v["data"]["QRCode"]
        .as_str()
        .unwrap_or("")
        .starts_with("data:image/png;base64,"));

    // Webhook config.
    let (_, v) = get(&fake, "/webhook", Some(TOKEN)).await;
    assert_eq!(v["data"], json!({"subscribe": [""], "webhook": ""}));
    let (s, v) = post(
        &fake,
        "/webhook",
        Some(TOKEN),
        r#"{"webhookurl":"http://x/h","events":["All"]}"#,
    )
    .await;
    assert_eq!(
        (s, v["data"].clone()),
        (200, json!({"webhook": "http://x/h"}))
    );
    let (s, v) = call(
        &fake,
        reqwest::Method::PUT,
        "/webhook",
        Some(TOKEN),
        Some(r#"{"webhook":"http://y/h","events":["Message"],"active":true}"#),
    )
    .await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&v).expect("json");
    assert_eq!(
        v["data"],
        json!({"active": true, "events": ["Message"], "webhook": "http://y/h"})
    );
    // The OpenAPI-shaped body blanks the URL (like the real upstream).
    let (_, v) = post(
        &fake,
        "/webhook",
        Some(TOKEN),
        r#"{"webhook":"http://z/h"}"#,
    )
    .await;
    assert_eq!(v["data"]["webhook"], "");
    let (s, _) = call(
        &fake,
        reqwest::Method::DELETE,
        "/webhook",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(fake.user(TOKEN).expect("user").events, Vec::<String>::new());

    // HMAC config.
    let (s, v) = post(
        &fake,
        "/session/hmac/config",
        Some(TOKEN),
        r#"{"hmac_key":"short"}"#,
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = post(
        &fake,
        "/session/hmac/config",
        Some(TOKEN),
        &json!({"hmac_key": KEY}).to_string(),
    )
    .await;
    assert_eq!(
        (s, v),
        (
            200,
            json!({"Details": "HMAC configuration saved successfully"})
        )
    );
    let (_, v) = get(&fake, "/session/hmac/config", Some(TOKEN)).await;
    assert_eq!(v, json!({"hmac_key": "***"}));
    assert_eq!(
        fake.user(TOKEN).expect("user").hmac_key.as_deref(),
        Some(KEY)
    );
}

#[actix_web::test]
async fn contacts_check_health_admin() {
    let (fake, _) = fake().await;
    let (s, v) = get(&fake, "/user/contacts", Some(TOKEN)).await;
    assert_eq!(s, 200);
    assert_eq!(
        v["data"]["123456789012345@lid"]["RedactedPhone"],
        "+62∙∙∙∙∙∙∙∙90"
    );
    assert_eq!(v["data"]["6281234567890@s.whatsapp.net"]["Found"], true);

    fake.set_on_whatsapp("6289999999999", false);
    let (_, v) = post(
        &fake,
        "/user/check",
        Some(TOKEN),
        r#"{"Phone":["+6281234567890","6289999999999"]}"#,
    )
    .await;
    assert_eq!(
        v["data"]["Users"],
        json!([
            {"IsInWhatsapp": true, "JID": "6281234567890@s.whatsapp.net", "Query": "+6281234567890", "VerifiedName": ""},
            {"IsInWhatsapp": false, "JID": "6289999999999@s.whatsapp.net", "Query": "6289999999999", "VerifiedName": ""},
        ])
    );

    let (s, v) = get(&fake, "/health", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["version"], "1.0.5");
    assert_eq!(v["total_users"], 1);

    // Admin.
    let admin = fake.admin_token();
    let c = client();
    let url = format!("{}/admin/users", fake.base_url());
    let r = c
        .get(&url)
        .header("Authorization", "nope")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    let r = c
        .post(&url)
        .header("Authorization", &admin)
        .body(r#"{"name":"new","token":"tok-2","events":"Message,All","webhook":"http://h/"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json; charset=utf-8")
    );
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["code"], 201);
    assert_eq!(v["data"]["events"], "Message,All");
    assert_eq!(v["data"]["hmac_key"], false);
    let id = v["data"]["id"].as_str().expect("id").to_string();
    assert_eq!(id.len(), 32);
    let r = c
        .post(&url)
        .header("Authorization", &admin)
        .body(r#"{"name":"dup","token":"tok-2"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 409);
    let r = c
        .post(&url)
        .header("Authorization", &admin)
        .body(r#"{"name":"bad","token":"tok-3","events":"Nope"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = c
        .get(&url)
        .header("Authorization", &admin)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["data"].as_array().map(Vec::len), Some(2));
    let v: Value = c
        .get(format!("{url}/{id}"))
        .header("Authorization", &admin)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["data"][0]["name"], "new");
    assert_eq!(v["data"][0]["connected"], false);
    // The new user has no session yet.
    let (s, v) = post(
        &fake,
        "/chat/send/text",
        Some("tok-2"),
        r#"{"Phone":"1","Body":"x"}"#,
    )
    .await;
    assert_eq!((s, v), (500, err(500, "no session")));
    let r = c
        .put(format!("{url}/{id}"))
        .header("Authorization", &admin)
        .body(r#"{"name":"renamed"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        v,
        json!({"code": 200, "message": "user updated successfully", "success": true})
    );
    let r = c
        .delete(format!("{url}/{id}"))
        .header("Authorization", &admin)
        .send()
        .await
        .expect("send");
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        v,
        json!({"code": 200, "data": {"id": id}, "details": "user deleted successfully", "success": true})
    );
    let r = c
        .delete(format!("{url}/{id}"))
        .header("Authorization", &admin)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 404);
}

#[actix_web::test]
async fn fault_injection() {
    let (fake, _) = fake().await;
    let body = r#"{"Phone":"6281234567890","Body":"x"}"#;
    fake.inject_fault(FaultRule::next("/chat/send", FaultKind::TooManyRequests, 2));
    for _ in 0..2 {
        let (s, v) = post(&fake, "/chat/send/text", Some(TOKEN), body).await;
        assert_eq!((s, v), (429, err(429, "rate limited")));
    }
    let (s, _) = post(&fake, "/chat/send/text", Some(TOKEN), body).await;
    assert_eq!(s, 200);
    assert_eq!(fake.sends_to("6281234567890"), 1);

    // Token-scoped rule does not affect other users.
    fake.add_user(FakeUser::new("other", "tok-other"));
    fake.inject_fault(FaultRule {
        token: Some("tok-other".into()),
        ..FaultRule::next("/chat/send/text", FaultKind::NoSession, 1)
    });
    let (s, _) = post(&fake, "/chat/send/text", Some(TOKEN), body).await;
    assert_eq!(s, 200);
    let (s, v) = post(&fake, "/chat/send/text", Some("tok-other"), body).await;
    assert_eq!((s, v), (500, err(500, "no session")));

    // Dropped connection: the client gets an error, nothing journalled.
    fake.clear_journal();
    fake.inject_fault(FaultRule::next(
        "/chat/send/text",
        FaultKind::DropConnection,
        1,
    ));
    let r = client()
        .post(format!("{}/chat/send/text", fake.base_url()))
        .header("token", TOKEN)
        .body(body)
        .send()
        .await;
    assert!(r.is_err(), "expected a transport error, got {r:?}");
    assert_eq!(fake.journal().len(), 0);

    // Sent but answer lost: error for the client, but journalled.
    fake.inject_fault(FaultRule::next(
        "/chat/send/text",
        FaultKind::SentButAnswerLost,
        1,
    ));
    let r = client()
        .post(format!("{}/chat/send/text", fake.base_url()))
        .header("token", TOKEN)
        .body(r#"{"Phone":"6281234567890","Body":"x","Id":"3EB0LOST"}"#)
        .send()
        .await;
    assert!(r.is_err());
    assert_eq!(fake.journal().len(), 1);
    assert_eq!(fake.journal()[0].id, "3EB0LOST");

    // Hang longer than the client's timeout.
    fake.inject_fault(FaultRule::next(
        "/chat/send/text",
        FaultKind::Hang(Duration::from_millis(500)),
        1,
    ));
    let r = client()
        .post(format!("{}/chat/send/text", fake.base_url()))
        .header("token", TOKEN)
        .timeout(Duration::from_millis(100))
        .body(body)
        .send()
        .await;
    assert!(r.as_ref().is_err_and(|e| e.is_timeout()), "{r:?}");

    // Probability with a seeded RNG: some but not all fail; latency applies.
    fake.clear_faults();
    fake.inject_fault(FaultRule::with_probability(
        "/user/check",
        FaultKind::SendError,
        0.5,
    ));
    let mut failed = 0;
    for _ in 0..40 {
        let (s, _) = post(&fake, "/user/check", Some(TOKEN), r#"{"Phone":["1"]}"#).await;
        if s == 500 {
            failed += 1;
        }
    }
    assert!((5..35).contains(&failed), "{failed}");
    fake.clear_faults();
    fake.set_latency(
        "/user/",
        Duration::from_millis(80),
        Duration::from_millis(90),
    );
    let t = std::time::Instant::now();
    let (s, _) = get(&fake, "/user/contacts", Some(TOKEN)).await;
    assert_eq!(s, 200);
    assert!(t.elapsed() >= Duration::from_millis(80));
}

#[actix_web::test]
async fn webhooks_json_signed_with_receipts() {
    let (fake, mut user) = fake().await;
    let (url, rx) = receiver(0).await;
    user.webhook = url.clone();
    user.hmac_key = Some(KEY.to_string());
    fake.add_user(user.clone());

    let (s, _) = post(
        &fake,
        "/chat/send/text",
        Some(TOKEN),
        r#"{"Phone":"6281234567890","Body":"Halo <Budi>","Id":"3EB0A1B2C3D4E5F6A7B8C9"}"#,
    )
    .await;
    assert_eq!(s, 200);
    assert!(wait_until(|| rx.hits().len() >= 3).await, "{:?}", rx.hits());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let hits = rx.hits();
    assert_eq!(hits.len(), 3);
    for h in &hits {
        assert_eq!(h.content_type, "application/json");
        assert_eq!(
            h.signature.as_deref(),
            Some(sign_body(KEY, &h.body).as_str())
        );
    }
    // Go-style escaping in the raw body.
    assert!(String::from_utf8_lossy(&hits[0].body).contains("\\u003cBudi\\u003e"));
    let events = rx.events();
    let sent = &events[0];
    assert_eq!(sent["type"], "MessageSent");
    assert_eq!(sent["userID"], user.id.as_str());
    assert_eq!(sent["instanceName"], "cs-team-1");
    assert_eq!(sent["event"]["Info"]["ID"], "3EB0A1B2C3D4E5F6A7B8C9");
    assert_eq!(sent["event"]["Info"]["IsFromMe"], true);
    assert_eq!(sent["event"]["Info"]["MessageType"], "text");
    assert_eq!(
        sent["event"]["Info"]["Chat"],
        "6281234567890@s.whatsapp.net"
    );
    assert_eq!(
        sent["event"]["Message"]["extendedTextMessage"]["text"],
        "Halo <Budi>"
    );
    assert_eq!(events[1]["type"], "ReadReceipt");
    assert_eq!(events[1]["state"], "Delivered");
    assert_eq!(events[1]["event"]["Type"], "");
    assert_eq!(
        events[1]["event"]["MessageIDs"],
        json!(["3EB0A1B2C3D4E5F6A7B8C9"])
    );
    assert_eq!(events[1]["event"]["Sender"], "6281234567890@s.whatsapp.net");
    assert_eq!(events[1]["event"]["IsFromMe"], false);
    assert_eq!(events[1]["event"]["MessageSender"], "");
    assert_eq!(events[2]["state"], "Read");
    assert_eq!(events[2]["event"]["Type"], "read");
    let d = fake.webhook_deliveries();
    assert_eq!(d.len(), 3);
    assert!(d
        .iter()
        .all(|d| d.ok() && d.url == url && d.signature.is_some()));

    // Unsigned switch; subscription without All gets no receipts.
    rx.hits.lock().expect("lock").clear();
    fake.set_sign_webhooks(false);
    let mut u = fake.user(TOKEN).expect("user");
    u.events = vec!["MessageSent".into(), "ReadReceipt".into()];
    fake.add_user(u);
    post(
        &fake,
        "/chat/send/text",
        Some(TOKEN),
        r#"{"Phone":"6281234567890","Body":"x"}"#,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let hits = rx.hits();
    assert_eq!(hits.len(), 1);
    assert!(hits[0].signature.is_none());
    assert_eq!(rx.events()[0]["type"], "MessageSent");
}

#[actix_web::test]
async fn webhooks_form_retry_and_emit_event() {
    let (url, rx) = receiver(1).await;
    let (global_url, grx) = receiver(0).await;
    let fake = FakeUpstream::start(FakeUpstreamConfig {
        webhook_format: WebhookFormat::Form,
        webhook_retry_delay: Duration::from_millis(10),
        global_webhook_url: Some(global_url),
        global_hmac_key: Some("global-key-0123456789abcdef-012345".into()),
        ..Default::default()
    })
    .await
    .expect("start");
    let mut user = FakeUser::new("cs-team-1", TOKEN);
    user.webhook = url.clone();
    user.hmac_key = Some(KEY.to_string());
    fake.add_user(user.clone());

    // First attempt answered 500, the retry succeeds; the global webhook gets it too.
    fake.emit_event(TOKEN, connected_event())
        .await
        .expect("emit");
    let d = fake.webhook_deliveries();
    let user_attempts: Vec<_> = d.iter().filter(|d| !d.global).collect();
    assert_eq!(user_attempts.len(), 2, "{d:?}");
    assert_eq!(user_attempts[0].status, Some(500));
    assert_eq!(user_attempts[1].status, Some(200));
    assert_eq!(user_attempts[1].attempt, 2);
    assert_eq!(d.iter().filter(|d| d.global).count(), 1);
    let hits = rx.hits();
    assert_eq!(hits.len(), 2);
    assert_eq!(grx.hits().len(), 1);
    for h in hits.iter().chain(grx.hits().iter()) {
        assert_eq!(h.content_type, "application/x-www-form-urlencoded");
        let body = String::from_utf8_lossy(&h.body).to_string();
        assert!(
            body.starts_with("instanceName=cs-team-1&jsonData="),
            "{body}"
        );
        assert!(body.ends_with(&format!("&userID={}", user.id)));
    }
    let global = d.iter().find(|d| d.global).expect("global");
    assert_eq!(
        global.signature.as_deref(),
        Some(sign_body("global-key-0123456789abcdef-012345", global.body.as_bytes()).as_str())
    );
    let user_hit = &hits[0];
    assert_eq!(
        user_hit.signature.as_deref(),
        Some(sign_body(KEY, &user_hit.body).as_str())
    );
    let ev = &rx.events()[0];
    assert_eq!(ev["type"], "Connected");
    assert_eq!(ev["event"], json!({}));

    // Fixture with foreign ids: ids are replaced by the user's.
    rx.hits.lock().expect("lock").clear();
    let fixture =
        json!({"event": {}, "instanceName": "other", "type": "Disconnected", "userID": "x"});
    fake.emit_event(TOKEN, fixture).await.expect("emit");
    let ev = &rx.events()[0];
    assert_eq!(ev["userID"], user.id.as_str());
    assert_eq!(ev["instanceName"], "cs-team-1");

    // Switch to JSON at run time; an incoming message.
    fake.set_webhook_format(WebhookFormat::Json);
    rx.hits.lock().expect("lock").clear();
    fake.emit_event(TOKEN, incoming_text_event("6281234567890", "Halo"))
        .await
        .expect("emit");
    let ev = &rx.events()[0];
    assert_eq!(ev["type"], "Message");
    assert_eq!(ev["event"]["Message"]["conversation"], "Halo");
    assert_eq!(
        ev["event"]["Info"]["Sender"],
        "6281234567890@s.whatsapp.net"
    );

    // A failing destination reports an error after all attempts.
    let mut u = fake.user(TOKEN).expect("user");
    u.webhook = "http://127.0.0.1:1/closed".into();
    fake.add_user(u);
    assert!(fake.emit_event(TOKEN, connected_event()).await.is_err());
    assert!(fake.emit_event("nobody", connected_event()).await.is_err());
}

#[actix_web::test]
async fn receipt_plans_and_connect_event() {
    let (fake, mut user) = fake().await;
    let (url, rx) = receiver(0).await;
    user.webhook = url;
    fake.add_user(user);
    fake.set_receipts(Some("+6281111111111"), ReceiptPlan::Never);
    fake.set_receipts(Some("6282222222222"), ReceiptPlan::ReadBeforeDelivered);
    fake.set_receipts(None, ReceiptPlan::DeliveredOnly);
    for p in ["6281111111111", "6282222222222", "6283333333333"] {
        let (s, _) = post(
            &fake,
            "/chat/send/text",
            Some(TOKEN),
            &json!({"Phone": p, "Body": "x"}).to_string(),
        )
        .await;
        assert_eq!(s, 200);
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    let events = rx.events();
    let receipts = |chat: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| {
                e["type"] == "ReadReceipt" && e["event"]["Chat"] == format!("{chat}@s.whatsapp.net")
            })
            .map(|e| e["state"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert!(receipts("6281111111111").is_empty());
    assert_eq!(receipts("6282222222222"), vec!["Read", "Delivered"]);
    assert_eq!(receipts("6283333333333"), vec!["Delivered"]);
    assert_eq!(
        events.iter().filter(|e| e["type"] == "MessageSent").count(),
        3
    );

    // Disconnect + connect emits Connected (subscription replaced by the connect).
    rx.hits.lock().expect("lock").clear();
    post(&fake, "/session/disconnect", Some(TOKEN), "").await;
    post(
        &fake,
        "/session/connect",
        Some(TOKEN),
        r#"{"Subscribe":["All"],"Immediate":true}"#,
    )
    .await;
    assert!(wait_until(|| !rx.hits().is_empty()).await);
    assert_eq!(rx.events()[0]["type"], "Connected");

    // Reset cancels pending receipts and restores the user as added.
    rx.hits.lock().expect("lock").clear();
    fake.set_receipts(None, ReceiptPlan::Normal);
    post(
        &fake,
        "/chat/send/text",
        Some(TOKEN),
        r#"{"Phone":"6283333333333","Body":"x"}"#,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    fake.reset();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(rx.events().iter().all(|e| e["type"] != "ReadReceipt"));
    assert!(fake.journal().is_empty());
    assert!(fake.user(TOKEN).is_some());
}

#[actix_web::test]
async fn control_api() {
    let (fake, _) = fake().await;
    let c = client();
    let base = format!("{}/__fake", fake.base_url());
    let r = c
        .post(format!("{base}/users"))
        .body(r#"{"name":"scripted","token":"tok-s"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["id"].as_str().map(str::len), Some(32));
    assert_eq!(v["events"], json!(["All"]));
    let r = c
        .post(format!("{base}/faults"))
        .body(r#"{"path_prefix":"/chat/send","kind":"too_many_requests","times":1}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let (s, _) = post(
        &fake,
        "/chat/send/text",
        Some("tok-s"),
        r#"{"Phone":"62811","Body":"x"}"#,
    )
    .await;
    assert_eq!(s, 429);
    let (s, _) = post(
        &fake,
        "/chat/send/text",
        Some("tok-s"),
        r#"{"Phone":"62811","Body":"x"}"#,
    )
    .await;
    assert_eq!(s, 200);
    let v: Value = c
        .get(format!("{base}/journal"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    assert_eq!(v[0]["phone"], "62811");
    let v: Value = c
        .get(format!("{base}/sends_to?phone=%2B62811"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["count"], 1);
    let r = c
        .post(format!("{base}/session"))
        .body(r#"{"token":"tok-s","connected":false,"logged_in":true}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let (s, v) = post(
        &fake,
        "/chat/send/text",
        Some("tok-s"),
        r#"{"Phone":"62811","Body":"x"}"#,
    )
    .await;
    assert_eq!((s, v), (500, err(500, "no session")));
    let r = c
        .post(format!("{base}/events"))
        .body(r#"{"token":"tok-s","event":{"type":"Connected","event":{}}}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let r = c
        .delete(format!("{base}/journal"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    assert!(fake.journal().is_empty());
    let r = c.post(format!("{base}/reset")).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let r = c.get(format!("{base}/nope")).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 404);
}
