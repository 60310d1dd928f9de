//! `SchedulerActor`: wakes at the next scheduled campaign's due time (a timer, not a cron),
//! sweeps periodically as a safety net, claims due campaigns atomically across processes and
//! hands each to its user's campaign actor. It also expires "outcome unknown" items.

use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;

use super::campaign_registry::{CampaignRegistry, CampaignStarted};
use super::Deps;
use crate::db::queries::campaigns as q;

/// One per process.
pub struct SchedulerActor {
    deps: Deps,
    registry: Addr<CampaignRegistry>,
    timer: Option<SpawnHandle>,
    sweeping: bool,
}

impl SchedulerActor {
    pub fn new(deps: Deps, registry: Addr<CampaignRegistry>) -> Self {
        SchedulerActor {
            deps,
            registry,
            timer: None,
            sweeping: false,
        }
    }

    fn arm(&mut self, ctx: &mut Context<Self>, at: chrono::DateTime<Utc>) {
        let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        if let Some(h) = self.timer.take() {
            ctx.cancel_future(h);
        }
        self.timer = Some(ctx.run_later(wait, |act, ctx| {
            act.timer = None;
            ctx.notify(Sweep);
        }));
    }
}

impl Actor for SchedulerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.notify(Sweep);
        let every = self.deps.settings.scheduler_sweep_interval;
        ctx.run_interval(every, |_, ctx| ctx.notify(Sweep));
    }
}

impl Supervised for SchedulerActor {}

/// A campaign was scheduled: re-arm the timer if it is due earlier.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CampaignScheduled {
    pub at: chrono::DateTime<Utc>,
}

impl Handler<CampaignScheduled> for SchedulerActor {
    type Result = ();
    fn handle(&mut self, msg: CampaignScheduled, ctx: &mut Context<Self>) {
        // The timer is re-armed to the earliest due time after every sweep; a new campaign
        // only needs to pull it earlier.
        self.arm(ctx, msg.at);
        ctx.notify(Rearm);
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct Rearm;

impl Handler<Rearm> for SchedulerActor {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, _: Rearm, _: &mut Context<Self>) -> Self::Result {
        let deps = self.deps.clone();
        Box::pin(
            async move {
                let mut conn = deps.db.transactional.get().await.ok()?;
                q::next_due(&mut conn).await.ok().flatten()
            }
            .into_actor(self)
            .map(|next, act, ctx| {
                if let Some(at) = next {
                    act.arm(ctx, at);
                }
            }),
        )
    }
}

/// Claims and starts every due campaign now; answers how many this call started.
#[derive(Message)]
#[rtype(result = "Result<usize, String>")]
pub struct Sweep;

impl Handler<Sweep> for SchedulerActor {
    type Result = ResponseActFuture<Self, Result<usize, String>>;
    fn handle(&mut self, _: Sweep, _: &mut Context<Self>) -> Self::Result {
        if self.sweeping {
            return Box::pin(fut::ready(Ok(0)));
        }
        self.sweeping = true;
        let deps = self.deps.clone();
        let registry = self.registry.clone();
        Box::pin(
            async move {
                let mut conn = deps
                    .db
                    .transactional
                    .get()
                    .await
                    .map_err(|e| e.to_string())?;
                let grace = deps.settings.outcome_unknown_grace.as_secs_f64();
                q::sweep_unknown(&mut conn, grace)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut started = 0;
                loop {
                    let due = q::claim_due_campaigns(&mut conn, 200)
                        .await
                        .map_err(|e| e.to_string())?;
                    let n = due.len();
                    for (id, user) in due {
                        tracing::info!(campaign_id = id, "campaign due; starting");
                        registry.do_send(CampaignStarted {
                            user_id: user,
                            campaign_id: id,
                        });
                    }
                    started += n;
                    if n < 200 {
                        break;
                    }
                }
                let next = q::next_due(&mut conn).await.map_err(|e| e.to_string())?;
                Ok((started, next))
            }
            .into_actor(self)
            .map(
                |res: Result<(usize, Option<chrono::DateTime<Utc>>), String>, act, ctx| {
                    act.sweeping = false;
                    match res {
                        Ok((n, next)) => {
                            if let Some(at) = next {
                                act.arm(ctx, at);
                            }
                            Ok(n)
                        }
                        Err(e) => {
                            tracing::warn!(error.message = %e, "scheduler sweep failed");
                            Err(e)
                        }
                    }
                },
            ),
        )
    }
}
