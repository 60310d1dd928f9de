//! Effects of each event type (contract §9.4 as corrected by defects 26, 27; upstream.md §7).
//! Primary-database effects run on the router's connection (inside a savepoint); campaign
//! effects on the transactional pool. Everything is idempotent.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use diesel::sql_types::{Array, Bool, Jsonb, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{json, Map, Value};

use super::messages::{self, MessageRow};
use super::Shared;
use crate::actors::sender_pool::SessionConnection;
use crate::db::queries::{campaigns, events::EventRow};
use crate::domain::webhook_event::{parse_envelope, WebhookEnvelope};

pub type HandleError = anyhow::Error;

/// A history sync's conversations are kept only up to this many bytes of stored body.
const HISTORY_MAX_BYTES: usize = 1024 * 1024;

#[derive(QueryableByName)]
struct FlagRow {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(n) => cur = n,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

/// RFC 3339, else a Unix time in seconds, else `fallback`.
fn ts(v: Option<&Value>, fallback: DateTime<Utc>) -> DateTime<Utc> {
    match v {
        Some(Value::String(t)) => DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .filter(|t| t.timestamp() > 0)
            .unwrap_or(fallback),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|n| DateTime::from_timestamp(n, 0))
            .unwrap_or(fallback),
        _ => fallback,
    }
}

/// `628…:3@s.whatsapp.net` → `628…@s.whatsapp.net` (device suffix dropped).
fn bare_jid(jid: &str) -> String {
    match (jid.split_once('@'), jid.split_once(':')) {
        (Some((user, server)), Some(_)) => {
            format!("{}@{server}", user.split(':').next().unwrap_or(user))
        }
        _ => jid.to_string(),
    }
}

/// What the events of one batch share: what they look up again and again, read once per batch
/// and token (the tenant's chat-log flag, `user_settings`, created on first sight; the session's
/// own JID), and the notices for the senders, sent after the batch commits.
#[derive(Default)]
pub(super) struct BatchState {
    chat_log: Mutex<HashMap<String, bool>>,
    own_jid: Mutex<HashMap<String, String>>,
    /// Connection changes for the senders, sent once the batch has committed (a sender told
    /// earlier could act on a state the batch then rolls back, or before others can read it).
    notices: Mutex<Vec<SessionConnection>>,
}

impl BatchState {
    /// The connection changes of the events handled so far.
    pub(super) fn take_notices(&self) -> Vec<SessionConnection> {
        std::mem::take(&mut *locked(&self.notices))
    }
}

/// The value behind a lock (a poisoned lock still holds a usable value).
fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Handles one claimed event. A message is only prepared and added to `messages`, to be stored
/// with the run of messages it belongs to; any other event first stores that run, so effects
/// keep the order of arrival.
pub(super) async fn handle(
    shared: &Shared,
    conn: &mut AsyncPgConnection,
    row: &EventRow,
    batch: &BatchState,
    messages: &mut Vec<MessageRow>,
) -> Result<(), HandleError> {
    let raw = row.raw_data.as_deref().unwrap_or("");
    let env = parse_envelope(raw.as_bytes())
        .map_err(|e| anyhow::anyhow!("stored body does not parse: {}", e.message()))?;
    // Events of unknown sessions are kept (stored) but have no tenant to apply to.
    let Some(token) = row.user_token.as_deref().filter(|_| !row.unknown_session) else {
        return Ok(());
    };
    let ev = Event {
        shared,
        row,
        env: &env,
        token,
        raw_len: raw.len(),
        batch,
    };
    let sent = match env.kind.as_str() {
        "Message" => Some(false),
        "MessageSent" => Some(true),
        _ => None,
    };
    if let Some(sent) = sent {
        messages.extend(ev.message(conn, sent).await?);
        return Ok(());
    }
    messages::store(conn, messages).await?;
    match env.kind.as_str() {
        "Connected" if env.event().get("Action").is_some() => ev.session_touch(conn).await,
        "Connected" => ev.session_state(conn, "connected").await,
        "Disconnected" => ev.session_state(conn, "disconnected").await,
        "LoggedOut" => ev.session_state(conn, "logged_out").await,
        "QR" => ev.session_state(conn, "qr_waiting").await,
        "PairSuccess" => ev.session_state(conn, "paired").await,
        "ReadReceipt" => ev.receipt(conn).await,
        "Presence" => ev.presence(conn).await,
        "ChatPresence" => ev.chat_presence(conn).await,
        "HistorySync" => ev.history(conn).await,
        _ => Ok(()),
    }
}

