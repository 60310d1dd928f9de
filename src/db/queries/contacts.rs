//! Contacts (`"WhatsAppContact"`, contract §8). Every query is scoped by `UserId`; writes are
//! single-statement bulk upserts on the live (`user_id`, `phone`) key.

use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use crate::domain::{PhoneNumber, UserId};

type QueryResult<T> = Result<T, diesel::result::Error>;

/// The contact object of §8.
const CONTACT_JSON: &str = r#"jsonb_build_object('id', c.id, 'user_id', c.user_id, 'phone', c.phone,
 'name', COALESCE(c.name, ''), 'full_name', COALESCE(c.full_name, ''), 'push_name', COALESCE(c.push_name, ''),
 'short', COALESCE(c.short, ''), 'notify', COALESCE(c.notify, ''), 'business', c.business, 'verified', c.verified,
 'source', c.source, 'created_at', c.created_at, 'updated_at', c.updated_at, 'deleted_at', c.deleted_at)"#;

/// One contact from the upstream's address book, phone already normalised.
#[derive(Debug, Clone)]
pub struct SyncedContact {
    pub phone: PhoneNumber,
    pub name: String,
    pub full_name: String,
    pub push_name: String,
    pub business: bool,
}

/// Upserts a whole address book in one statement inside one transaction; returns rows written.
/// Empty upstream values never erase stored names, and a `manual` contact keeps its typed
/// `full_name` and its source.
pub async fn upsert_synced(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    contacts: Vec<SyncedContact>,
) -> QueryResult<usize> {
    if contacts.is_empty() {
        return Ok(0);
    }
    let mut phones = Vec::with_capacity(contacts.len());
    let mut names = Vec::with_capacity(contacts.len());
    let mut full_names = Vec::with_capacity(contacts.len());
    let mut push_names = Vec::with_capacity(contacts.len());
    let mut business = Vec::with_capacity(contacts.len());
    for c in contacts {
        phones.push(c.phone.into_string());
        names.push(c.name);
        full_names.push(c.full_name);
        push_names.push(c.push_name);
        business.push(c.business);
    }
    let user = user.clone();
    conn.transaction(|conn| {
        Box::pin(async move {
            diesel::sql_query(
                r#"INSERT INTO "WhatsAppContact" AS c (user_id, phone, name, full_name, push_name, business, verified, source, created_at, updated_at)
                   SELECT $1, u.phone, u.name, u.full_name, u.push_name, u.business, false, 'sync', now(), now()
                     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bool[]) AS u(phone, name, full_name, push_name, business)
                   ON CONFLICT (user_id, phone) WHERE deleted_at IS NULL DO UPDATE SET
                     name = COALESCE(NULLIF(EXCLUDED.name, ''), c.name),
                     full_name = CASE WHEN c.source = 'manual' AND COALESCE(c.full_name, '') <> '' THEN c.full_name
                                      ELSE COALESCE(NULLIF(EXCLUDED.full_name, ''), c.full_name) END,
                     push_name = COALESCE(NULLIF(EXCLUDED.push_name, ''), c.push_name),
                     business = EXCLUDED.business OR c.business,
                     source = CASE WHEN c.source = 'manual' THEN c.source ELSE 'sync' END,
                     updated_at = now()"#,
            )
            .bind::<Text, _>(&user.0)
            .bind::<Array<Text>, _>(&phones)
            .bind::<Array<Text>, _>(&names)
            .bind::<Array<Text>, _>(&full_names)
            .bind::<Array<Text>, _>(&push_names)
            .bind::<Array<Bool>, _>(&business)
            .execute(conn)
            .await
        })
    })
    .await
}

/// One row of `GET /bulk/contact`.
#[derive(Debug, QueryableByName, serde::Serialize, utoipa::ToSchema)]
pub struct ListedContact {
    #[diesel(sql_type = Text)]
    pub phone: String,
    #[diesel(sql_type = Text)]
    pub full_name: String,
    #[diesel(sql_type = Text)]
    pub source: String,
}

