//! Campaign templates (contract §6.3): shapes, codes, texts, validation, tenant isolation.

use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{json, spawn_app, TestApp};

/// A 1×1 PNG.
const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

const TEMPLATE_KEYS: [&str; 12] = [
    "id",
    "user_id",
    "name",
    "type",
    "status",
    "message_body",
    "image_url",
    "image_base64",
    "caption",
    "created_at",
    "updated_at",
    "deleted_at",
];

/// A loopback HTTP server: `/ok.png` is a PNG, anything else an HTML page.
async fn image_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                use base64::Engine;
                let (ctype, body) = if req.starts_with("GET /ok.png") {
                    (
                        "image/png",
                        base64::engine::general_purpose::STANDARD
                            .decode(PNG_B64)
                            .unwrap(),
                    )
                } else {
                    (
                        "text/html",
                        b"<html><body>not an image</body></html>".to_vec(),
                    )
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
            });
        }
    });
    format!("http://127.0.0.1:{}", addr.port())
}

async fn create(app: &TestApp, bearer: &str, body: Value) -> (u16, Value) {
    let resp = app.post_json("/bulk/campaign", Some(bearer), &body).await;
    let status = resp.status().as_u16();
    (status, json(resp).await)
}

async fn create_text(app: &TestApp, bearer: &str, name: &str) -> i64 {
    let (s, b) = create(
        app,
        bearer,
        json!({"name": name, "type": "text", "message_body": "Hello"}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    b["data"]["id"].as_i64().unwrap()
}

fn assert_error(status: u16, body: &Value, want_status: u16, message: &str, code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["code"], want_status, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["message"], message, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
}

async fn raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    bearer: &str,
    body: &str,
) -> (u16, Value) {
    let resp = app
        .client
        .request(method, app.url(path))
        .bearer_auth(bearer)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let s = resp.status().as_u16();
    (s, json(resp).await)
}

#[actix_web::test]
async fn templates_create_text_has_the_contract_shape() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let (s, b) = create(
        &app,
        &u.bearer,
        json!({"Name": "Promo", "TYPE": "text", "message_body": "Hi <there>", "caption": "c", "unknown": 1}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["code"], 201);
    assert_eq!(b["success"], true);
    assert_eq!(b["message"], "Campaign created successfully");
    let d = b["data"].as_object().unwrap();
    let mut keys: Vec<&str> = d.keys().map(String::as_str).collect();
    keys.sort();
    let mut want = TEMPLATE_KEYS.to_vec();
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(d["name"], "Promo");
    assert_eq!(d["type"], "text");
    assert_eq!(d["status"], "active");
    assert_eq!(d["user_id"], u.user_id.as_str());
    assert_eq!(d["message_body"], "Hi <there>");
    assert_eq!(d["image_url"], "");
    assert_eq!(d["deleted_at"], Value::Null);
    assert!(chrono::DateTime::parse_from_rfc3339(d["created_at"].as_str().unwrap()).is_ok());
}

#[actix_web::test]
async fn templates_create_validation_errors_are_400() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let b = &u.bearer;
    let (s, body) = create(&app, b, json!({"name": "x", "type": "text"})).await;
    assert_error(
        s,
        &body,
        400,
        "Message body is required for text campaigns",
        "message_body_required",
    );
    let (s, body) = create(
        &app,
        b,
        json!({"name": "x", "type": "image", "caption": "c"}),
    )
    .await;
    assert_error(
        s,
        &body,
        400,
        "Image URL or base64 is required for image campaigns",
        "image_required",
    );
    let (s, body) = create(
        &app,
        b,
        json!({"name": "x", "type": "video", "message_body": "m"}),
    )
    .await;
    assert_error(
        s,
        &body,
        400,
        "Invalid request: type must be one of text, image",
        "invalid_request",
    );
    let (s, body) = create(&app, b, json!({"type": "text", "message_body": "m"})).await;
    assert_error(
        s,
        &body,
        400,
        "Invalid request: name is required",
        "invalid_request",
    );
    let (s, body) = create(
        &app,
        b,
        json!({"name": "", "type": "text", "message_body": "m"}),
    )
    .await;
    assert_error(
        s,
        &body,
        400,
        "Invalid request: name is required",
        "invalid_request",
    );

    // Wrong types and malformed bodies: 400 with a serde reason, never 500.
    for bad in [
        json!({"name": 5, "type": "text", "message_body": "m"}),
        json!({"name": "x", "type": ["text"], "message_body": "m"}),
        json!({"name": "x", "type": "text", "message_body": {"a": 1}}),
        json!([1, 2]),
        json!("text"),
    ] {
        let (s, body) = create(&app, b, bad).await;
        assert_eq!(s, 400, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid request: "),
            "{body}"
        );
        assert_eq!(body["error_code"], "invalid_request");
    }
    let (s, body) = raw(
        &app,
        reqwest::Method::POST,
        "/bulk/campaign",
        b,
        "{\"name\": ",
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid request: "));
    let (s, body) = raw(&app, reqwest::Method::POST, "/bulk/campaign", b, "").await;
    assert_error(s, &body, 400, "Invalid request: EOF", "invalid_request");
}

#[actix_web::test]
async fn templates_image_is_validated_once_at_create() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let b = &u.bearer;
    let server = image_server().await;

    let (s, body) = create(
        &app,
        b,
        json!({"name": "i", "type": "image", "image_base64": PNG_B64, "caption": "c"}),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["data"]["image_base64"], PNG_B64);
    let (s, body) = create(
        &app,
        b,
        json!({"name": "i", "type": "image", "image_url": format!("{server}/ok.png")}),
    )
    .await;
    assert_eq!(s, 201, "{body}");

    for bad in [
        json!({"name": "i", "type": "image", "image_base64": "bm90IGFuIGltYWdl"}),
        json!({"name": "i", "type": "image", "image_base64": "%%% not base64"}),
        json!({"name": "i", "type": "image", "image_url": format!("{server}/page.html")}),
        json!({"name": "i", "type": "image", "image_url": "ftp://example.com/x.png"}),
        json!({"name": "i", "type": "image", "image_url": "not a url"}),
    ] {
        let (s, body) = create(&app, b, bad.clone()).await;
        assert_eq!(s, 400, "{bad} {body}");
        assert_eq!(body["error_code"], "invalid_image", "{body}");
        assert!(body["message"]
            .as_str()
            .unwrap()
            .starts_with("Failed to process image: "));
    }
}

