//! Contacts (contract §8): sync from the upstream address book, list, add, delete.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{bind_body, invalid_request, Paging};
use crate::db::queries::contacts::{self as q, SyncedContact};
use crate::domain::PhoneNumber;
use crate::error::ApiError;
use crate::http::extractors::AuthUser;
use crate::startup::AppState;
use crate::upstream::UpstreamError;

/// The five keys of each `data` entry of the sync answer (§8.1).
const ENTRY_KEYS: [&str; 5] = ["BusinessName", "FirstName", "Found", "FullName", "PushName"];

/// Most contacts one add call takes.
const MAX_ADD: usize = 10_000;

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

#[derive(Deserialize)]
struct AddBody {
    #[serde(default)]
    contacts: Option<Vec<AddContact>>,
}

#[derive(Deserialize)]
struct AddContact {
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    full_name: Option<String>,
}

/// `POST /bulk/contact/add`: all or nothing; phones normalised; a phone given twice counts once
/// (the last name wins).
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

#[derive(Deserialize)]
struct DeleteBody {
    #[serde(default)]
    phone: Option<Vec<String>>,
}

/// `DELETE /bulk/contact/delete`: matches the normalised form of each phone (and the string as
/// given, for rows stored before normalisation).
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