/// The user's contacts in id order; `search` matches phone or any name (case-insensitive,
/// literal); `page` is (page ≥ 1, limit).
pub async fn list(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    search: Option<&str>,
    page: Option<(i64, i64)>,
) -> QueryResult<Vec<ListedContact>> {
    let (limit, offset) = page.map(|(p, l)| (l, (p - 1) * l)).unwrap_or((i64::MAX, 0));
    let pattern = search.map(|s| {
        let escaped = s
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    diesel::sql_query(
        r#"SELECT c.phone, COALESCE(NULLIF(c.full_name, ''), NULLIF(c.push_name, ''), NULLIF(c.name, ''), '') AS full_name,
                  c.source
             FROM "WhatsAppContact" c
            WHERE c.user_id = $1 AND c.deleted_at IS NULL AND c.phone <> ''
              AND ($2::text IS NULL OR c.phone ILIKE $2 OR c.full_name ILIKE $2 OR c.push_name ILIKE $2 OR c.name ILIKE $2)
            ORDER BY c.id LIMIT $3 OFFSET $4"#,
    )
    .bind::<Text, _>(&user.0)
    .bind::<Nullable<Text>, _>(pattern)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(offset)
    .load(conn)
    .await
}

/// The result of a manual add.
#[derive(Debug)]
pub struct AddOutcome {
    pub contacts: Vec<Value>,
    pub added: usize,
    pub updated: usize,
}

#[derive(QueryableByName)]
struct Written {
    #[diesel(sql_type = Jsonb)]
    j: Value,
    #[diesel(sql_type = Bool)]
    inserted: bool,
}

/// Adds or renames contacts, all or nothing: new rows get `source` `manual`, existing rows only
/// get the new `full_name`.
pub async fn add_manual(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    contacts: Vec<(PhoneNumber, String)>,
) -> QueryResult<AddOutcome> {
    let (phones, full_names): (Vec<String>, Vec<String>) = contacts
        .into_iter()
        .map(|(p, n)| (p.into_string(), n))
        .unzip();
    let user = user.clone();
    conn.transaction(|conn| {
        Box::pin(async move {
            let rows: Vec<Written> = diesel::sql_query(format!(
                r#"INSERT INTO "WhatsAppContact" AS c (user_id, phone, full_name, business, verified, source, created_at, updated_at)
                   SELECT $1, u.phone, u.full_name, false, false, 'manual', now(), now()
                     FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(phone, full_name, ord)
                    ORDER BY u.ord
                   ON CONFLICT (user_id, phone) WHERE deleted_at IS NULL DO UPDATE SET
                     full_name = EXCLUDED.full_name, updated_at = now()
                   RETURNING {CONTACT_JSON} AS j, (xmax = 0) AS inserted"#
            ))
            .bind::<Text, _>(&user.0)
            .bind::<Array<Text>, _>(&phones)
            .bind::<Array<Text>, _>(&full_names)
            .load(conn)
            .await?;
            let added = rows.iter().filter(|r| r.inserted).count();
            let updated = rows.len() - added;
            Ok(AddOutcome {
                contacts: rows.into_iter().map(|r| r.j).collect(),
                added,
                updated,
            })
        })
    })
    .await
}

/// Soft-deletes the user's live contacts whose phone is one of `phones`; returns the count.
pub async fn delete(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    phones: &[String],
) -> QueryResult<usize> {
    diesel::sql_query(
        r#"UPDATE "WhatsAppContact" SET deleted_at = now(), updated_at = now()
            WHERE user_id = $1 AND deleted_at IS NULL AND phone = ANY($2)"#,
    )
    .bind::<Text, _>(&user.0)
    .bind::<Array<Text>, _>(phones)
    .execute(conn)
    .await
}

/// Whether the WhatsApp session `token` belongs to `user`, and whether `user` holds an active,
/// unexpired subscription.
#[derive(Debug, QueryableByName)]
pub struct SyncEntitlement {
    #[diesel(sql_type = Bool)]
    pub owns_session: bool,
    #[diesel(sql_type = Bool)]
    pub subscribed: bool,
}

pub async fn sync_entitlement(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    session_token: &str,
) -> QueryResult<SyncEntitlement> {
    diesel::sql_query(
        r#"SELECT EXISTS (SELECT 1 FROM "WhatsAppSession" WHERE token = $2 AND "userId" = $1) AS owns_session,
                  EXISTS (SELECT 1 FROM "ServicesWhatsappCustomers" WHERE "customerId" = $1 AND status = 'active'
                           AND "expiredAt" > now()) AS subscribed"#,
    )
    .bind::<Text, _>(&user.0)
    .bind::<Text, _>(session_token)
    .get_result(conn)
    .await
}
