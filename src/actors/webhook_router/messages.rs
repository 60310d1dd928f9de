//! Storing a run of `Message`/`MessageSent` events of one batch set-based: three statements for
//! the whole run (the messages; their chat rooms, aggregated per chat; their chat messages)
//! instead of one per event. The result equals handling the events one by one in order:
//! a message id stored already (or earlier in the run) adds nothing, and the chat room's
//! fields fold the same way the per-event upsert would have changed them.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

/// One message ready to store (`whats_app_messages`, and `chat_rooms`/`chat_messages` when new).
#[derive(Debug, Clone)]
pub(super) struct MessageRow {
    pub id: String,
    pub from: String,
    pub to: String,
    pub from_me: bool,
    pub push_name: Option<String>,
    pub kind: String,
    /// Content columns, already cleared when the tenant's chat log is off.
    pub body: Option<String>,
    pub caption: Option<String>,
    pub media: Option<Value>,
    pub location: Option<Value>,
    pub contact: Option<Value>,
    pub quoted: Option<Value>,
    pub quoted_id: Option<String>,
    pub mentioned: Option<Value>,
    pub group_jid: Option<String>,
    pub participant: Option<String>,
    pub broadcast: bool,
    pub at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// `whats_app_messages.status` unless receipts came first: `sent` or `received`.
    pub status: &'static str,
    pub token: String,
    pub user_id: Option<String>,
    /// `chat_rooms.chat_id`: `<token>_<contact JID>`.
    pub chat_id: String,
    pub contact_jid: String,
    pub contact_name: Option<String>,
    pub is_group: bool,
    /// `chat_rooms.last_message` (None when the chat log is off).
    pub preview: Option<String>,
    /// `user` (sent by the session) or `contact`.
    pub side: &'static str,
    pub sender_jid: String,
    /// `chat_messages.status` unless receipts came first: `sent` or `delivered`.
    pub chat_status: &'static str,
}

#[derive(QueryableByName)]
struct Stored {
    #[diesel(sql_type = Text)]
    message_id: String,
    /// The status receipts gave it before it arrived (`delivered`/`read`), else NULL.
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct Room {
    #[diesel(sql_type = Text)]
    chat_id: String,
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// A chat room's change from the new messages of a run, folded in arrival order.
struct RoomChange<'a> {
    first: &'a MessageRow,
    contact_name: Option<&'a str>,
    user_id: Option<&'a str>,
    last_message: Option<&'a str>,
    last_sender: &'a str,
    last_activity: DateTime<Utc>,
    unread: i64,
}

impl<'a> RoomChange<'a> {
    fn new(m: &'a MessageRow) -> Self {
        RoomChange {
            first: m,
            contact_name: m.contact_name.as_deref(),
            user_id: m.user_id.as_deref(),
            last_message: m.preview.as_deref(),
            last_sender: m.side,
            last_activity: m.at,
            unread: i64::from(m.side == "contact"),
        }
    }

    /// What the upsert of `m` does to a row holding `self`.
    fn fold(&mut self, m: &'a MessageRow) {
        self.contact_name = m.contact_name.as_deref().or(self.contact_name);
        self.user_id = self.user_id.or(m.user_id.as_deref());
        if m.at >= self.last_activity {
            self.last_message = m.preview.as_deref();
            self.last_sender = m.side;
            self.last_activity = m.at;
        }
        self.unread += i64::from(m.side == "contact");
    }
}

/// One bound array: `f` of every item.
fn col<'a, T, U>(items: &'a [T], f: impl Fn(&'a T) -> U) -> Vec<U> {
    items.iter().map(f).collect()
}

/// Stores `rows` (a run of one batch, in arrival order) and empties it.
pub(super) async fn store(
    conn: &mut AsyncPgConnection,
    rows: &mut Vec<MessageRow>,
) -> Result<(), diesel::result::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut seen = HashSet::with_capacity(rows.len());
    let run: Vec<MessageRow> = std::mem::take(rows)
        .into_iter()
        .filter(|m| seen.insert(m.id.clone()))
        .collect();
    let stored = insert_messages(conn, &run).await?;
    let new: Vec<(&MessageRow, &Stored)> = run
        .iter()
        .filter_map(|m| stored.get(m.id.as_str()).map(|s| (m, s)))
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    let mut rooms: BTreeMap<&str, RoomChange<'_>> = BTreeMap::new();
    for (m, _) in &new {
        match rooms.get_mut(m.chat_id.as_str()) {
            Some(r) => r.fold(m),
            None => {
                rooms.insert(&m.chat_id, RoomChange::new(m));
            }
        }
    }
    let rooms: Vec<RoomChange<'_>> = rooms.into_values().collect();
    let room_ids = upsert_rooms(conn, &rooms).await?;
    insert_chat_messages(conn, &new, &room_ids).await
}