#[actix_web::test]
async fn templates_list_is_per_user_with_opt_in_pagination() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let other = app.create_user("bob").await;
    let resp = app.get("/bulk/campaign", Some(&u.bearer)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        json(resp).await,
        json!({"code":200,"success":true,"data":[]})
    );

    let a1 = create_text(&app, &u.bearer, "a1").await;
    let a2 = create_text(&app, &u.bearer, "a2").await;
    let a3 = create_text(&app, &u.bearer, "a3").await;
    create_text(&app, &other.bearer, "b1").await;

    let body = json(app.get("/bulk/campaign", Some(&u.bearer)).await).await;
    let ids: Vec<i64> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![a1, a2, a3]);

    let body = json(
        app.get("/bulk/campaign?page=2&limit=2", Some(&u.bearer))
            .await,
    )
    .await;
    let ids: Vec<i64> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![a3]);
    let body = json(app.get("/bulk/campaign?limit=1", Some(&u.bearer)).await).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);

    for q in ["page=0", "limit=0", "limit=5000", "page=abc"] {
        let resp = app
            .get(&format!("/bulk/campaign?{q}"), Some(&u.bearer))
            .await;
        assert_eq!(resp.status(), 400, "{q}");
        assert_eq!(json(resp).await["success"], false);
    }
}

