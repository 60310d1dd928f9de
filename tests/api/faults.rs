//! Faults mid-campaign (issue #8, item 5): the upstream going away and coming back. The long
//! versions (a one-minute outage, a PostgreSQL restart, kill -9) are scripts (`scripts/faults.sh`).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use wa_gateway::fake_upstream::{FakeUpstream, FakeUpstreamConfig, SentMessage};

use crate::helpers::{eventually, json, spawn_app_with, TestApp};

/// Starts a simulated upstream on `port` again (the old one's socket may take a moment to go).
async fn restart_upstream(port: u16) -> FakeUpstream {
    eventually(Duration::from_secs(10), || async {
        FakeUpstream::start(FakeUpstreamConfig {
            bind: ([127, 0, 0, 1], port).into(),
            ..FakeUpstreamConfig::default()
        })
        .await
        .ok()
    })
    .await
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct V {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        v: i64,
    }
    let mut conn = app.conn().await;
    let v: V = diesel::sql_query(sql)
        .get_result(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    v.v
}

#[actix_web::test]
async fn the_upstream_down_mid_campaign_loses_and_duplicates_nothing() {
    // 2/s: sends are 500 ms apart, so stopping the upstream right after a recorded send never
    // cuts one in flight (which would rightly become "outcome unknown").
    let app = spawn_app_with(|s| {
        s.send_rate_per_sec = 2.0;
        s.lease_duration = Duration::from_secs(2);
        s.outcome_unknown_grace = Duration::from_secs(60);
    })
    .await;
    let user = app.create_user("down").await;
    let template = app
        .insert_text_template(&user.user_id, "Tetap sampai")
        .await;
    let phones: Vec<String> = (0..12).map(|i| format!("6281800{i:05}")).collect();
    let resp = app
        .post_json(
            "/bulk/campaign/execute",
            Some(&user.bearer),
            &json!({"campaign_id": template, "name": "down", "phone": phones, "send_sync": "now"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let id = json(resp).await["data"]["bulk_campaign_id"]
        .as_i64()
        .expect("id");
    let items = format!(r#""WhatsAppBulkCampaignItems" WHERE bulk_campaign_id = {id}"#);

    // Some items are sent, then the upstream goes away (connections refused).
    eventually(Duration::from_secs(20), || async {
        (scalar(
            &app,
            &format!("SELECT count(*) AS v FROM {items} AND status = 'sent'"),
        )
        .await
            >= 3)
            .then_some(())
    })
    .await;
    let fake_user = app.upstream.user(&user.session_token).expect("fake user");
    let port = app.upstream.port();
    app.upstream.stop().await;
    let sent_before_outage = app.upstream.journal();

    // While it is down, sends are refused and go back to the queue: nothing fails, nothing is
    // left "outcome unknown", the API keeps answering.
    eventually(Duration::from_secs(20), || async {
        let refused = scalar(
            &app,
            &format!(
                "SELECT count(*) AS v FROM {items} AND status = 'pending' AND attempts >= 1 AND attempt_started_at IS NULL"
            ),
        )
        .await;
        (refused >= 3).then_some(())
    })
    .await;
    let c = app.campaign(&user.bearer, id).await;
    assert_eq!(c["status"], "processing");
    assert_eq!(c["failed_count"], 0);
    assert_eq!(
        scalar(
            &app,
            &format!("SELECT count(*) AS v FROM {items} AND outcome_unknown_at IS NOT NULL")
        )
        .await,
        0,
        "a refused connection is surely not sent"
    );

    // It comes back on the same address; the campaign completes.
    let upstream = restart_upstream(port).await;
    upstream.add_user(fake_user);
    let c = app
        .wait_for_status(&user.bearer, id, "completed", Duration::from_secs(30))
        .await;
    assert_eq!(c["sent_count"], 12);
    assert_eq!(c["failed_count"], 0);

    let journal: Vec<SentMessage> = sent_before_outage
        .into_iter()
        .chain(upstream.journal())
        .collect();
    let mut by_phone: HashMap<&str, usize> = HashMap::new();
    for m in &journal {
        *by_phone.entry(m.phone.as_str()).or_default() += 1;
    }
    for p in &phones {
        assert_eq!(
            by_phone.get(p.as_str()),
            Some(&1),
            "{p} sent exactly once: {by_phone:?}"
        );
    }
    assert_eq!(journal.len(), 12);
    // What the upstream accepted is what the items say, message id for message id.
    let item_ids: std::collections::HashSet<String> = c["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["message_id"].as_str().map(String::from))
        .collect();
    for m in &journal {
        assert!(
            item_ids.contains(&m.id),
            "journal id {} is an item's id",
            m.id
        );
    }
    let retried = scalar(
        &app,
        &format!("SELECT count(*) AS v FROM {items} AND attempts > 1"),
    )
    .await;
    assert!(retried >= 3, "refused items were retried ({retried})");
    upstream.stop().await;
}
