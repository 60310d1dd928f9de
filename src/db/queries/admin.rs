//! Operator commands on the owner's tables (normally written by the other system): used by
//! the CLI, the sandbox and tests.

use chrono::{DateTime, Utc};
use diesel::sql_types::{Bool, Integer, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use secrecy::SecretString;

use crate::domain::{SessionId, UserId};

/// A short unique text id in the style of the owner's (cuid-like, ≤ 30 characters).
pub fn new_text_id() -> String {
    format!("c{}", &uuid::Uuid::new_v4().simple().to_string()[..24])
}

/// Creates an active user.
pub async fn create_user(
    conn: &mut AsyncPgConnection,
    name: &str,
    email: &str,
) -> Result<UserId, diesel::result::Error> {
    let id = new_text_id();
    diesel::sql_query(r#"INSERT INTO "User" ("id","name","email","role","isActive","createdAt","updatedAt") VALUES ($1,$2,$3,'customer',true,now(),now())"#)
        .bind::<Text, _>(&id)
        .bind::<Text, _>(name)
        .bind::<Text, _>(email)
        .execute(conn)
        .await?;
    Ok(UserId(id))
}

/// Creates a package with `max_sessions` and an active subscription to it expiring at `expires`.
/// Returns (subscription id, package id).
pub async fn grant_subscription(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    max_sessions: i32,
    expires: DateTime<Utc>,
) -> Result<(String, String), diesel::result::Error> {
    let package = new_text_id();
    let sub = new_text_id();
    diesel::sql_query(r#"INSERT INTO "WhatsappApiPackage" ("id","name","maxSession","createdAt","updatedAt") VALUES ($1,$2,$3,now(),now())"#)
        .bind::<Text, _>(&package)
        .bind::<Text, _>(format!("{max_sessions}-session package"))
        .bind::<Integer, _>(max_sessions)
        .execute(conn)
        .await?;
    diesel::sql_query(r#"INSERT INTO "ServicesWhatsappCustomers" ("id","customerId","packageId","status","activatedAt","expiredAt","updatedAt") VALUES ($1,$2,$3,'active',now(),$4,now())"#)
        .bind::<Text, _>(&sub)
        .bind::<Text, _>(&user.0)
        .bind::<Text, _>(&package)
        .bind::<Timestamptz, _>(expires)
        .execute(conn)
        .await?;
    Ok((sub, package))
}

/// What `session add` registers.
pub struct NewSessionSpec {
    /// The upstream's user id (`"sessionId"`, the `userID` of webhooks).
    pub session_key: String,
    pub name: String,
    /// The upstream session token.
    pub token: String,
    pub connected: bool,
}

/// Registers a WhatsApp session for a user.
pub async fn add_session(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    spec: NewSessionSpec,
) -> Result<SessionId, diesel::result::Error> {
    let id = new_text_id();
    diesel::sql_query(r#"INSERT INTO "WhatsAppSession" ("id","sessionId","sessionName","token","userId","connected","loggedIn","status","createdAt","updatedAt") VALUES ($1,$2,$3,$4,$5,$6,$6,CASE WHEN $6 THEN 'connected' ELSE 'disconnected' END,now(),now())"#)
        .bind::<Text, _>(&id)
        .bind::<Text, _>(&spec.session_key)
        .bind::<Text, _>(&spec.name)
        .bind::<Text, _>(&spec.token)
        .bind::<Text, _>(&user.0)
        .bind::<Bool, _>(spec.connected)
        .execute(conn)
        .await?;
    Ok(SessionId(id))
}

/// Issues a bearer token for a user and records its `"UserSession"` row. With a secret the
/// token is an HS256 JWT; without one it is an opaque random string (the reference's form).
pub async fn issue_token(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    secret: Option<&SecretString>,
    valid_for: chrono::Duration,
) -> Result<String, anyhow::Error> {
    let expires = Utc::now() + valid_for;
    let session_row = new_text_id();
    let token = match secret {
        Some(secret) => {
            let claims =
                crate::http::auth::claims_for(&user.0, "", "customer", &session_row, expires);
            crate::http::auth::encode_token(&claims, secret)?
        }
        None => format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ),
    };
    diesel::sql_query(r#"INSERT INTO "UserSession" ("id","userId","token","isActive","expiresAt","createdAt","updatedAt") VALUES ($1,$2,$3,true,$4,now(),now())"#)
        .bind::<Text, _>(&session_row)
        .bind::<Text, _>(&user.0)
        .bind::<Text, _>(&token)
        .bind::<Timestamptz, _>(expires)
        .execute(conn)
        .await?;
    Ok(token)
}
