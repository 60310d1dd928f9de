//! Campaign templates (`"WhatsAppCampaigns"`, contract §6.3). Every query is scoped by `UserId`.

use diesel::sql_types::{BigInt, Jsonb, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use crate::domain::{TemplateId, UserId};

type QueryResult<T> = Result<T, diesel::result::Error>;

/// The template object of §6.3, built by the database (RFC 3339 timestamps).
const TEMPLATE_JSON: &str = r#"jsonb_build_object('id', t.id, 'user_id', t.user_id, 'name', t.name, 'type', t.type,
 'status', COALESCE(t.status, 'active'), 'message_body', COALESCE(t.message_body, ''), 'image_url', COALESCE(t.image_url, ''),
 'image_base64', COALESCE(t.image_base64, ''), 'caption', COALESCE(t.caption, ''), 'created_at', t.created_at,
 'updated_at', t.updated_at, 'deleted_at', t.deleted_at) AS j"#;

#[derive(QueryableByName)]
struct J {
    #[diesel(sql_type = Jsonb)]
    j: Value,
}

/// A new template, already validated.
pub struct NewTemplate<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub message_body: &'a str,
    pub image_url: &'a str,
    pub image_base64: &'a str,
    pub caption: &'a str,
}

/// Changes to a template: `None` (or an empty string, as the reference) keeps the column.
#[derive(Default)]
pub struct TemplatePatch {
    pub name: Option<String>,
    pub status: Option<String>,
    pub message_body: Option<String>,
    pub image_url: Option<String>,
    pub image_base64: Option<String>,
    pub caption: Option<String>,
}

/// What update validation needs to know about the current row.
#[derive(QueryableByName, Debug)]
pub struct TemplateKind {
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub image_url: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub image_base64: Option<String>,
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    t: NewTemplate<'_>,
) -> QueryResult<Value> {
    let row: J = diesel::sql_query(format!(
        r#"INSERT INTO "WhatsAppCampaigns" AS t (user_id, name, type, status, message_body, image_url, image_base64, caption, created_at, updated_at)
           VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, now(), now()) RETURNING {TEMPLATE_JSON}"#
    ))
    .bind::<Text, _>(&user.0)
    .bind::<Text, _>(t.name)
    .bind::<Text, _>(t.kind)
    .bind::<Text, _>(t.message_body)
    .bind::<Text, _>(t.image_url)
    .bind::<Text, _>(t.image_base64)
    .bind::<Text, _>(t.caption)
    .get_result(conn)
    .await?;
    Ok(row.j)
}

/// The user's templates in id order; `page` is (page ≥ 1, limit).
pub async fn list(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    page: Option<(i64, i64)>,
) -> QueryResult<Vec<Value>> {
    let (limit, offset) = page.map(|(p, l)| (l, (p - 1) * l)).unwrap_or((i64::MAX, 0));
    let rows: Vec<J> = diesel::sql_query(format!(
        r#"SELECT {TEMPLATE_JSON} FROM "WhatsAppCampaigns" t WHERE t.user_id = $1 AND t.deleted_at IS NULL
           ORDER BY t.id LIMIT $2 OFFSET $3"#
    ))
    .bind::<Text, _>(&user.0)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(offset)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.j).collect())
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    id: TemplateId,
) -> QueryResult<Option<Value>> {
    let rows: Vec<J> = diesel::sql_query(format!(
        r#"SELECT {TEMPLATE_JSON} FROM "WhatsAppCampaigns" t WHERE t.id = $1 AND t.user_id = $2 AND t.deleted_at IS NULL"#
    ))
    .bind::<BigInt, _>(id.0)
    .bind::<Text, _>(&user.0)
    .load(conn)
    .await?;
    Ok(rows.into_iter().next().map(|r| r.j))
}

pub async fn kind(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    id: TemplateId,
) -> QueryResult<Option<TemplateKind>> {
    let rows: Vec<TemplateKind> = diesel::sql_query(
        r#"SELECT type AS kind, image_url, image_base64 FROM "WhatsAppCampaigns" WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL"#,
    )
    .bind::<BigInt, _>(id.0)
    .bind::<Text, _>(&user.0)
    .load(conn)
    .await?;
    Ok(rows.into_iter().next())
}

/// Applies the non-empty fields and bumps `updated_at`; `None` when the row is not the user's.
pub async fn update(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    id: TemplateId,
    p: &TemplatePatch,
) -> QueryResult<Option<Value>> {
    let rows: Vec<J> = diesel::sql_query(format!(
        r#"UPDATE "WhatsAppCampaigns" t SET
             name = COALESCE(NULLIF($3, ''), t.name),
             status = COALESCE(NULLIF($4, ''), t.status),
             message_body = COALESCE(NULLIF($5, ''), t.message_body),
             image_url = COALESCE(NULLIF($6, ''), t.image_url),
             image_base64 = COALESCE(NULLIF($7, ''), t.image_base64),
             caption = COALESCE(NULLIF($8, ''), t.caption),
             updated_at = now()
           WHERE t.id = $1 AND t.user_id = $2 AND t.deleted_at IS NULL
           RETURNING {TEMPLATE_JSON}"#
    ))
    .bind::<BigInt, _>(id.0)
    .bind::<Text, _>(&user.0)
    .bind::<Nullable<Text>, _>(p.name.as_deref())
    .bind::<Nullable<Text>, _>(p.status.as_deref())
    .bind::<Nullable<Text>, _>(p.message_body.as_deref())
    .bind::<Nullable<Text>, _>(p.image_url.as_deref())
    .bind::<Nullable<Text>, _>(p.image_base64.as_deref())
    .bind::<Nullable<Text>, _>(p.caption.as_deref())
    .load(conn)
    .await?;
    Ok(rows.into_iter().next().map(|r| r.j))
}

/// Soft delete; `false` when the row is not the user's.
pub async fn delete(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    id: TemplateId,
) -> QueryResult<bool> {
    let n = diesel::sql_query(
        r#"UPDATE "WhatsAppCampaigns" SET deleted_at = now(), updated_at = now()
           WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL"#,
    )
    .bind::<BigInt, _>(id.0)
    .bind::<Text, _>(&user.0)
    .execute(conn)
    .await?;
    Ok(n > 0)
}
