//! How an upstream call failed, classified for the sender's retry rule (defect 5).

/// A failed upstream call.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The request surely did not reach the upstream (connection refused, DNS): safe to retry.
    #[error("upstream unreachable")]
    Unreachable(#[source] reqwest::Error),
    /// The upstream throttled us (429): not sent, retry later.
    #[error("upstream rate limited")]
    RateLimited,
    /// The upstream has no client for this session (500 `no session`): not sent.
    #[error("upstream session not started")]
    NoSession,
    /// The session is connected but not logged in (500 `... device JID`): not sent.
    #[error("upstream session not logged in")]
    NotLoggedIn,
    /// A timeout or a dropped answer after the request was sent: the message may be out.
    #[error("upstream outcome unknown")]
    OutcomeUnknown(#[source] reqwest::Error),
    /// The upstream refused the request (4xx): permanent, never retried.
    #[error("upstream refused the request ({status}): {reason}")]
    Rejected { status: u16, reason: String },
    /// The upstream failed (5xx other than the above).
    #[error("upstream failed ({status}): {reason}")]
    Failed { status: u16, reason: String },
}

impl UpstreamError {
    /// Whether the message surely was not sent, so a retry cannot duplicate it.
    pub fn surely_not_sent(&self) -> bool {
        matches!(
            self,
            UpstreamError::Unreachable(_)
                | UpstreamError::RateLimited
                | UpstreamError::NoSession
                | UpstreamError::NotLoggedIn
        )
    }

    /// A short reason for item rows (never a raw upstream body).
    pub fn short_reason(&self) -> String {
        match self {
            UpstreamError::Unreachable(_) => "upstream_unreachable".into(),
            UpstreamError::RateLimited => "upstream_rate_limited".into(),
            UpstreamError::NoSession => "session_not_connected".into(),
            UpstreamError::NotLoggedIn => "session_not_logged_in".into(),
            UpstreamError::OutcomeUnknown(_) => "outcome_unknown".into(),
            UpstreamError::Rejected { status, reason }
            | UpstreamError::Failed { status, reason } => {
                let mut r: String = reason
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(120)
                    .collect();
                if r.is_empty() {
                    r = "no reason given".into();
                }
                format!("upstream {status}: {r}")
            }
        }
    }
}
