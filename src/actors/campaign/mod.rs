//! `CampaignActor`: one per user, started on demand and stopped when idle. It owns the
//! lifecycle of the user's campaigns (start, pause, resume, cancel, retry) and checks the
//! user's entitlement before starting and while running; a lost entitlement pauses.

use std::time::Duration;

use actix::prelude::*;

use super::sender_pool::{SenderPool, WakeSession};
use super::Deps;
use crate::db::queries::campaigns::{self as q, CampaignRow};
use crate::domain::{CampaignId, UserId};

/// The lifecycle operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignOp {
    /// An immediate campaign was created (`pending` → `processing`).
    Start,
    /// The scheduler already moved it to `processing`.
    Started,
    Pause,
    Resume,
    Cancel,
    Retry,
}

/// What an operation answers.
#[derive(Debug)]
pub enum OpOutcome {
    Done(Box<CampaignRow>),
    /// The campaign is not the user's, or deleted.
    NotFound,
    /// The operation does not apply in the campaign's current status.
    Conflict(String),
}

/// Runs one operation on one of the user's campaigns.
#[derive(Message)]
#[rtype(result = "Result<OpOutcome, String>")]
pub struct RunOp {
    pub campaign_id: CampaignId,
    pub op: CampaignOp,
}

/// Checks the entitlement of every running campaign now (also on a timer).
#[derive(Message)]
#[rtype(result = "Result<usize, String>")]
pub struct CheckEntitlements;

/// Per-user lifecycle actor.
pub struct CampaignActor {
    deps: Deps,
    user: UserId,
    senders: Addr<SenderPool>,
    idle_checks: u32,
}

impl CampaignActor {
    pub fn new(deps: Deps, user: UserId, senders: Addr<SenderPool>) -> Self {
        CampaignActor {
            deps,
            user,
            senders,
            idle_checks: 0,
        }
    }
}

impl Actor for CampaignActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(Duration::from_secs(10), |act, ctx| {
            let addr = ctx.address();
            act.idle_checks += 1;
            actix::spawn(async move {
                let _ = addr.send(CheckEntitlements).await;
            });
        });
    }
}