#[actix_web::test]
async fn templates_get_update_delete_and_their_errors() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let id = create_text(&app, &u.bearer, "t").await;
    let path = format!("/bulk/campaign/{id}");

    let resp = app.get(&path, Some(&u.bearer)).await;
    assert_eq!(resp.status(), 200);
    let body = json(resp).await;
    assert_eq!(body["code"], 200);
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "");
    assert_eq!(body["data"]["id"], id);

    for bad in ["abc", "-1", "4294967296", "1.5"] {
        let p = format!("/bulk/campaign/{bad}");
        let resp = app.get(&p, Some(&u.bearer)).await;
        let s = resp.status().as_u16();
        assert_error(
            s,
            &json(resp).await,
            400,
            "Invalid campaign ID",
            "invalid_id",
        );
        let resp = app
            .put_json(&p, Some(&u.bearer), &json!({"name": "n"}))
            .await;
        let s = resp.status().as_u16();
        assert_error(
            s,
            &json(resp).await,
            400,
            "Invalid campaign ID",
            "invalid_id",
        );
        let resp = app.delete_json(&p, Some(&u.bearer), None).await;
        let s = resp.status().as_u16();
        assert_error(
            s,
            &json(resp).await,
            400,
            "Invalid campaign ID",
            "invalid_id",
        );
    }
    let resp = app.get("/bulk/campaign/4294967295", Some(&u.bearer)).await;
    let s = resp.status().as_u16();
    assert_error(
        s,
        &json(resp).await,
        404,
        "Campaign not found",
        "campaign_not_found",
    );

    // Update: only non-empty fields; status limited.
    let before = json(app.get(&path, Some(&u.bearer)).await).await["data"].clone();
    let resp = app
        .put_json(
            &path,
            Some(&u.bearer),
            &json!({"name": "renamed", "status": "archived", "message_body": "", "type": "image"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body = json(resp).await;
    assert_eq!(body["message"], "Campaign updated successfully");
    assert_eq!(body["data"]["name"], "renamed");
    assert_eq!(body["data"]["status"], "archived");
    assert_eq!(body["data"]["type"], "text");
    assert_eq!(body["data"]["message_body"], "Hello");
    assert_ne!(body["data"]["updated_at"], before["updated_at"]);
    for status in ["inactive", "active"] {
        let resp = app
            .put_json(&path, Some(&u.bearer), &json!({"status": status}))
            .await;
        assert_eq!(json(resp).await["data"]["status"], status);
    }
    let resp = app
        .put_json(&path, Some(&u.bearer), &json!({"status": "deleted"}))
        .await;
    let s = resp.status().as_u16();
    assert_error(
        s,
        &json(resp).await,
        400,
        "Invalid request: status must be one of active, inactive, archived",
        "invalid_request",
    );
    let resp = app
        .put_json(&path, Some(&u.bearer), &json!({"name": 42}))
        .await;
    assert_eq!(resp.status(), 400);
    assert!(json(resp).await["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid request: "));
    let (s, body) = raw(&app, reqwest::Method::PUT, &path, &u.bearer, "{oops").await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["error_code"], "invalid_request");

    // Delete: soft, then 404.
    let resp = app.delete_json(&path, Some(&u.bearer), None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        json(resp).await,
        json!({"code":200,"success":true,"message":"Campaign deleted successfully"})
    );
    for resp in [
        app.get(&path, Some(&u.bearer)).await,
        app.put_json(&path, Some(&u.bearer), &json!({"name": "x"}))
            .await,
        app.delete_json(&path, Some(&u.bearer), None).await,
    ] {
        let s = resp.status().as_u16();
        assert_error(
            s,
            &json(resp).await,
            404,
            "Campaign not found",
            "campaign_not_found",
        );
    }
    let body = json(app.get("/bulk/campaign", Some(&u.bearer)).await).await;
    assert_eq!(body["data"], json!([]));
}

#[actix_web::test]
async fn templates_image_update_is_validated() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let server = image_server().await;
    let (s, body) = create(
        &app,
        &u.bearer,
        json!({"name": "i", "type": "image", "image_url": format!("{server}/ok.png")}),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let path = format!("/bulk/campaign/{}", body["data"]["id"]);
    let resp = app
        .put_json(
            &path,
            Some(&u.bearer),
            &json!({"image_url": format!("{server}/page.html")}),
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(json(resp).await["error_code"], "invalid_image");
    let resp = app
        .put_json(
            &path,
            Some(&u.bearer),
            &json!({"image_base64": "bm90IGFuIGltYWdl"}),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let resp = app
        .put_json(&path, Some(&u.bearer), &json!({"image_base64": PNG_B64}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["data"]["image_base64"], PNG_B64);
}

#[actix_web::test]
async fn templates_of_another_user_are_404_and_untouched() {
    let app = spawn_app().await;
    let owner = app.create_user("alice").await;
    let intruder = app.create_user("mallory").await;
    let id = create_text(&app, &owner.bearer, "secret").await;
    let path = format!("/bulk/campaign/{id}");
    for resp in [
        app.get(&path, Some(&intruder.bearer)).await,
        app.put_json(
            &path,
            Some(&intruder.bearer),
            &json!({"name": "pwned", "status": "archived"}),
        )
        .await,
        app.delete_json(&path, Some(&intruder.bearer), None).await,
    ] {
        let s = resp.status().as_u16();
        let body = json(resp).await;
        assert_error(s, &body, 404, "Campaign not found", "campaign_not_found");
        assert!(body.get("data").is_none());
    }
    // Executing another user's template is refused too.
    let resp = app
        .post_json(
            "/bulk/campaign/execute",
            Some(&intruder.bearer),
            &json!({"campaign_id": id, "name": "x", "phone": ["628123456789"], "send_sync": "now"}),
        )
        .await;
    assert_eq!(resp.status(), 404);
    let body = json(app.get(&path, Some(&owner.bearer)).await).await;
    assert_eq!(body["data"]["name"], "secret");
    assert_eq!(body["data"]["status"], "active");
    let list = json(app.get("/bulk/campaign", Some(&intruder.bearer)).await).await;
    assert_eq!(list["data"], json!([]));
}

#[actix_web::test]
async fn templates_list_failure_has_the_list_envelope() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let mut conn = app.conn().await;
    diesel::sql_query(r#"ALTER TABLE "WhatsAppCampaigns" RENAME TO "WhatsAppCampaigns_gone""#)
        .execute(&mut conn)
        .await
        .unwrap();
    let resp = app.get("/bulk/campaign", Some(&u.bearer)).await;
    assert_eq!(resp.status(), 500);
    let body = json(resp).await;
    assert_eq!(
        body,
        json!({"code":500,"success":false,"data":null,"error_code":"internal_error"})
    );
    // Other failures stay opaque.
    let resp = app
        .post_json(
            "/bulk/campaign",
            Some(&u.bearer),
            &json!({"name": "x", "type": "text", "message_body": "m"}),
        )
        .await;
    assert_eq!(resp.status(), 500);
    let body = json(resp).await;
    assert_eq!(body["message"], "Internal server error");
    assert!(!body.to_string().contains("WhatsAppCampaigns"));
}
