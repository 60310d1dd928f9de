//! Inputs `scripts/fuzz-api.sh` found answered with a 5xx: each now gets a clear 4xx in its
//! route's envelope.

use serde_json::json;

use crate::helpers::{json, spawn_app};

#[actix_web::test]
async fn nul_characters_in_bulk_input_are_400() {
    let app = spawn_app().await;
    let user = app.create_user("nul").await;

    let resp = app
        .delete_json(
            "/bulk/contact/delete",
            Some(&user.bearer),
            Some(&json!({"phone": ["62812\u{0}34"]})),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let body = json(resp).await;
    assert_eq!(body["code"], 400);
    assert_eq!(body["success"], false);
    assert_eq!(body["error_code"], "invalid_text");

    let resp = app
        .post_json(
            "/bulk/campaign",
            Some(&user.bearer),
            &json!({"name": "a\u{0}b", "type": "text", "message_body": "hi"}),
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(json(resp).await["error_code"], "invalid_text");
}

#[actix_web::test]
async fn a_nul_session_token_is_an_invalid_token() {
    let app = spawn_app().await;
    let resp = app.get("/wa/session/status?token=%00", None).await;
    assert_eq!(resp.status(), 403);
    let body = json(resp).await;
    assert_eq!(body["status"], 403);
    assert_eq!(body["error_code"], "invalid_token");
}

#[actix_web::test]
async fn a_huge_chat_page_is_400_not_an_overflow() {
    let app = spawn_app().await;
    let user = app.create_user("pager").await;
    let sid = &user.session_id;
    for path in [
        format!("/bulk/sessions/{sid}/chats?page=184467440737095518"),
        format!("/bulk/sessions/{sid}/chats/6281@s.whatsapp.net/messages?page=184467440737095518"),
    ] {
        let resp = app.get(&path, Some(&user.bearer)).await;
        assert_eq!(resp.status(), 400, "{path}");
        assert_eq!(json(resp).await["error_code"], "invalid_query");
    }
}