async fn run_op(
    deps: Deps,
    senders: Addr<SenderPool>,
    user: UserId,
    id: CampaignId,
    op: CampaignOp,
) -> Result<OpOutcome, String> {
    let mut conn = deps
        .db
        .transactional
        .get()
        .await
        .map_err(|e| e.to_string())?;
    let Some(current) = q::find_campaign(&mut conn, &user, id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(OpOutcome::NotFound);
    };
    let mut session = current.session_id.clone().unwrap_or_default();
    if session.is_empty() && matches!(op, CampaignOp::Start | CampaignOp::Started) {
        // A campaign created by the reference service names no sender: when it starts (pending
        // or scheduled, so none of its items was attempted) it gets the user's most recently
        // updated connected session. A paused one is not adopted: it may have been running in
        // the reference, which records item results only at the end.
        if let Some(s) = q::adopt_session(&mut conn, &user, id)
            .await
            .map_err(|e| e.to_string())?
        {
            tracing::info!(campaign_id = id.0, session = %s, "campaign without a session adopted one");
            session = s;
        }
    }
    let entitled = || async {
        let mut conn = deps
            .db
            .transactional
            .get()
            .await
            .map_err(|e| e.to_string())?;
        q::entitlement_problem(&mut conn, &user, &session)
            .await
            .map_err(|e| e.to_string())
    };
    let row = match op {
        CampaignOp::Start | CampaignOp::Started | CampaignOp::Resume => {
            let from: &[&str] = match op {
                CampaignOp::Start => &["pending"],
                CampaignOp::Started => &["processing"],
                _ => &["paused"],
            };
            if !from.contains(&current.status.as_str()) {
                return Ok(OpOutcome::Conflict(format!(
                    "campaign is {}",
                    current.status
                )));
            }
            if let Some(problem) = entitled().await? {
                // Not entitled: hold the campaign instead of failing its items.
                let r = q::transition(
                    &mut conn,
                    &user,
                    id,
                    &["pending", "processing", "paused"],
                    "paused",
                    Some(&problem),
                )
                .await
                .map_err(|e| e.to_string())?;
                tracing::info!(campaign_id = id.0, reason = %problem, "campaign paused: not entitled");
                return Ok(r
                    .map(|r| OpOutcome::Done(Box::new(r)))
                    .unwrap_or(OpOutcome::NotFound));
            }
            let to = if op == CampaignOp::Resume
                && current.scheduled_at.is_some_and(|t| t > chrono::Utc::now())
                && current.processed_at.is_none()
            {
                "scheduled"
            } else {
                "processing"
            };
            q::transition(&mut conn, &user, id, from, to, None)
                .await
                .map_err(|e| e.to_string())?
        }
        CampaignOp::Pause => q::transition(
            &mut conn,
            &user,
            id,
            &["pending", "scheduled", "processing"],
            "paused",
            Some("paused by user"),
        )
        .await
        .map_err(|e| e.to_string())?,
        CampaignOp::Cancel => q::cancel_campaign(&mut conn, &user, id)
            .await
            .map_err(|e| e.to_string())?,
        CampaignOp::Retry => match q::retry_failed(&mut conn, &user, id)
            .await
            .map_err(|e| e.to_string())?
        {
            Some(_) => q::find_campaign(&mut conn, &user, id)
                .await
                .map_err(|e| e.to_string())?,
            None => None,
        },
    };
    let Some(row) = row else {
        let now = q::find_campaign(&mut conn, &user, id)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(match now {
            Some(c) => OpOutcome::Conflict(format!("campaign is {}", c.status)),
            None => OpOutcome::NotFound,
        });
    };
    if row.status == "processing" {
        if let Some(s) = &row.session_id {
            senders.do_send(WakeSession(s.clone()));
        }
        // A retry of a campaign whose items were all requeued then immediately finished.
        let _ = q::complete_finished(&mut conn, &[row.id]).await;
    }
    Ok(OpOutcome::Done(Box::new(row)))
}

impl Handler<RunOp> for CampaignActor {
    type Result = ResponseFuture<Result<OpOutcome, String>>;
    fn handle(&mut self, msg: RunOp, _: &mut Context<Self>) -> Self::Result {
        self.idle_checks = 0;
        Box::pin(run_op(
            self.deps.clone(),
            self.senders.clone(),
            self.user.clone(),
            msg.campaign_id,
            msg.op,
        ))
    }
}

impl Handler<CheckEntitlements> for CampaignActor {
    type Result = ResponseActFuture<Self, Result<usize, String>>;
    fn handle(&mut self, _: CheckEntitlements, _: &mut Context<Self>) -> Self::Result {
        let deps = self.deps.clone();
        let user = self.user.clone();
        Box::pin(
            async move {
                let mut conn = deps.db.transactional.get().await.map_err(|e| e.to_string())?;
                let running: Vec<CampaignRow> = q::list_campaigns(&mut conn, &user, None)
                    .await
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .filter(|c| c.status == "processing")
                    .collect();
                let mut paused = 0;
                for c in &running {
                    let session = c.session_id.clone().unwrap_or_default();
                    if let Some(problem) = q::entitlement_problem(&mut conn, &user, &session).await.map_err(|e| e.to_string())? {
                        q::transition(&mut conn, &user, CampaignId(c.id), &["processing"], "paused", Some(&problem))
                            .await
                            .map_err(|e| e.to_string())?;
                        tracing::info!(campaign_id = c.id, reason = %problem, "campaign paused: entitlement lost");
                        paused += 1;
                    }
                }
                Ok((paused, running.len()))
            }
            .into_actor(self)
            .map(|res: Result<(usize, usize), String>, act, ctx| {
                let (paused, running) = res?;
                if running > 0 {
                    act.idle_checks = 0;
                } else if act.idle_checks >= 3 {
                    // Idle for a while: the registry starts a new actor on the next message.
                    ctx.stop();
                }
                Ok(paused)
            }),
        )
    }
}
