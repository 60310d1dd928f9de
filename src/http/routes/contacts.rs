//! Contacts (contract §8): sync from the upstream address book, list, add, delete.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{bind_body, invalid_request, Paging};
use crate::db::queries::contacts::{self as q, SyncedContact};
use crate::domain::PhoneNumber;
use crate::error::{ApiError, BulkErrorBody, ErrorBody};
use crate::http::extractors::AuthUser;
use crate::startup::AppState;
use crate::upstream::UpstreamError;

/// The five keys of each `data` entry of the sync answer (§8.1).
const ENTRY_KEYS: [&str; 5] = ["BusinessName", "FirstName", "Found", "FullName", "PushName"];

/// Most contacts one add call takes.
const MAX_ADD: usize = 10_000;

/// One entry of the upstream's address book.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SyncedEntry {
    pub business_name: String,
    pub first_name: String,
    pub found: bool,
    pub full_name: String,
    pub push_name: String,
}

/// `POST /bulk/contact/sync` answer.
#[derive(utoipa::ToSchema)]
pub struct ContactSyncResponse {
    #[schema(example = 200)]
    pub code: i64,
    #[schema(example = true)]
    pub success: bool,
    #[schema(example = "Successfully synced 2 contacts")]
    pub message: String,
    /// Keyed by JID.
    pub data: std::collections::HashMap<String, SyncedEntry>,
    /// Contacts stored (entries whose JID is a phone number).
    pub stored: u64,
}

/// `GET /bulk/contact` answer.
#[derive(utoipa::ToSchema)]
pub struct ContactList {
    #[schema(example = 200)]
    pub code: i64,
    #[schema(example = true)]
    pub success: bool,
    pub data: Vec<q::ListedContact>,
}

/// A stored contact.
#[derive(utoipa::ToSchema)]
pub struct Contact {
    pub id: i64,
    pub user_id: String,
    pub phone: String,
    pub name: String,
    pub full_name: String,
    pub push_name: String,
    pub short: String,
    pub notify: String,
    pub business: Option<bool>,
    pub verified: Option<bool>,
    /// `manual` or `sync`.
    pub source: Option<String>,
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
    pub updated_at: chrono::DateTime<chrono::FixedOffset>,
    pub deleted_at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

#[derive(utoipa::ToSchema)]
pub struct ContactAddData {
    pub added_count: u64,
    pub updated_count: u64,
    pub contacts: Vec<Contact>,
}

/// `POST /bulk/contact/add` answer.
#[derive(utoipa::ToSchema)]
pub struct ContactAddResponse {
    #[schema(example = 200)]
    pub code: i64,
    #[schema(example = true)]
    pub success: bool,
    #[schema(example = "Processed 2 contacts (1 added, 1 updated)")]
    pub message: String,
    pub data: ContactAddData,
}

#[derive(utoipa::ToSchema)]
pub struct ContactDeleteData {
    pub deleted_count: u64,
    pub requested_count: u64,
}

/// `DELETE /bulk/contact/delete` answer.
#[derive(utoipa::ToSchema)]
pub struct ContactDeleteResponse {
    #[schema(example = 200)]
    pub code: i64,
    #[schema(example = true)]
    pub success: bool,
    pub message: String,
    pub data: ContactDeleteData,
}

fn sync_failed(upstream_code: i64) -> ApiError {
    ApiError::bad_request(
        "upstream_rejected",
        "Failed to sync contacts from WhatsApp server",
    )
    .body_code(upstream_code)
}

fn upstream_error(e: UpstreamError) -> ApiError {
    match e {
        UpstreamError::Rejected { status, .. } | UpstreamError::Failed { status, .. } => {
            sync_failed(i64::from(status))
        }
        UpstreamError::NoSession | UpstreamError::NotLoggedIn => sync_failed(500),
        UpstreamError::RateLimited => sync_failed(429),
        e @ (UpstreamError::Unreachable(_) | UpstreamError::OutcomeUnknown(_)) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "upstream_unreachable",
            "Failed to connect to WhatsApp server",
        )
        .source(e),
    }
}

