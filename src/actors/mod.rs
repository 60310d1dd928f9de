//! The long-lived actors and who talks to whom:
//! HTTP handlers → `CampaignRegistry` → `CampaignActor` (per user) → `SenderPool` →
//! `SenderActor` (per WhatsApp session) → upstream; `SchedulerActor` → `CampaignRegistry`;
//! `WebhookRouter` → `SenderPool` (session state) and the campaign tables (receipts).

pub mod campaign;
pub mod campaign_registry;
pub mod scheduler;
pub mod sender;
pub mod sender_pool;
pub mod webhook_intake;
pub mod webhook_router;

use std::sync::Arc;

use actix::prelude::*;

use crate::config::Settings;
use crate::db::Databases;
use crate::upstream::WhatsAppClient;

/// What every actor needs.
#[derive(Clone)]
pub struct Deps {
    pub db: Databases,
    pub client: WhatsAppClient,
    pub settings: Arc<Settings>,
    /// This process's identity in leases.
    pub instance_id: String,
}

/// The addresses of the long-lived actors.
#[derive(Clone)]
pub struct Actors {
    pub campaigns: Addr<campaign_registry::CampaignRegistry>,
    pub senders: Addr<sender_pool::SenderPool>,
    pub scheduler: Addr<scheduler::SchedulerActor>,
    pub webhook_router: Addr<webhook_router::WebhookRouter>,
    /// The load of the webhook intakes (one per HTTP worker, started with the worker).
    pub webhook_load: webhook_intake::IntakeLoad,
}

/// Starts the supervised actors.
pub fn start_all(deps: &Deps) -> Actors {
    let d = deps.clone();
    let senders = Supervisor::start(move |_| sender_pool::SenderPool::new(d));
    let (d, s) = (deps.clone(), senders.clone());
    let campaigns = Supervisor::start(move |_| campaign_registry::CampaignRegistry::new(d, s));
    let (d, c) = (deps.clone(), campaigns.clone());
    let scheduler = Supervisor::start(move |_| scheduler::SchedulerActor::new(d, c));
    let (d, s) = (deps.clone(), senders.clone());
    let webhook_load = webhook_intake::IntakeLoad::default();
    let l = webhook_load.clone();
    // The router gets a thread of its own: its processing does not queue behind the campaign
    // actors.
    let webhook_router = Supervisor::start_in_arbiter(&Arbiter::new().handle(), move |_| {
        webhook_router::WebhookRouter::new(d, s, l.clone())
    });
    Actors {
        campaigns,
        senders,
        scheduler,
        webhook_router,
        webhook_load,
    }
}

impl Actors {
    /// Stops sending (leases are given up) before the process exits.
    pub async fn shutdown(&self) {
        let _ = self.senders.send(sender_pool::ShutdownAll).await;
    }
}
