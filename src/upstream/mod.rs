//! `WhatsAppClient`: typed calls to the upstream (upstream.md §5) over one shared reqwest client.

pub mod error;

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use url::Url;

pub use error::UpstreamError;

/// The upstream client. Cheap to clone.
#[derive(Clone)]
pub struct WhatsAppClient {
    http: reqwest::Client,
    base: Url,
    timeout: Duration,
}

/// `POST /chat/send/text`.
#[derive(Serialize)]
pub struct SendText<'a> {
    #[serde(rename = "Phone")]
    pub phone: &'a str,
    #[serde(rename = "Body")]
    pub body: &'a str,
    #[serde(rename = "Id")]
    pub id: &'a str,
}

/// `POST /chat/send/image`.
#[derive(Serialize)]
pub struct SendImage<'a> {
    #[serde(rename = "Phone")]
    pub phone: &'a str,
    #[serde(rename = "Image")]
    pub image: &'a str,
    #[serde(rename = "Caption", skip_serializing_if = "str::is_empty")]
    pub caption: &'a str,
    #[serde(rename = "Id")]
    pub id: &'a str,
}

/// Joins a base URL and an upstream path without doubling or losing slashes.
pub fn join_url(base: &Url, path_and_query: &str) -> String {
    let b = base.as_str().trim_end_matches('/');
    let p = path_and_query.trim_start_matches('/');
    format!("{b}/{p}")
}

impl WhatsAppClient {
    pub fn new(http: reqwest::Client, base: Url, timeout: Duration) -> Self {
        WhatsAppClient {
            http,
            base,
            timeout,
        }
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Sends a text; returns the message id the upstream reports.
    pub async fn send_text(
        &self,
        token: &str,
        req: &SendText<'_>,
    ) -> Result<String, UpstreamError> {
        self.send("/chat/send/text", token, req).await
    }

    /// Sends an image (a `data:` URI or URL); returns the message id.
    pub async fn send_image(
        &self,
        token: &str,
        req: &SendImage<'_>,
    ) -> Result<String, UpstreamError> {
        self.send("/chat/send/image", token, req).await
    }

    async fn send<T: Serialize>(
        &self,
        path: &'static str,
        token: &str,
        body: &T,
    ) -> Result<String, UpstreamError> {
        let v = self
            .call(reqwest::Method::POST, path, token, Some(body))
            .await?;
        Ok(v.pointer("/data/Id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }

    /// `GET /user/contacts` → the `data` map.
    pub async fn contacts(&self, token: &str, timeout: Duration) -> Result<Value, UpstreamError> {
        let v = self
            .call_with_timeout(
                reqwest::Method::GET,
                "/user/contacts",
                token,
                None::<&()>,
                timeout,
            )
            .await?;
        Ok(v.get("data").cloned().unwrap_or(Value::Null))
    }

    /// `GET /session/status` → the `data` object.
    pub async fn session_status(&self, token: &str) -> Result<Value, UpstreamError> {
        let v = self
            .call(reqwest::Method::GET, "/session/status", token, None::<&()>)
            .await?;
        Ok(v.get("data").cloned().unwrap_or(Value::Null))
    }

    async fn call<T: Serialize>(
        &self,
        method: reqwest::Method,
        path: &'static str,
        token: &str,
        body: Option<&T>,
    ) -> Result<Value, UpstreamError> {
        self.call_with_timeout(method, path, token, body, self.timeout)
            .await
    }

    /// `path` is a fixed upstream path; it is also the metrics label.
    async fn call_with_timeout<T: Serialize>(
        &self,
        method: reqwest::Method,
        path: &'static str,
        token: &str,
        body: Option<&T>,
        timeout: Duration,
    ) -> Result<Value, UpstreamError> {
        let mut req = self
            .http
            .request(method, join_url(&self.base, path))
            .header("token", token)
            .timeout(timeout);
        if let Some(b) = body {
            req = req.json(b);
        }
        let started = Instant::now();
        let resp = req.send().await.map_err(|e| {
            let outcome = crate::metrics::outcome_of_error(&e);
            crate::metrics::upstream_call(crate::metrics::VIA_CLIENT, path, outcome, started);
            if e.is_connect() && !e.is_timeout() {
                UpstreamError::Unreachable(e)
            } else {
                UpstreamError::OutcomeUnknown(e)
            }
        })?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await;
        let outcome = match &bytes {
            Ok(_) => crate::metrics::outcome_of_status(status),
            Err(e) => crate::metrics::outcome_of_error(e),
        };
        crate::metrics::upstream_call(crate::metrics::VIA_CLIENT, path, outcome, started);
        let bytes = bytes.map_err(UpstreamError::OutcomeUnknown)?;
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let reason = v
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match status {
            200..=299 => {
                let code = v.get("code").and_then(Value::as_i64).unwrap_or(200);
                if (200..300).contains(&code) {
                    Ok(v)
                } else {
                    Err(UpstreamError::Failed {
                        status: code as u16,
                        reason,
                    })
                }
            }
            429 => Err(UpstreamError::RateLimited),
            400..=499 => Err(UpstreamError::Rejected { status, reason }),
            _ if reason == "no session" => Err(UpstreamError::NoSession),
            _ if reason.contains("device JID") => Err(UpstreamError::NotLoggedIn),
            _ => Err(UpstreamError::Failed { status, reason }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_without_double_slashes() {
        let b = Url::parse("http://h:1/base/").unwrap();
        assert_eq!(
            join_url(&b, "/chat/send/text"),
            "http://h:1/base/chat/send/text"
        );
        let b = Url::parse("http://h:1").unwrap();
        assert_eq!(
            join_url(&b, "chat/send/text?x=1"),
            "http://h:1/chat/send/text?x=1"
        );
    }
}
