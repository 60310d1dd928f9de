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

/// A success with a message and no data: `{"code":200,"success":true,"message"}`.
#[derive(utoipa::ToSchema)]
pub struct OkMessage {
    #[schema(example = 200)]
    pub code: i64,
    #[schema(example = true)]
    pub success: bool,
    pub message: String,
}

/// Opt-in pagination of list routes: without `page` and `limit` the whole list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Page number, 1..=1000000 (default 1 when `limit` is given).
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Page size, 1..=1000 (default 50 when `page` is given).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `GET /bulk/contact` only: matches phone or any name (case-insensitive, literal).
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
