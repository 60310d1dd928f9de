//! The `/bulk/*` bearer check (contract §4.3, defect 21): every failure is a 401
//! `{"error": …, "error_code": …}`, never a 500, whatever the token.

use base64::Engine;
use chrono::{Duration, Utc};
use diesel::sql_types::{Bool, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use secrecy::SecretString;
use serde_json::{json, Value};
use wa_gateway::http::auth::{claims_for, encode_token};

use crate::helpers::{json, spawn_app, spawn_app_with, TestApp, JWT_SECRET};

const PROBE: &str = "/bulk/contact";

async fn insert_session(
    app: &TestApp,
    user_id: &str,
    token: &str,
    active: bool,
    expires: Duration,
) {
    let mut conn = app.conn().await;
    diesel::sql_query(
        r#"INSERT INTO "UserSession" ("id","userId","token","isActive","expiresAt","createdAt","updatedAt")
           VALUES ($1,$2,$3,$4,$5,now(),now())"#,
    )
    .bind::<Text, _>(format!("s{}", &uuid::Uuid::new_v4().simple().to_string()[..20]))
    .bind::<Text, _>(user_id)
    .bind::<Text, _>(token)
    .bind::<Bool, _>(active)
    .bind::<Timestamptz, _>(Utc::now() + expires)
    .execute(&mut conn)
    .await
    .expect("insert session");
}

async fn exec(app: &TestApp, sql: &str, arg: &str) {
    let mut conn = app.conn().await;
    diesel::sql_query(sql)
        .bind::<Text, _>(arg)
        .execute(&mut conn)
        .await
        .expect("exec");
}

fn secret() -> SecretString {
    SecretString::from(JWT_SECRET.to_string())
}

fn jwt(user_id: &str, valid_for: Duration) -> String {
    encode_token(
        &claims_for(user_id, "", "customer", "s1", Utc::now() + valid_for),
        &secret(),
    )
    .unwrap()
}

async fn with_header(app: &TestApp, value: &str) -> reqwest::Response {
    app.client
        .get(app.url(PROBE))
        .header("Authorization", value)
        .send()
        .await
        .expect("request")
}

async fn assert_401(resp: reqwest::Response, text: &str, code: &str) {
    assert_eq!(resp.status(), 401);
    let body: Value = json(resp).await;
    assert_eq!(body["error"], text, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
}

const NOT_FOUND: &str = "Session not found or expired";
const FORMAT: &str = "Invalid authorization header format. Use: Bearer <token>";

#[actix_web::test]
async fn auth_valid_bearer_passes() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let resp = app.get(PROBE, Some(&u.bearer)).await;
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"code":200,"success":true,"data":[]})
    );
}

#[actix_web::test]
async fn auth_missing_header_is_401() {
    let app = spawn_app().await;
    let resp = app.get(PROBE, None).await;
    assert_401(
        resp,
        "Authorization header required",
        "authorization_required",
    )
    .await;
    let resp = with_header(&app, "").await;
    assert_401(
        resp,
        "Authorization header required",
        "authorization_required",
    )
    .await;
}

#[actix_web::test]
async fn auth_wrong_formats_are_401() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    for value in [
        "Basic x".to_string(),
        "Bearer".to_string(),
        "Bearer ".to_string(),
        "Bearer a b".to_string(),
        format!("bearer {}", u.bearer),
        format!("Bearer  {}", u.bearer),
        u.bearer.clone(),
    ] {
        let resp = with_header(&app, &value).await;
        assert_401(resp, FORMAT, "invalid_authorization_format").await;
    }
    // Not visible ASCII.
    let resp = app
        .client
        .get(app.url(PROBE))
        .header(
            "Authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_401(resp, FORMAT, "invalid_authorization_format").await;
}

#[actix_web::test]
async fn auth_unknown_tokens_of_any_length_are_401_never_500() {
    let app = spawn_app().await;
    let long = "a".repeat(10 * 1024);
    let fifty = "b".repeat(50);
    for token in ["x", "short-token", fifty.as_str(), long.as_str(), "a.b.c"] {
        let resp = with_header(&app, &format!("Bearer {token}")).await;
        assert_401(resp, NOT_FOUND, "session_invalid").await;
    }
}

