//! `CampaignRegistry`: `UserId` → `Addr<CampaignActor>`, starting actors lazily; stopped
//! (idle) actors are replaced on the next message.

use std::collections::HashMap;

use actix::prelude::*;

use super::campaign::{CampaignActor, CampaignOp, CheckEntitlements, OpOutcome, RunOp};
use super::sender_pool::SenderPool;
use super::Deps;
use crate::domain::{CampaignId, UserId};

pub struct CampaignRegistry {
    deps: Deps,
    senders: Addr<SenderPool>,
    actors: HashMap<UserId, Addr<CampaignActor>>,
}

impl CampaignRegistry {
    pub fn new(deps: Deps, senders: Addr<SenderPool>) -> Self {
        CampaignRegistry {
            deps,
            senders,
            actors: HashMap::new(),
        }
    }

    fn actor(&mut self, user: &UserId) -> Addr<CampaignActor> {
        self.actors.retain(|_, a| a.connected());
        self.actors
            .entry(user.clone())
            .or_insert_with(|| {
                CampaignActor::new(self.deps.clone(), user.clone(), self.senders.clone()).start()
            })
            .clone()
    }
}

impl Actor for CampaignRegistry {
    type Context = Context<Self>;
}

impl Supervised for CampaignRegistry {
    fn restarting(&mut self, _: &mut Context<Self>) {
        self.actors.clear();
    }
}

/// Runs an operation in the user's campaign actor.
#[derive(Message)]
#[rtype(result = "Result<OpOutcome, String>")]
pub struct ForUser {
    pub user: UserId,
    pub campaign_id: CampaignId,
    pub op: CampaignOp,
}

impl Handler<ForUser> for CampaignRegistry {
    type Result = ResponseFuture<Result<OpOutcome, String>>;
    fn handle(&mut self, msg: ForUser, _: &mut Context<Self>) -> Self::Result {
        let actor = self.actor(&msg.user);
        Box::pin(async move {
            actor
                .send(RunOp {
                    campaign_id: msg.campaign_id,
                    op: msg.op,
                })
                .await
                .map_err(|e| e.to_string())?
        })
    }
}

/// The scheduler claimed a due campaign.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CampaignStarted {
    pub user_id: String,
    pub campaign_id: i64,
}

impl Handler<CampaignStarted> for CampaignRegistry {
    type Result = ();
    fn handle(&mut self, msg: CampaignStarted, _: &mut Context<Self>) {
        let actor = self.actor(&UserId(msg.user_id));
        actor.do_send(RunOp {
            campaign_id: CampaignId(msg.campaign_id),
            op: CampaignOp::Started,
        });
    }
}

/// Asks the user's actor to check entitlements now (tests step this).
#[derive(Message)]
#[rtype(result = "Result<usize, String>")]
pub struct CheckUser(pub UserId);

impl Handler<CheckUser> for CampaignRegistry {
    type Result = ResponseFuture<Result<usize, String>>;
    fn handle(&mut self, msg: CheckUser, _: &mut Context<Self>) -> Self::Result {
        let actor = self.actor(&msg.0);
        Box::pin(async move {
            actor
                .send(CheckEntitlements)
                .await
                .map_err(|e| e.to_string())?
        })
    }
}