fn text(entry: &Value, key: &str) -> String {
    entry
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// `POST /bulk/contact/sync`: bearer plus the `token` header of one of the user's own sessions
/// and an active subscription.
#[utoipa::path(
    post,
    path = "/bulk/contact/sync",
    operation_id = "sync_contacts",
    tag = "contacts",
    responses(
        (status = 200, description = "The upstream's address book (keyed by JID) and how many contacts were stored", body = ContactSyncResponse),
        (status = 400, description = "The upstream refused: `code` is the upstream's code", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token (`error`), or no `token` header (bulk envelope)", body = ref("#/components/schemas/AuthOrBulkError")),
        (status = 403, description = "The session token is not one of the user's sessions, or no active subscription", body = BulkErrorBody),
        (status = 502, description = "Upstream unreachable or unparseable answer", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = [], "session_token" = []))
)]
pub async fn sync(
    state: web::Data<AppState>,
    auth: AuthUser,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let token = req
        .headers()
        .get("token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "session_token_required",
                "WhatsApp session token is required",
            )
        })?
        .to_string();
    {
        let mut conn = state.db.transactional.get().await?;
        let ent = q::sync_entitlement(&mut conn, &auth.user_id, &token).await?;
        if !ent.owns_session {
            return Err(ApiError::forbidden(
                "session_not_owned",
                "WhatsApp session token does not belong to this user",
            ));
        }
        if !ent.subscribed {
            return Err(ApiError::forbidden(
                "no_active_subscription",
                "no active subscription found",
            ));
        }
    }
    let started = std::time::Instant::now();
    let data = state
        .client
        .contacts(&token, state.settings.contact_sync_timeout)
        .await
        .map_err(upstream_error)?;
    let Value::Object(book) = data else {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "upstream_bad_response",
            "Failed to parse response",
        ));
    };
    let mut by_phone: BTreeMap<PhoneNumber, SyncedContact> = BTreeMap::new();
    let mut out = Map::with_capacity(book.len());
    let mut skipped = 0usize;
    for (jid, entry) in &book {
        let mut shown = Map::new();
        for k in ENTRY_KEYS {
            let default = if k == "Found" {
                json!(false)
            } else {
                json!("")
            };
            shown.insert(k.to_string(), entry.get(k).cloned().unwrap_or(default));
        }
        out.insert(jid.clone(), Value::Object(shown));
        match PhoneNumber::parse(jid) {
            Ok(phone) => {
                by_phone.insert(
                    phone.clone(),
                    SyncedContact {
                        phone,
                        name: text(entry, "FirstName"),
                        full_name: text(entry, "FullName"),
                        push_name: text(entry, "PushName"),
                        business: !text(entry, "BusinessName").is_empty(),
                    },
                );
            }
            Err(_) => skipped += 1,
        }
    }
    let fetched = started.elapsed();
    let mut conn = state.db.transactional.get().await?;
    let stored =
        q::upsert_synced(&mut conn, &auth.user_id, by_phone.into_values().collect()).await?;
    tracing::info!(
        user = %auth.user_id,
        received = book.len(),
        skipped,
        stored,
        fetch_ms = fetched.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "contacts synced"
    );
    Ok(HttpResponse::Ok().json(json!({
        "code": 200,
        "success": true,
        "message": format!("Successfully synced {stored} contacts"),
        "data": out,
        "stored": stored,
    })))
}

