//! `SenderPool`: one `SenderActor` per WhatsApp session that has work. It reconciles the
//! running senders against the campaigns table on a timer, so a stopped sender comes back.

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;

use super::sender::{ReloadLimits, SenderActor, SessionStateChanged, Shutdown, Wake};
use super::Deps;
use crate::db::queries::campaigns as q;

/// Owns the senders.
pub struct SenderPool {
    deps: Deps,
    senders: HashMap<String, Addr<SenderActor>>,
    /// A graceful stop is under way: no sender is started any more.
    stopping: bool,
}

impl SenderPool {
    pub fn new(deps: Deps) -> Self {
        SenderPool {
            deps,
            senders: HashMap::new(),
            stopping: false,
        }
    }

    fn sender(&mut self, session_id: &str) -> Addr<SenderActor> {
        if let Some(a) = self.senders.get(session_id).filter(|a| a.connected()) {
            return a.clone();
        }
        let deps = self.deps.clone();
        let id = session_id.to_string();
        // The sender reads its session's rate and daily cap itself (and re-reads them).
        let addr = SenderActor::new(deps, id).start();
        self.senders.insert(session_id.to_string(), addr.clone());
        crate::metrics::campaign_senders(self.senders.len());
        addr
    }
}

impl Actor for SenderPool {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.notify(Reconcile);
        ctx.run_interval(Duration::from_secs(2), |_, ctx| ctx.notify(Reconcile));
    }
}

impl Supervised for SenderPool {
    fn restarting(&mut self, _: &mut Context<Self>) {
        self.senders.clear();
        self.stopping = false;
    }
}

/// Make sure the session's sender runs and look for work now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WakeSession(pub String);

impl Handler<WakeSession> for SenderPool {
    type Result = ();
    fn handle(&mut self, msg: WakeSession, _: &mut Context<Self>) {
        if self.stopping {
            return;
        }
        self.sender(&msg.0).do_send(Wake);
    }
}

/// A session's settings changed: its sender (if it runs here) re-reads them now; senders in
/// other instances re-read them within their refresh period.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionSettingsChanged(pub String);

impl Handler<SessionSettingsChanged> for SenderPool {
    type Result = ();
    fn handle(&mut self, msg: SessionSettingsChanged, _: &mut Context<Self>) {
        if let Some(a) = self.senders.get(&msg.0).filter(|a| a.connected()) {
            a.do_send(ReloadLimits);
        }
    }
}

/// Forwards a session state change to its sender.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionConnection {
    pub session_id: String,
    pub connected: bool,
}

impl Handler<SessionConnection> for SenderPool {
    type Result = ();
    fn handle(&mut self, msg: SessionConnection, _: &mut Context<Self>) {
        if msg.connected && !self.stopping {
            self.sender(&msg.session_id)
                .do_send(SessionStateChanged { connected: true });
        } else if let Some(s) = self.senders.get(&msg.session_id) {
            s.do_send(SessionStateChanged { connected: false });
        }
    }
}

/// Starts senders for every session with processing campaigns; forgets stopped ones.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reconcile;

impl Handler<Reconcile> for SenderPool {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, _: Reconcile, _: &mut Context<Self>) -> Self::Result {
        if self.stopping {
            return Box::pin(actix::fut::ready(()));
        }
        self.senders.retain(|_, a| a.connected());
        let deps = self.deps.clone();
        Box::pin(
            async move {
                let mut conn = deps.db.transactional.get().await.ok()?;
                q::sessions_with_work(&mut conn).await.ok()
            }
            .into_actor(self)
            .map(|sessions, act, _| {
                if act.stopping {
                    return;
                }
                for s in sessions.unwrap_or_default() {
                    if !act.senders.contains_key(&s) {
                        act.sender(&s);
                    }
                }
                crate::metrics::campaign_senders(act.senders.len());
            }),
        )
    }
}

/// How many senders run (tests and metrics).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct GetSenderCount;

impl Handler<GetSenderCount> for SenderPool {
    type Result = usize;
    fn handle(&mut self, _: GetSenderCount, _: &mut Context<Self>) -> usize {
        self.senders.values().filter(|a| a.connected()).count()
    }
}

/// Stops every sender and then the pool itself, which its supervisor restarts: it rebuilds its
/// senders from the database (a crash of the pool, as tests simulate it).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopAll;

/// Graceful shutdown: stops every sender once its batch in flight is recorded, gives this
/// instance's session leases up, and starts no sender any more.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ShutdownAll;

impl SenderPool {
    fn stop_senders(&mut self) -> impl ActorFuture<Self, Output = ()> {
        self.stopping = true;
        let senders: Vec<Addr<SenderActor>> = self.senders.drain().map(|(_, s)| s).collect();
        for s in &senders {
            s.do_send(Shutdown);
        }
        let deps = self.deps.clone();
        async move {
            // A sender with a batch in flight stops once its results are recorded.
            while senders.iter().any(|s| s.connected()) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Give this instance's session leases up now, so another instance takes the
            // sessions over at once instead of after LEASE_SECS.
            if let Ok(mut conn) = deps.db.transactional.get().await {
                if let Err(e) = q::release_leases_of(&mut conn, &deps.instance_id).await {
                    tracing::warn!(error = %e, "session leases not released");
                }
            }
        }
        .into_actor(self)
    }
}

impl Handler<ShutdownAll> for SenderPool {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, _: ShutdownAll, _: &mut Context<Self>) -> Self::Result {
        Box::pin(self.stop_senders())
    }
}

impl Handler<StopAll> for SenderPool {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, _: StopAll, _: &mut Context<Self>) -> Self::Result {
        Box::pin(self.stop_senders().map(|_, _, ctx| ctx.stop()))
    }
}