/// The messages not stored before, by message id.
async fn insert_messages(
    conn: &mut AsyncPgConnection,
    run: &[MessageRow],
) -> Result<HashMap<String, Stored>, diesel::result::Error> {
    let stored: Vec<Stored> = diesel::sql_query(
        r#"INSERT INTO whats_app_messages (message_id, "from", "to", from_me, push_name, message_type, body, caption,
             media_data, location_data, contact_data, quoted_message, mentioned_jid, group_jid, participant,
             broadcast, message_timestamp, webhook_received, status, processed, user_token)
           SELECT i.id, i.fr, i.t, i.me, i.pn, i.k, i.b, i.c, i.md, i.ld, i.cd, i.qm, i.mj, i.gj, i.pa, i.bc, i.at, i.ra,
             COALESCE((SELECT st.status FROM whats_app_message_statuses st WHERE st.message_id = i.id AND st.user_token = i.tok
               AND i.me ORDER BY CASE st.status WHEN 'read' THEN 2 WHEN 'delivered' THEN 1 ELSE 0 END DESC LIMIT 1), i.st),
             true, i.tok
           FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[], $5::text[], $6::text[], $7::text[], $8::text[],
                       $9::jsonb[], $10::jsonb[], $11::jsonb[], $12::jsonb[], $13::jsonb[], $14::text[], $15::text[],
                       $16::bool[], $17::timestamptz[], $18::timestamptz[], $19::text[], $20::text[])
             WITH ORDINALITY AS i(id, fr, t, me, pn, k, b, c, md, ld, cd, qm, mj, gj, pa, bc, at, ra, st, tok, n)
           ORDER BY i.n
           ON CONFLICT (message_id) DO NOTHING
           RETURNING message_id, NULLIF(status, 'received') AS status, updated_at"#,
    )
    .bind::<Array<Text>, _>(col(run, |m| m.id.as_str()))
    .bind::<Array<Text>, _>(col(run, |m| m.from.as_str()))
    .bind::<Array<Text>, _>(col(run, |m| m.to.as_str()))
    .bind::<Array<Bool>, _>(col(run, |m| m.from_me))
    .bind::<Array<Nullable<Text>>, _>(col(run, |m| m.push_name.as_deref()))
    .bind::<Array<Text>, _>(col(run, |m| m.kind.as_str()))
    .bind::<Array<Nullable<Text>>, _>(col(run, |m| m.body.as_deref()))
    .bind::<Array<Nullable<Text>>, _>(col(run, |m| m.caption.as_deref()))
    .bind::<Array<Nullable<Jsonb>>, _>(col(run, |m| m.media.as_ref()))
    .bind::<Array<Nullable<Jsonb>>, _>(col(run, |m| m.location.as_ref()))
    .bind::<Array<Nullable<Jsonb>>, _>(col(run, |m| m.contact.as_ref()))
    .bind::<Array<Nullable<Jsonb>>, _>(col(run, |m| m.quoted.as_ref()))
    .bind::<Array<Nullable<Jsonb>>, _>(col(run, |m| m.mentioned.as_ref()))
    .bind::<Array<Nullable<Text>>, _>(col(run, |m| m.group_jid.as_deref()))
    .bind::<Array<Nullable<Text>>, _>(col(run, |m| m.participant.as_deref()))
    .bind::<Array<Bool>, _>(col(run, |m| m.broadcast))
    .bind::<Array<Timestamptz>, _>(col(run, |m| m.at))
    .bind::<Array<Timestamptz>, _>(col(run, |m| m.received_at))
    .bind::<Array<Text>, _>(col(run, |m| m.status))
    .bind::<Array<Text>, _>(col(run, |m| m.token.as_str()))
    .load(conn)
    .await?;
    Ok(stored
        .into_iter()
        .map(|s| (s.message_id.clone(), s))
        .collect())
}