struct Event<'a> {
    shared: &'a Shared,
    row: &'a EventRow,
    env: &'a WebhookEnvelope,
    token: &'a str,
    raw_len: usize,
    batch: &'a BatchState,
}

impl Event<'_> {
    async fn chat_log(&self, conn: &mut AsyncPgConnection) -> Result<bool, HandleError> {
        if let Some(flag) = locked(&self.batch.chat_log).get(self.token).copied() {
            return Ok(flag);
        }
        let rows: Vec<FlagRow> = diesel::sql_query(
            r#"INSERT INTO user_settings (user_token, chat_log_enabled, is_active, user_id) VALUES ($1, $2, true, $3)
               ON CONFLICT (user_token) DO UPDATE SET user_id = COALESCE(user_settings.user_id, EXCLUDED.user_id)
               RETURNING chat_log_enabled AS flag"#,
        )
        .bind::<Text, _>(self.token)
        .bind::<Bool, _>(self.shared.deps.settings.chat_log_default)
        .bind::<Nullable<Text>, _>(self.row.user_id.as_deref())
        .load(conn)
        .await?;
        let flag = rows.into_iter().next().is_some_and(|r| r.flag);
        locked(&self.batch.chat_log).insert(self.token.to_string(), flag);
        Ok(flag)
    }

    async fn session_touch(&self, conn: &mut AsyncPgConnection) -> Result<(), HandleError> {
        diesel::sql_query(
            "UPDATE whats_app_sessions SET last_activity_at = now(), updated_at = now() WHERE user_token = $1",
        )
        .bind::<Text, _>(self.token)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Session state (§3.4 `whats_app_sessions`) and the sender's pause/resume.
    async fn session_state(
        &self,
        conn: &mut AsyncPgConnection,
        state: &str,
    ) -> Result<(), HandleError> {
        let qr = match state {
            "qr_waiting" => Some(
                self.env
                    .top_str("qrCodeBase64")
                    .or(self.env.event().as_str())
                    .unwrap_or("")
                    .to_string(),
            ),
            _ => None,
        };
        let jid = (state == "paired").then(|| s(self.env.event(), &["ID"]).to_string());
        // The session's JID may change here: later events of the batch read it again.
        locked(&self.batch.own_jid).remove(self.token);
        diesel::sql_query(
            r#"INSERT INTO whats_app_sessions (user_token, session_name, session_id, user_id, session_state, connected, logged_in,
                 qr_code, qr_expired_at, connected_at, disconnected_at, j_id, last_activity_at, received_at)
               VALUES ($1, $2, $3, $4, $5, $5 = 'connected', $5 IN ('connected', 'paired'), $6,
                 CASE WHEN $5 = 'qr_waiting' THEN now() + interval '60 seconds' END,
                 CASE WHEN $5 = 'connected' THEN now() END,
                 CASE WHEN $5 IN ('disconnected', 'logged_out') THEN now() END, $7, now(), $8)
               ON CONFLICT (user_token) DO UPDATE SET
                 session_name = COALESCE(EXCLUDED.session_name, whats_app_sessions.session_name),
                 session_id = COALESCE(EXCLUDED.session_id, whats_app_sessions.session_id),
                 user_id = COALESCE(EXCLUDED.user_id, whats_app_sessions.user_id),
                 j_id = COALESCE(NULLIF(EXCLUDED.j_id, ''), whats_app_sessions.j_id),
                 session_state = CASE WHEN $5 = 'paired' THEN whats_app_sessions.session_state ELSE $5 END,
                 connected = CASE WHEN $5 = 'paired' THEN whats_app_sessions.connected ELSE $5 = 'connected' END,
                 logged_in = CASE $5 WHEN 'connected' THEN true WHEN 'paired' THEN true
                   WHEN 'disconnected' THEN whats_app_sessions.logged_in ELSE false END,
                 qr_code = EXCLUDED.qr_code, qr_expired_at = EXCLUDED.qr_expired_at,
                 connected_at = COALESCE(EXCLUDED.connected_at, whats_app_sessions.connected_at),
                 disconnected_at = CASE WHEN $5 = 'connected' THEN NULL
                   ELSE COALESCE(EXCLUDED.disconnected_at, whats_app_sessions.disconnected_at) END,
                 last_activity_at = now(), updated_at = now()"#,
        )
        .bind::<Text, _>(self.token)
        .bind::<Nullable<Text>, _>(self.env.instance_name.as_deref())
        .bind::<Nullable<Text>, _>(self.env.user_id.as_deref())
        .bind::<Nullable<Text>, _>(self.row.user_id.as_deref())
        .bind::<Text, _>(state)
        .bind::<Nullable<Text>, _>(qr)
        .bind::<Nullable<Text>, _>(jid)
        .bind::<Timestamptz, _>(self.row.received_at)
        .execute(conn)
        .await?;
        let connected = match state {
            "connected" => Some(true),
            "disconnected" | "logged_out" => Some(false),
            _ => None,
        };
        if let (Some(connected), Some(session_id)) = (connected, self.row.session_id.clone()) {
            locked(&self.batch.notices).push(SessionConnection {
                session_id,
                connected,
            });
        }
        Ok(())
    }

    /// `Message` (incoming, or typed on the phone) and `MessageSent` (sent through the API): the
    /// row to store with the batch's other messages (None without a message id).
    async fn message(
        &self,
        conn: &mut AsyncPgConnection,
        sent: bool,
    ) -> Result<Option<MessageRow>, HandleError> {
        let ev = self.env.event();
        let info = ev.get("Info").unwrap_or(&Value::Null);
        let id = s(info, &["ID"]);
        if id.is_empty() {
            return Ok(None);
        }
        let now = Utc::now();
        let at = ts(info.get("Timestamp"), now);
        if sent {
            let mut tx = self.shared.deps.db.transactional.get().await?;
            campaigns::prove_sent(&mut tx, &[id.to_string()], at).await?;
        }
        let from_me = sent
            || info
                .get("IsFromMe")
                .and_then(Value::as_bool)
                .unwrap_or(false);
        let is_group = info
            .get("IsGroup")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let chat = s(info, &["Chat"]);
        let alt = |k: &str| Some(s(info, &[k])).filter(|v| !v.is_empty()).map(bare_jid);
        // Chats are keyed by the phone JID when an @lid one comes with it.
        let contact = if is_group {
            chat.to_string()
        } else if chat.ends_with("@lid") {
            alt(if from_me { "RecipientAlt" } else { "SenderAlt" })
                .unwrap_or_else(|| chat.to_string())
        } else {
            bare_jid(chat)
        };
        let sender = if from_me {
            String::new()
        } else {
            let snd = s(info, &["Sender"]);
            if snd.ends_with("@lid") {
                alt("SenderAlt").unwrap_or_else(|| bare_jid(snd))
            } else {
                bare_jid(snd)
            }
        };
        let own = self.own_jid(conn).await?;
        let (from, to) = if from_me {
            (own.clone(), contact.clone())
        } else {
            (
                sender.clone(),
                if is_group {
                    chat.to_string()
                } else {
                    own.clone()
                },
            )
        };
        let msg = ev.get("Message").unwrap_or(&Value::Null);
        let content = Content::of(msg, info, &self.env.object, self.row.id);
        let log = self.chat_log(conn).await?;
        let push_name = Some(s(info, &["PushName"])).filter(|p| !p.is_empty());
        let status = if from_me { "sent" } else { "received" };
        let chat_id = format!("{}_{}", self.token, contact);
        let preview = if log {
            content
                .body
                .clone()
                .or_else(|| content.caption.clone())
                .or_else(|| Some(format!("[{}]", content.kind)))
        } else {
            None
        };
        let side = if from_me { "user" } else { "contact" };
        Ok(Some(MessageRow {
            id: id.to_string(),
            from,
            to,
            from_me,
            push_name: push_name.map(str::to_string),
            body: content.body.filter(|_| log),
            caption: content.caption.filter(|_| log),
            media: content.media,
            location: content.location.filter(|_| log),
            contact: content.contact.filter(|_| log),
            quoted: content.quoted.filter(|_| log),
            quoted_id: content.quoted_id,
            mentioned: content.mentioned,
            kind: content.kind,
            group_jid: is_group.then(|| chat.to_string()),
            participant: (is_group && !from_me).then(|| sender.clone()),
            broadcast: chat.ends_with("@broadcast"),
            at,
            received_at: self.row.received_at,
            status,
            token: self.token.to_string(),
            user_id: self.row.user_id.clone(),
            chat_id,
            contact_name: push_name
                .filter(|_| !from_me && !is_group)
                .map(str::to_string),
            contact_jid: contact,
            is_group,
            preview,
            side,
            sender_jid: if from_me { own } else { sender },
            chat_status: if from_me { "sent" } else { "delivered" },
        }))
    }

    /// The session's own JID: `whats_app_sessions.j_id`, else `<session key>@s.whatsapp.net`.
    async fn own_jid(&self, conn: &mut AsyncPgConnection) -> Result<String, HandleError> {
        if let Some(jid) = locked(&self.batch.own_jid).get(self.token).cloned() {
            return Ok(jid);
        }
        #[derive(QueryableByName)]
        struct J {
            #[diesel(sql_type = Nullable<Text>)]
            j_id: Option<String>,
        }
        let rows: Vec<J> =
            diesel::sql_query("SELECT j_id FROM whats_app_sessions WHERE user_token = $1")
                .bind::<Text, _>(self.token)
                .load(conn)
                .await?;
        let jid = rows
            .into_iter()
            .find_map(|r| r.j_id.filter(|j| !j.is_empty()))
            .map(|j| bare_jid(&j))
            .unwrap_or_else(|| {
                format!(
                    "{}@s.whatsapp.net",
                    self.env.user_id.as_deref().unwrap_or(self.token)
                )
            });
        locked(&self.batch.own_jid).insert(self.token.to_string(), jid.clone());
        Ok(jid)
    }

    /// `ReadReceipt`: `state` at the top level (upstream.md §7.3), else derived from `Type`.
    async fn receipt(&self, conn: &mut AsyncPgConnection) -> Result<(), HandleError> {
        let ev = self.env.event();
        let state = self
            .env
            .top_str("state")
            .or_else(|| ev.get("state").and_then(Value::as_str))
            .map(str::to_string)
            .unwrap_or_else(|| match s(ev, &["Type"]) {
                "" => "Delivered".into(),
                "read" => "Read".into(),
                "read-self" => "ReadSelf".into(),
                other => other.to_string(),
            });
        let ids: Vec<String> = ev
            .get("MessageIDs")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let at = ts(ev.get("Timestamp"), Utc::now());
        let chat = s(ev, &["Chat"]);
        if state == "ReadSelf" {
            // The owner read incoming messages on another device.
            diesel::sql_query(
                "UPDATE chat_rooms SET unread_count = 0, updated_at = now() WHERE chat_id = $1",
            )
            .bind::<Text, _>(format!("{}_{}", self.token, bare_jid(chat)))
            .execute(conn)
            .await?;
            return Ok(());
        }
        let status = match state.as_str() {
            "Delivered" => "delivered",
            "Read" => "read",
            _ => return Ok(()),
        };
        diesel::sql_query(
            r#"INSERT INTO whats_app_read_receipts (message_ids, "from", "to", receipt_type, event_timestamp, received_at, user_token)
               VALUES ($1, $2, $3, $4, $5, $6, $7)"#,
        )
        .bind::<Jsonb, _>(json!({ "ids": ids }))
        .bind::<Text, _>(bare_jid(s(ev, &["Sender"])))
        .bind::<Text, _>(chat)
        .bind::<Text, _>(status)
        .bind::<Timestamptz, _>(at)
        .bind::<Timestamptz, _>(self.row.received_at)
        .bind::<Text, _>(self.token)
        .execute(conn)
        .await?;
        diesel::sql_query(
            r#"INSERT INTO whats_app_message_statuses (message_id, "from", "to", status, event_timestamp, received_at, user_token)
               SELECT i, '', '', $2, $3, $4, $5 FROM unnest($1::text[]) AS i
               WHERE NOT EXISTS (SELECT 1 FROM whats_app_message_statuses s WHERE s.message_id = i AND s.status = $2 AND s.user_token = $5)"#,
        )
        .bind::<Array<Text>, _>(&ids)
        .bind::<Text, _>(status)
        .bind::<Timestamptz, _>(at)
        .bind::<Timestamptz, _>(self.row.received_at)
        .bind::<Text, _>(self.token)
        .execute(conn)
        .await?;
        // Forward only: sent → delivered → read.
        diesel::sql_query(
            r#"UPDATE whats_app_messages SET status = $2, updated_at = now()
               WHERE message_id = ANY($1) AND user_token = $3 AND from_me
                 AND (CASE status WHEN 'read' THEN 3 WHEN 'delivered' THEN 2 ELSE 1 END)
                   < (CASE $2 WHEN 'read' THEN 3 ELSE 2 END)"#,
        )
        .bind::<Array<Text>, _>(&ids)
        .bind::<Text, _>(status)
        .bind::<Text, _>(self.token)
        .execute(conn)
        .await?;
        diesel::sql_query(
            r#"UPDATE chat_messages SET
                 status = CASE WHEN status = 'read' THEN 'read' ELSE $2 END,
                 delivered_at = COALESCE(delivered_at, $4),
                 read_at = CASE WHEN $2 = 'read' THEN COALESCE(read_at, $4) ELSE read_at END,
                 updated_at = now()
               WHERE message_id = ANY($1) AND user_token = $3 AND sender_type = 'user'
                 AND (status IS DISTINCT FROM 'read') AND NOT (status = 'delivered' AND $2 = 'delivered')"#,
        )
        .bind::<Array<Text>, _>(&ids)
        .bind::<Text, _>(status)
        .bind::<Text, _>(self.token)
        .bind::<Timestamptz, _>(at)
        .execute(conn)
        .await?;
        let mut tx = self.shared.deps.db.transactional.get().await?;
        campaigns::mark_receipt(&mut tx, &ids, status == "read", at).await?;
        Ok(())
    }

    /// `Presence`: `event` {`From`, `Unavailable`, `LastSeen`}, top-level `state`.
    async fn presence(&self, conn: &mut AsyncPgConnection) -> Result<(), HandleError> {
        let ev = self.env.event();
        let presence = self
            .env
            .top_str("state")
            .map(str::to_string)
            .unwrap_or_else(|| {
                if ev
                    .get("Unavailable")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                {
                    "offline".into()
                } else {
                    "online".into()
                }
            });
        let last_seen = ev
            .get("LastSeen")
            .map(|v| ts(Some(v), DateTime::<Utc>::MIN_UTC))
            .filter(|t| t.timestamp() > 0);
        diesel::sql_query(
            r#"INSERT INTO whats_app_presences ("from", presence, last_seen, received_at, user_token) VALUES ($1, $2, $3, $4, $5)"#,
        )
        .bind::<Text, _>(bare_jid(s(ev, &["From"])))
        .bind::<Text, _>(presence)
        .bind::<Nullable<Timestamptz>, _>(last_seen)
        .bind::<Timestamptz, _>(self.row.received_at)
        .bind::<Text, _>(self.token)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// `ChatPresence`: one row per (sender, chat); `composing` expires after 10 s, read as
    /// `paused` after that (no timer task per event).
    async fn chat_presence(&self, conn: &mut AsyncPgConnection) -> Result<(), HandleError> {
        let ev = self.env.event();
        let state = s(ev, &["State"]);
        let expires = (state == "composing").then(|| self.row.received_at + Duration::seconds(10));
        let (from, chat, media) = (
            bare_jid(s(ev, &["Sender"])),
            s(ev, &["Chat"]),
            s(ev, &["Media"]),
        );
        let n = diesel::sql_query(
            r#"UPDATE whats_app_chat_presences SET state = $3, media = $4, expires_at = $5, auto_stopped = false,
                 received_at = $6, updated_at = now()
               WHERE "from" = $1 AND chat_jid = $2 AND user_token = $7 AND received_at <= $6"#,
        )
        .bind::<Text, _>(&from)
        .bind::<Text, _>(chat)
        .bind::<Text, _>(state)
        .bind::<Text, _>(media)
        .bind::<Nullable<Timestamptz>, _>(expires)
        .bind::<Timestamptz, _>(self.row.received_at)
        .bind::<Text, _>(self.token)
        .execute(conn)
        .await?;
        if n == 0 {
            diesel::sql_query(
                r#"INSERT INTO whats_app_chat_presences ("from", chat_jid, state, media, expires_at, received_at, user_token)
                   SELECT $1, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS
                     (SELECT 1 FROM whats_app_chat_presences WHERE "from" = $1 AND chat_jid = $2 AND user_token = $7)"#,
            )
            .bind::<Text, _>(&from)
            .bind::<Text, _>(chat)
            .bind::<Text, _>(state)
            .bind::<Text, _>(media)
            .bind::<Nullable<Timestamptz>, _>(expires)
            .bind::<Timestamptz, _>(self.row.received_at)
            .bind::<Text, _>(self.token)
            .execute(conn)
            .await?;
        }
        Ok(())
    }

    /// `HistorySync`: `event.Data` {`syncType`, `conversations`}; large syncs are kept only as a
    /// reference to the stored event (bounded, defect 28).
    async fn history(&self, conn: &mut AsyncPgConnection) -> Result<(), HandleError> {
        let data = self.env.event().get("Data").unwrap_or(self.env.event());
        let sync_type = match data.get("syncType") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let conversations = if self.raw_len <= HISTORY_MAX_BYTES {
            json!({"conversations": data.get("conversations").cloned().unwrap_or(json!([]))})
        } else {
            let count = data
                .get("conversations")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            json!({"omitted": true, "bytes": self.raw_len, "count": count, "event_id": self.row.id})
        };
        diesel::sql_query(
            "INSERT INTO whats_app_history_syncs (sync_type, conversations, received_at, user_token) VALUES ($1, $2, $3, $4)",
        )
        .bind::<Text, _>(sync_type)
        .bind::<Jsonb, _>(conversations)
        .bind::<Timestamptz, _>(self.row.received_at)
        .bind::<Text, _>(self.token)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// What a message carries, by the key present in `Message` (upstream.md §7.1–7.2).
struct Content {
    kind: String,
    body: Option<String>,
    caption: Option<String>,
    media: Option<Value>,
    location: Option<Value>,
    contact: Option<Value>,
    quoted: Option<Value>,
    quoted_id: Option<String>,
    mentioned: Option<Value>,
}

impl Content {
    fn of(msg: &Value, info: &Value, top: &Map<String, Value>, event_id: i64) -> Content {
        const MEDIA: [(&str, &str); 5] = [
            ("imageMessage", "image"),
            ("videoMessage", "video"),
            ("audioMessage", "audio"),
            ("documentMessage", "document"),
            ("stickerMessage", "sticker"),
        ];
        let mut c = Content {
            kind: String::new(),
            body: None,
            caption: None,
            media: None,
            location: None,
            contact: None,
            quoted: None,
            quoted_id: None,
            mentioned: None,
        };
        let mut ctx = None;
        if let Some(t) = msg.get("conversation").and_then(Value::as_str) {
            c.kind = "text".into();
            c.body = Some(t.to_string());
        } else if let Some(x) = msg.get("extendedTextMessage") {
            c.kind = "text".into();
            c.body = x.get("text").and_then(Value::as_str).map(str::to_string);
            ctx = x.get("contextInfo");
        } else if let Some((key, kind)) = MEDIA.iter().find(|(k, _)| msg.get(*k).is_some()) {
            let m = &msg[*key];
            c.kind = (*kind).into();
            c.caption = m.get("caption").and_then(Value::as_str).map(str::to_string);
            ctx = m.get("contextInfo");
            let mut media = Map::new();
            for k in [
                "URL",
                "url",
                "directPath",
                "mediaKey",
                "mimetype",
                "fileSHA256",
                "fileEncSHA256",
                "fileLength",
                "height",
                "width",
                "seconds",
                "fileName",
                "title",
                "pageCount",
                "mediaKeyTimestamp",
            ] {
                if let Some(v) = m.get(k) {
                    media.insert(k.into(), v.clone());
                }
            }
            for k in ["mimeType", "fileName", "s3"] {
                if let Some(v) = top.get(k) {
                    media.insert(format!("delivered_{k}"), v.clone());
                }
            }
            if let Some(b) = top.get("base64").and_then(Value::as_str) {
                // The bytes stay in the stored event (`raw_data`), not copied here.
                media.insert("base64_length".into(), json!(b.len()));
                media.insert("event_id".into(), json!(event_id));
            }
            c.media = Some(Value::Object(media));
        } else if let Some(l) = msg
            .get("locationMessage")
            .or_else(|| msg.get("liveLocationMessage"))
        {
            c.kind = "location".into();
            c.location = Some(l.clone());
            ctx = l.get("contextInfo");
        } else if let Some(k) = msg
            .get("contactMessage")
            .or_else(|| msg.get("contactsArrayMessage"))
        {
            c.kind = "contact".into();
            c.contact = Some(k.clone());
        } else if msg.get("reactionMessage").is_some() {
            c.kind = "reaction".into();
            c.body = s(msg, &["reactionMessage", "text"]).to_string().into();
        } else if msg.get("protocolMessage").is_some() {
            c.kind = "protocol".into();
        } else if let Some(t) = info.get("MessageType").and_then(Value::as_str) {
            c.kind = t.to_string();
        } else {
            let t = s(info, &["Type"]);
            c.kind = if t.is_empty() {
                "unknown".into()
            } else {
                t.to_string()
            };
        }
        if let Some(ctx) = ctx {
            if let Some(id) = ctx.get("stanzaID").and_then(Value::as_str) {
                c.quoted_id = Some(id.to_string());
                c.quoted = Some(ctx.clone());
            }
            if let Some(m) = ctx.get("mentionedJID").filter(|m| !m.is_null()) {
                c.mentioned = Some(m.clone());
            }
        }
        c
    }
}
