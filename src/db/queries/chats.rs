//! Reads of the chat log and session state (primary database), scoped by a session token the
//! caller has already matched to the authenticated user.

use diesel::sql_types::{BigInt, Bool, Jsonb, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

type QueryResult<T> = Result<T, diesel::result::Error>;

#[derive(QueryableByName)]
struct JsonRow {
    #[diesel(sql_type = Jsonb)]
    v: Value,
}

/// One of a user's sessions: its `"WhatsAppSession".id` and its token.
#[derive(Debug, Clone, QueryableByName)]
pub struct OwnedSession {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub token: String,
}

/// The user's session by `"WhatsAppSession".id` or `"sessionId"` (transactional database), or
/// `None` when it is not theirs.
pub async fn owned_session(
    conn: &mut AsyncPgConnection,
    user_id: &str,
    session: &str,
) -> QueryResult<Option<OwnedSession>> {
    let rows: Vec<OwnedSession> = diesel::sql_query(
        r#"SELECT id, token FROM "WhatsAppSession" WHERE "userId" = $1 AND (id = $2 OR "sessionId" = $2) LIMIT 1"#,
    )
    .bind::<Text, _>(user_id)
    .bind::<Text, _>(session)
    .load(conn)
    .await?;
    Ok(rows.into_iter().next())
}

/// The token of the user's session (see [`owned_session`]).
pub async fn session_token(
    conn: &mut AsyncPgConnection,
    user_id: &str,
    session: &str,
) -> QueryResult<Option<String>> {
    Ok(owned_session(conn, user_id, session)
        .await?
        .map(|s| s.token))
}

/// Chat rooms of a session, most recent activity first.
pub async fn chats(
    conn: &mut AsyncPgConnection,
    token: &str,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<Value>> {
    let rows: Vec<JsonRow> = diesel::sql_query(
        "SELECT to_jsonb(r) - 'user_token' AS v FROM chat_rooms r WHERE r.user_token = $1
         ORDER BY r.last_activity DESC NULLS LAST, r.id DESC LIMIT $2 OFFSET $3",
    )
    .bind::<Text, _>(token)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(offset)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.v).collect())
}

/// Messages of one chat (`chat_id` as stored), newest first.
pub async fn messages(
    conn: &mut AsyncPgConnection,
    token: &str,
    chat_id: &str,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<Value>> {
    let rows: Vec<JsonRow> = diesel::sql_query(
        "SELECT to_jsonb(m) - 'user_token' AS v FROM chat_messages m WHERE m.user_token = $1 AND m.chat_id = $2
         ORDER BY m.message_timestamp DESC, m.id DESC LIMIT $3 OFFSET $4",
    )
    .bind::<Text, _>(token)
    .bind::<Text, _>(chat_id)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(offset)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.v).collect())
}

/// The session's state row (`whats_app_sessions`) with the chat-log setting.
pub async fn state(
    conn: &mut AsyncPgConnection,
    token: &str,
    chat_log_default: bool,
) -> QueryResult<Value> {
    let rows: Vec<JsonRow> = diesel::sql_query(
        r#"SELECT COALESCE((SELECT to_jsonb(s) - 'user_token' - 'qr_code' || jsonb_build_object('has_qr_code', s.qr_code IS NOT NULL)
                            FROM whats_app_sessions s WHERE s.user_token = $1),
                           '{"session_state": "unknown"}'::jsonb)
                  || jsonb_build_object('chat_log_enabled',
                       COALESCE((SELECT chat_log_enabled FROM user_settings WHERE user_token = $1), $2)) AS v"#,
    )
    .bind::<Text, _>(token)
    .bind::<Bool, _>(chat_log_default)
    .load(conn)
    .await?;
    Ok(rows.into_iter().next().map(|r| r.v).unwrap_or(Value::Null))
}

/// Turns storing message content on or off for a session.
pub async fn set_chat_log(
    conn: &mut AsyncPgConnection,
    token: &str,
    user_id: &str,
    enabled: bool,
) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO user_settings (user_token, chat_log_enabled, is_active, user_id) VALUES ($1, $2, true, $3)
         ON CONFLICT (user_token) DO UPDATE SET chat_log_enabled = $2, user_id = $3, updated_at = now()",
    )
    .bind::<Text, _>(token)
    .bind::<Bool, _>(enabled)
    .bind::<Nullable<Text>, _>(Some(user_id))
    .execute(conn)
    .await?;
    Ok(())
}
