pub mod campaigns;
pub mod chats;
pub mod contacts;
pub mod health;
pub mod metrics;
pub mod sessions;
pub mod templates;
pub mod webhooks;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;

/// `400 Invalid request: <reason>` (reason written by us or by serde, never by a validator or
/// the database).
pub(crate) fn invalid_request(reason: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_request", format!("Invalid request: {reason}"))
}

fn lowercase_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k.to_lowercase(), lowercase_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(lowercase_keys).collect()),
        other => other,
    }
}

/// Binds a JSON body as the reference does: keys match case-insensitively, unknown keys are
/// ignored, a wrong type is `400 Invalid request: <serde reason>`.
pub(crate) fn bind_body<T: DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_json::from_value(lowercase_keys(body)).map_err(invalid_request)
}

/// Opt-in pagination of list routes: without `page` and `limit` the whole list.
#[derive(Debug, Deserialize)]
pub struct Paging {
    pub page: Option<i64>,
    pub limit: Option<i64>,
    pub search: Option<String>,
}

impl Paging {
    pub(crate) fn page(&self) -> Result<Option<(i64, i64)>, ApiError> {
        if self.search.as_deref().is_some_and(|s| s.contains('\0')) {
            return Err(ApiError::bad_request(
                "invalid_query",
                "Invalid request: search contains a NUL character",
            ));
        }
        match (self.page, self.limit) {
            (None, None) => Ok(None),
            (p, l) => {
                let p = p.unwrap_or(1);
                let l = l.unwrap_or(50);
                if !(1..=1_000_000).contains(&p) || !(1..=1000).contains(&l) {
                    return Err(ApiError::bad_request(
                        "invalid_pagination",
                        "page must be between 1 and 1000000 and limit between 1 and 1000",
                    ));
                }
                Ok(Some((p, l)))
            }
        }
    }
}