/// `GET /bulk/contact`: `[]` when none; opt-in `page`/`limit` and `search`.
#[utoipa::path(
    get,
    path = "/bulk/contact",
    operation_id = "list_contacts",
    tag = "contacts",
    params(Paging),
    responses(
        (status = 200, description = "The user's contacts in id order (`[]` when none)", body = ContactList),
        (status = 400, description = "Bad pagination", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let search = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let fetch_failed = |e: ApiError| {
        if e.status == StatusCode::INTERNAL_SERVER_ERROR {
            let mut e = e;
            e.message = "Failed to fetch contacts".into();
            e
        } else {
            e
        }
    };
    let mut conn = state
        .db
        .transactional
        .get()
        .await
        .map_err(|e| fetch_failed(e.into()))?;
    let rows = q::list(&mut conn, &auth.user_id, search, page)
        .await
        .map_err(|e| fetch_failed(e.into()))?;
    Ok(HttpResponse::Ok().json(json!({"code": 200, "success": true, "data": rows})))
}

/// `POST /bulk/contact/add` body: 1 to 10,000 contacts (more: 400).
#[derive(Deserialize, utoipa::ToSchema)]
struct AddBody {
    #[serde(default)]
    #[schema(value_type = Vec<AddContact>, required = true, min_items = 1)]
    contacts: Option<Vec<AddContact>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct AddContact {
    /// Normalised to digits with the country code.
    #[serde(default)]
    #[schema(example = "6281234567890", value_type = String, required = true)]
    phone: Option<String>,
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    full_name: Option<String>,
}

/// `POST /bulk/contact/add`: all or nothing; phones normalised; a phone given twice counts once
/// (the last name wins).
#[utoipa::path(
    post,
    path = "/bulk/contact/add",
    operation_id = "add_contacts",
    tag = "contacts",
    request_body = AddBody,
    responses(
        (status = 200, description = "Added or renamed, all or nothing", body = ContactAddResponse),
        (status = 400, description = "Binding or validation error (`Invalid request: ...`)", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 413, description = "Body over 8 MiB", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn add(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let b: AddBody = bind_body(body.into_inner())?;
    let contacts = b
        .contacts
        .filter(|c| !c.is_empty())
        .ok_or_else(|| invalid_request("contacts must list at least one contact"))?;
    if contacts.len() > MAX_ADD {
        return Err(invalid_request(format!(
            "at most {MAX_ADD} contacts per request"
        )));
    }
    let mut order: Vec<PhoneNumber> = Vec::with_capacity(contacts.len());
    let mut names: std::collections::HashMap<PhoneNumber, String> =
        std::collections::HashMap::with_capacity(contacts.len());
    for (i, c) in contacts.into_iter().enumerate() {
        let raw = c
            .phone
            .filter(|p| !p.is_empty())
            .ok_or_else(|| invalid_request(format!("contacts[{i}].phone is required")))?;
        let full_name = c
            .full_name
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| invalid_request(format!("contacts[{i}].full_name is required")))?;
        let phone = PhoneNumber::parse(&raw)
            .map_err(|e| invalid_request(format!("contacts[{i}].phone: {e}")))?;
        if names.insert(phone.clone(), full_name).is_none() {
            order.push(phone);
        }
    }
    let rows: Vec<(PhoneNumber, String)> = order
        .into_iter()
        .map(|p| {
            let n = names.remove(&p).unwrap_or_default();
            (p, n)
        })
        .collect();
    let total = rows.len();
    let mut conn = state.db.transactional.get().await?;
    let outcome = q::add_manual(&mut conn, &auth.user_id, rows).await?;
    Ok(HttpResponse::Ok().json(json!({
        "code": 200,
        "success": true,
        "message": format!("Processed {total} contacts ({} added, {} updated)", outcome.added, outcome.updated),
        "data": {
            "added_count": outcome.added,
            "updated_count": outcome.updated,
            "contacts": outcome.contacts,
        },
    })))
}

/// `DELETE /bulk/contact/delete` body: at least one phone.
#[derive(Deserialize, utoipa::ToSchema)]
struct DeleteBody {
    #[serde(default)]
    #[schema(value_type = Vec<String>, required = true, min_items = 1)]
    phone: Option<Vec<String>>,
}

/// `DELETE /bulk/contact/delete`: matches the normalised form of each phone (and the string as
/// given, for rows stored before normalisation).
#[utoipa::path(
    delete,
    path = "/bulk/contact/delete",
    operation_id = "delete_contacts",
    tag = "contacts",
    request_body = DeleteBody,
    responses(
        (status = 200, description = "Soft-deleted", body = ContactDeleteResponse),
        (status = 400, description = "Binding or validation error", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`No contacts found for the provided phone numbers`", body = BulkErrorBody),
        (status = 413, description = "Body over 8 MiB", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn delete(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let b: DeleteBody = bind_body(body.into_inner())?;
    let phones = b
        .phone
        .filter(|p| !p.is_empty())
        .ok_or_else(|| invalid_request("phone must list at least one number"))?;
    let requested = phones.len();
    let mut keys: Vec<String> = Vec::with_capacity(phones.len() * 2);
    for raw in &phones {
        if let Ok(p) = PhoneNumber::parse(raw) {
            keys.push(p.into_string());
        }
        if !raw.is_empty() {
            keys.push(raw.clone());
        }
    }
    keys.sort();
    keys.dedup();
    let mut conn = state.db.transactional.get().await?;
    let deleted = q::delete(&mut conn, &auth.user_id, &keys).await?;
    if deleted == 0 {
        return Err(ApiError::not_found(
            "contacts_not_found",
            "No contacts found for the provided phone numbers",
        ));
    }
    Ok(HttpResponse::Ok().json(json!({
        "code": 200,
        "success": true,
        "message": format!("Successfully deleted {deleted} contacts"),
        "data": {"deleted_count": deleted, "requested_count": requested},
    })))
}