#[actix_web::test]
async fn auth_expired_tokens_are_401() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    // JWT `exp` in the past, session row still valid.
    let t = jwt(&u.user_id, Duration::seconds(-5));
    insert_session(&app, &u.user_id, &t, true, Duration::hours(1)).await;
    assert_401(
        with_header(&app, &format!("Bearer {t}")).await,
        NOT_FOUND,
        "session_invalid",
    )
    .await;
    // Session row expired, JWT still valid.
    let t = jwt(&u.user_id, Duration::hours(2));
    insert_session(&app, &u.user_id, &t, true, Duration::seconds(-1)).await;
    assert_401(
        with_header(&app, &format!("Bearer {t}")).await,
        NOT_FOUND,
        "session_invalid",
    )
    .await;
}

#[actix_web::test]
async fn auth_inactive_and_revoked_sessions_are_401() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let t = jwt(&u.user_id, Duration::hours(1));
    insert_session(&app, &u.user_id, &t, false, Duration::hours(1)).await;
    assert_401(
        with_header(&app, &format!("Bearer {t}")).await,
        NOT_FOUND,
        "session_invalid",
    )
    .await;

    // Revocation of a working token takes effect at once.
    assert_eq!(app.get(PROBE, Some(&u.bearer)).await.status(), 200);
    exec(
        &app,
        r#"UPDATE "UserSession" SET "isActive" = false WHERE token = $1"#,
        &u.bearer,
    )
    .await;
    assert_401(
        app.get(PROBE, Some(&u.bearer)).await,
        NOT_FOUND,
        "session_invalid",
    )
    .await;
}

#[actix_web::test]
async fn auth_forged_tokens_are_401_even_with_a_session_row() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    let other = app.create_user("bob").await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = claims_for(
        &u.user_id,
        "",
        "admin",
        "s1",
        Utc::now() + Duration::hours(1),
    );

    let other_key =
        encode_token(&claims, &SecretString::from("another-key-000".to_string())).unwrap();
    let none = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(serde_json::to_vec(&claims).unwrap())
    );
    let hs384 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    // Payload swapped for another user's, signature kept.
    let good = jwt(&u.user_id, Duration::hours(1));
    let parts: Vec<&str> = good.split('.').collect();
    let mut forged = claims.clone();
    forged.user_id = other.user_id.clone();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(serde_json::to_vec(&forged).unwrap()),
        parts[2]
    );
    // A genuine JWT of one user stored as another user's session.
    let crossed = jwt(&other.user_id, Duration::hours(1));

    for t in [&other_key, &none, &hs384, &tampered] {
        insert_session(&app, &u.user_id, t, true, Duration::hours(1)).await;
    }
    insert_session(&app, &u.user_id, &crossed, true, Duration::hours(1)).await;
    for t in [&other_key, &none, &hs384, &tampered, &crossed] {
        assert_401(
            with_header(&app, &format!("Bearer {t}")).await,
            NOT_FOUND,
            "session_invalid",
        )
        .await;
    }
}

#[actix_web::test]
async fn auth_inactive_or_missing_user_is_401() {
    let app = spawn_app().await;
    let u = app.create_user("alice").await;
    exec(
        &app,
        r#"UPDATE "User" SET "isActive" = false WHERE id = $1"#,
        &u.user_id,
    )
    .await;
    assert_401(
        app.get(PROBE, Some(&u.bearer)).await,
        "User not found",
        "user_inactive",
    )
    .await;

    let ghost = "cghost000000000000000000000";
    let t = jwt(ghost, Duration::hours(1));
    insert_session(&app, ghost, &t, true, Duration::hours(1)).await;
    assert_401(
        with_header(&app, &format!("Bearer {t}")).await,
        "User not found",
        "user_not_found",
    )
    .await;
}

#[actix_web::test]
async fn auth_opaque_tokens_work_without_jwt_secret() {
    let app = spawn_app_with(|s| s.jwt_secret = None).await;
    let u = app.create_user("alice").await;
    let mut conn = app.conn().await;
    let user = wa_gateway::domain::UserId(u.user_id.clone());
    let opaque =
        wa_gateway::db::queries::admin::issue_token(&mut conn, &user, None, Duration::hours(1))
            .await
            .unwrap();
    assert_eq!(app.get(PROBE, Some(&opaque)).await.status(), 200);
    // The short unknown token that crashed the reference.
    assert_401(
        with_header(&app, "Bearer abc").await,
        NOT_FOUND,
        "session_invalid",
    )
    .await;
    assert_401(
        with_header(&app, &format!("Bearer {}", "z".repeat(10 * 1024))).await,
        NOT_FOUND,
        "session_invalid",
    )
    .await;
}