/// Upserts the run's chat rooms (given in `chat_id` order, so concurrent routers lock them in the
/// same order) and answers their ids by `chat_id`.
async fn upsert_rooms(
    conn: &mut AsyncPgConnection,
    rooms: &[RoomChange<'_>],
) -> Result<HashMap<String, i64>, diesel::result::Error> {
    let ids: Vec<Room> = diesel::sql_query(
        r#"INSERT INTO chat_rooms (chat_id, user_token, user_id, contact_j_id, contact_name, chat_type, is_group,
             last_message, last_sender, last_activity, unread_count)
           SELECT r.cid, r.tok, r.uid, r.cj, r.cn, CASE WHEN r.g THEN 'group' ELSE 'individual' END, r.g,
             r.lm, r.ls, r.la, r.u
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::text[],
                       $9::timestamptz[], $10::bigint[]) AS r(cid, tok, uid, cj, cn, g, lm, ls, la, u)
           ORDER BY r.cid
           ON CONFLICT (chat_id) DO UPDATE SET
             contact_name = COALESCE(EXCLUDED.contact_name, chat_rooms.contact_name),
             user_id = COALESCE(chat_rooms.user_id, EXCLUDED.user_id),
             last_message = CASE WHEN chat_rooms.last_activity IS NULL OR EXCLUDED.last_activity >= chat_rooms.last_activity
               THEN EXCLUDED.last_message ELSE chat_rooms.last_message END,
             last_sender = CASE WHEN chat_rooms.last_activity IS NULL OR EXCLUDED.last_activity >= chat_rooms.last_activity
               THEN EXCLUDED.last_sender ELSE chat_rooms.last_sender END,
             last_activity = GREATEST(chat_rooms.last_activity, EXCLUDED.last_activity),
             unread_count = chat_rooms.unread_count + EXCLUDED.unread_count,
             updated_at = now()
           RETURNING chat_id, id"#,
    )
    .bind::<Array<Text>, _>(col(rooms, |r| r.first.chat_id.as_str()))
    .bind::<Array<Text>, _>(col(rooms, |r| r.first.token.as_str()))
    .bind::<Array<Nullable<Text>>, _>(col(rooms, |r| r.user_id))
    .bind::<Array<Text>, _>(col(rooms, |r| r.first.contact_jid.as_str()))
    .bind::<Array<Nullable<Text>>, _>(col(rooms, |r| r.contact_name))
    .bind::<Array<Bool>, _>(col(rooms, |r| r.first.is_group))
    .bind::<Array<Nullable<Text>>, _>(col(rooms, |r| r.last_message))
    .bind::<Array<Text>, _>(col(rooms, |r| r.last_sender))
    .bind::<Array<Timestamptz>, _>(col(rooms, |r| r.last_activity))
    .bind::<Array<BigInt>, _>(col(rooms, |r| r.unread))
    .load(conn)
    .await?;
    Ok(ids.into_iter().map(|r| (r.chat_id, r.id)).collect())
}

/// The chat messages of the new messages, starting at the status receipts already gave them.
async fn insert_chat_messages(
    conn: &mut AsyncPgConnection,
    new: &[(&MessageRow, &Stored)],
    room_ids: &HashMap<String, i64>,
) -> Result<(), diesel::result::Error> {
    // A room upsert always returns its row, so every chat id has one.
    let room = |m: &MessageRow| room_ids.get(&m.chat_id).copied().unwrap_or_default();
    diesel::sql_query(
        r#"INSERT INTO chat_messages (message_id, chat_room_id, chat_id, user_token, sender_j_id, sender_type, message_type,
             content, caption, media_data, quoted_message_id, status, message_timestamp, delivered_at, read_at)
           SELECT c.id, c.room, c.cid, c.tok, c.sj, c.side, c.k, c.b, c.c, c.md, c.q, COALESCE(c.ms, c.st), c.at,
             CASE WHEN c.ms IN ('delivered', 'read') THEN c.mu END,
             CASE WHEN c.ms = 'read' THEN c.mu END
           FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                       $9::text[], $10::jsonb[], $11::text[], $12::text[], $13::text[], $14::timestamptz[],
                       $15::timestamptz[])
             WITH ORDINALITY AS c(id, room, cid, tok, sj, side, k, b, c, md, q, ms, st, at, mu, n)
           ORDER BY c.n
           ON CONFLICT (message_id) DO NOTHING"#,
    )
    .bind::<Array<Text>, _>(col(new, |(m, _)| m.id.as_str()))
    .bind::<Array<BigInt>, _>(col(new, |(m, _)| room(m)))
    .bind::<Array<Text>, _>(col(new, |(m, _)| m.chat_id.as_str()))
    .bind::<Array<Text>, _>(col(new, |(m, _)| m.token.as_str()))
    .bind::<Array<Text>, _>(col(new, |(m, _)| m.sender_jid.as_str()))
    .bind::<Array<Text>, _>(col(new, |(m, _)| m.side))
    .bind::<Array<Text>, _>(col(new, |(m, _)| m.kind.as_str()))
    .bind::<Array<Nullable<Text>>, _>(col(new, |(m, _)| m.body.as_deref()))
    .bind::<Array<Nullable<Text>>, _>(col(new, |(m, _)| m.caption.as_deref()))
    .bind::<Array<Nullable<Jsonb>>, _>(col(new, |(m, _)| m.media.as_ref()))
    .bind::<Array<Nullable<Text>>, _>(col(new, |(m, _)| m.quoted_id.as_deref()))
    .bind::<Array<Nullable<Text>>, _>(col(new, |(_, s)| s.status.as_deref()))
    .bind::<Array<Text>, _>(col(new, |(m, _)| m.chat_status))
    .bind::<Array<Timestamptz>, _>(col(new, |(m, _)| m.at))
    .bind::<Array<Timestamptz>, _>(col(new, |(_, s)| s.updated_at))
    .execute(conn)
    .await?;
    Ok(())
}
