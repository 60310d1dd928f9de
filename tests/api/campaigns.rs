//! The campaign engine against the real database and the simulated upstream.

use std::time::Duration;

use serde_json::json;
use wa_gateway::actors::campaign_registry::CheckUser;
use wa_gateway::actors::scheduler::Sweep;
use wa_gateway::domain::UserId;
use wa_gateway::fake_upstream::{FaultKind, FaultRule};

use crate::helpers::{json, spawn_app_with, TestApp, TestUser};

async fn fast_app() -> TestApp {
    spawn_app_with(|s| {
        s.send_rate_per_sec = 0.0;
        s.outcome_unknown_grace = Duration::from_millis(500);
        s.lease_duration = Duration::from_secs(2);
        s.scheduler_sweep_interval = Duration::from_millis(500);
    })
    .await
}

async fn execute(
    app: &TestApp,
    user: &TestUser,
    template: i64,
    phones: &[&str],
    send_sync: &str,
) -> i64 {
    let resp = app
        .post_json(
            "/bulk/campaign/execute",
            Some(&user.bearer),
            &json!({"campaign_id": template, "name": "launch", "phone": phones, "send_sync": send_sync, "timezone": "+00:00"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let body = json(resp).await;
    assert_eq!(body["success"], true);
    body["data"]["bulk_campaign_id"].as_i64().expect("id")
}

#[actix_web::test]
async fn immediate_campaign_sends_each_recipient_exactly_once() {
    let app = fast_app().await;
    let user = app.create_user("alice").await;
    let template = app.insert_text_template(&user.user_id, "Halo").await;
    let phones = [
        "6281234567001",
        "+62 812-3456-7001",
        "6281234567002",
        "not-a-number",
        "6281234567003",
    ];
    let id = execute(&app, &user, template, &phones, "now").await;

    let c = app
        .wait_for_status(&user.bearer, id, "completed", Duration::from_secs(20))
        .await;
    assert_eq!(c["total_count"], 4, "duplicates collapse into one item");
    assert_eq!(c["sent_count"], 3);
    assert_eq!(c["failed_count"], 1);
    for p in ["6281234567001", "6281234567002", "6281234567003"] {
        assert_eq!(app.upstream.sends_to(p), 1, "{p}");
    }
    let items = c["items"].as_array().unwrap();
    let bad = items.iter().find(|i| i["phone"] == "not-a-number").unwrap();
    assert_eq!(bad["status"], "failed");
    assert!(bad["error_message"]
        .as_str()
        .unwrap()
        .starts_with("invalid_phone"));
    // The message id sent upstream is the one stored before the attempt.
    let journal = app.upstream.journal();
    for item in items.iter().filter(|i| i["status"] == "sent") {
        assert!(journal
            .iter()
            .any(|m| m.id == item["message_id"].as_str().unwrap()));
        assert!(item["sent_at"].is_string());
    }
}

#[actix_web::test]
async fn scheduled_campaign_starts_at_its_time_and_once_under_concurrent_cron_calls() {
    let app = fast_app().await;
    let user = app.create_user("bob").await;
    let template = app.insert_text_template(&user.user_id, "Jadwal").await;
    let at = (chrono::Utc::now() + chrono::Duration::seconds(2))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let resp = app
        .post_json(
            "/bulk/campaign/execute",
            Some(&user.bearer),
            &json!({"campaign_id": template, "name": "later", "phone": ["6281200000001", "6281200000002"], "send_sync": at, "timezone": "+00:00"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let body = json(resp).await;
    assert_eq!(body["data"]["status"], "scheduled");
    assert!(body["data"]["scheduled_at"].is_string());
    let id = body["data"]["bulk_campaign_id"].as_i64().unwrap();
    assert_eq!(app.campaign(&user.bearer, id).await["status"], "scheduled");

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let calls = (0..10).map(|_| app.get("/bulk/cron/process", None));
    for r in futures_util::future::join_all(calls).await {
        assert_eq!(r.status(), 200);
        assert!(json(r).await["data"]["processed_count"].is_u64());
    }
    app.wait_for_status(&user.bearer, id, "completed", Duration::from_secs(20))
        .await;
    assert_eq!(app.upstream.sends_to("6281200000001"), 1);
    assert_eq!(app.upstream.sends_to("6281200000002"), 1);
}

#[actix_web::test]
async fn rate_limited_campaign_can_be_paused_resumed_and_cancelled() {
    let app = spawn_app_with(|s| s.send_rate_per_sec = 2.0).await;
    let user = app.create_user("carol").await;
    let template = app.insert_text_template(&user.user_id, "Pelan").await;
    let phones: Vec<String> = (0..20).map(|i| format!("62812000100{i:02}")).collect();
    let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
    let id = execute(&app, &user, template, &phones, "now").await;

    crate::helpers::eventually(Duration::from_secs(10), || async {
        (app.upstream.journal().len() >= 2).then_some(())
    })
    .await;
    let resp = app
        .post_json(
            &format!("/bulk/campaigns/{id}/pause"),
            Some(&user.bearer),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["data"]["status"], "paused");
    // in-flight sends settle, then nothing more goes out
    tokio::time::sleep(Duration::from_millis(700)).await;
    let sent_when_paused = app.upstream.journal().len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.upstream.journal().len(), sent_when_paused);

    let resp = app
        .post_json(
            &format!("/bulk/campaigns/{id}/resume"),
            Some(&user.bearer),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    crate::helpers::eventually(Duration::from_secs(10), || async {
        (app.upstream.journal().len() > sent_when_paused).then_some(())
    })
    .await;

    let resp = app
        .post_json(
            &format!("/bulk/campaigns/{id}/cancel"),
            Some(&user.bearer),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let c = app.campaign(&user.bearer, id).await;
    assert_eq!(c["status"], "cancelled");
    let sent = c["sent_count"].as_i64().unwrap();
    let failed = c["failed_count"].as_i64().unwrap();
    assert_eq!(sent + failed, 20, "every item is final after a cancel: {c}");
    assert!(sent < 20);
    assert_eq!(app.upstream.journal().len() as i64, sent);
    // never above the rate: 20 items at 2/s would take ~10 s
    let resp = app
        .post_json(
            &format!("/bulk/campaigns/{id}/pause"),
            Some(&user.bearer),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), 409);
}

#[actix_web::test]
async fn lost_answers_become_outcome_unknown_and_are_never_resent_automatically() {
    let app = fast_app().await;
    let user = app.create_user("dan").await;
    let template = app.insert_text_template(&user.user_id, "Hilang").await;
    app.upstream
        .inject_fault(FaultRule::next("/chat/send", FaultKind::DropConnection, 1));
    let id = execute(&app, &user, template, &["6281300000001"], "now").await;

    let c = app
        .wait_for_status(&user.bearer, id, "failed", Duration::from_secs(20))
        .await;
    let item = &c["items"][0];
    assert_eq!(item["status"], "failed");
    assert_eq!(item["error_message"], "outcome_unknown");
    assert_eq!(app.upstream.sends_to("6281300000001"), 0);

    // Only an explicit retry sends it again.
    let resp = app
        .post_json(
            &format!("/bulk/campaigns/{id}/retry"),
            Some(&user.bearer),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    app.wait_for_status(&user.bearer, id, "completed", Duration::from_secs(20))
        .await;
    assert_eq!(app.upstream.sends_to("6281300000001"), 1);
}

#[actix_web::test]
async fn throttling_and_no_session_are_retried_without_duplicates() {
    let app = fast_app().await;
    let user = app.create_user("erin").await;
    let template = app.insert_text_template(&user.user_id, "Ulang").await;
    app.upstream
        .inject_fault(FaultRule::next("/chat/send", FaultKind::TooManyRequests, 2));
    app.upstream
        .inject_fault(FaultRule::next("/chat/send", FaultKind::NoSession, 1));
    let id = execute(
        &app,
        &user,
        template,
        &["6281400000001", "6281400000002"],
        "now",
    )
    .await;
    let c = app
        .wait_for_status(&user.bearer, id, "completed", Duration::from_secs(30))
        .await;
    assert_eq!(c["sent_count"], 2);
    assert_eq!(app.upstream.sends_to("6281400000001"), 1);
    assert_eq!(app.upstream.sends_to("6281400000002"), 1);
}

#[actix_web::test]
async fn rejected_sends_fail_with_a_short_reason_and_are_not_retried() {
    let app = fast_app().await;
    let user = app.create_user("fay").await;
    let template = app.insert_text_template(&user.user_id, "Tolak").await;
    // A JID the upstream cannot parse is a 400: permanent.
    let id = execute(&app, &user, template, &["6281500000001"], "now").await;
    app.wait_for_status(&user.bearer, id, "completed", Duration::from_secs(20))
        .await;
    app.upstream
        .inject_fault(FaultRule::next("/chat/send", FaultKind::Unauthorized, 1));
    let id2 = execute(&app, &user, template, &["6281500000002"], "now").await;
    let c = app
        .wait_for_status(&user.bearer, id2, "failed", Duration::from_secs(20))
        .await;
    assert!(c["items"][0]["error_message"]
        .as_str()
        .unwrap()
        .starts_with("upstream 401"));
    assert_eq!(app.upstream.sends_to("6281500000002"), 0);
}

#[actix_web::test]
async fn two_engines_on_one_database_send_a_campaign_once() {
    let app = fast_app().await;
    let (_second, second_actors) = app.spawn_second_instance().await;
    let user = app.create_user("gus").await;
    let template = app.insert_text_template(&user.user_id, "Dua").await;
    let phones: Vec<String> = (0..200).map(|i| format!("6281600{i:05}")).collect();
    let refs: Vec<&str> = phones.iter().map(String::as_str).collect();
    let id = execute(&app, &user, template, &refs, "now").await;
    // the second instance's pool looks for work too
    let _ = second_actors
        .senders
        .send(wa_gateway::actors::sender_pool::Reconcile)
        .await;
    let c = app
        .wait_for_status(&user.bearer, id, "completed", Duration::from_secs(30))
        .await;
    assert_eq!(c["sent_count"], 200);
    for p in &phones {
        assert_eq!(app.upstream.sends_to(p), 1, "{p}");
    }
    assert_eq!(app.upstream.journal().len(), 200);
}

#[actix_web::test]
async fn an_expired_subscription_pauses_a_running_campaign() {
    let app = spawn_app_with(|s| s.send_rate_per_sec = 1.0).await;
    let user = app.create_user("hana").await;
    let template = app.insert_text_template(&user.user_id, "Habis").await;
    let phones: Vec<String> = (0..10).map(|i| format!("628170000{i:02}")).collect();
    let refs: Vec<&str> = phones.iter().map(String::as_str).collect();
    let id = execute(&app, &user, template, &refs, "now").await;
    crate::helpers::eventually(Duration::from_secs(10), || async {
        (!app.upstream.journal().is_empty()).then_some(())
    })
    .await;
    app.exec(&format!(
        r#"UPDATE "ServicesWhatsappCustomers" SET "expiredAt" = now() - interval '1 minute' WHERE "customerId" = '{}'"#,
        user.user_id
    ))
    .await;
    let paused = app
        .actors
        .campaigns
        .send(CheckUser(UserId(user.user_id.clone())))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(paused, 1);
    let c = app.campaign(&user.bearer, id).await;
    assert_eq!(c["status"], "paused");
    assert_eq!(c["status_reason"], "no active subscription");
    let failed = c["failed_count"].as_i64().unwrap();
    assert_eq!(failed, 0, "items are held, not failed");
    // resuming without an entitlement keeps it paused
    let resp = app
        .post_json(
            &format!("/bulk/campaigns/{id}/resume"),
            Some(&user.bearer),
            &json!({}),
        )
        .await;
    assert_eq!(json(resp).await["data"]["status"], "paused");
}

#[actix_web::test]
async fn campaigns_are_tenant_isolated_and_validated() {
    let app = fast_app().await;
    let a = app.create_user("ivy").await;
    let b = app.create_user("jon").await;
    let template = app.insert_text_template(&a.user_id, "Milik").await;
    // b cannot use a's template
    let resp = app
        .post_json("/bulk/campaign/execute", Some(&b.bearer), &json!({"campaign_id": template, "name": "x", "phone": ["6281800000001"], "send_sync": "now"}))
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(json(resp).await["message"], "Campaign not found");
    let id = execute(&app, &a, template, &["6281800000002"], "now").await;
    for path in [
        format!("/bulk/campaigns/{id}"),
        format!("/bulk/campaigns/{id}/items"),
    ] {
        let resp = app.get(&path, Some(&b.bearer)).await;
        assert_eq!(resp.status(), 404, "{path}");
    }
    assert_eq!(
        app.delete_json(&format!("/bulk/campaigns/{id}"), Some(&b.bearer), None)
            .await
            .status(),
        404
    );
    // validation
    for body in [
        json!({"campaign_id": template, "name": "x", "phone": [], "send_sync": "now"}),
        json!({"campaign_id": "seven", "name": "x", "phone": ["1"], "send_sync": "now"}),
        json!({"campaign_id": template, "name": "x", "phone": ["6281800000003"], "send_sync": "someday"}),
        json!({"campaign_id": template, "name": "x", "phone": ["6281800000003"], "send_sync": "2020-01-01 10:00", "timezone": "+07:00"}),
    ] {
        let resp = app
            .post_json("/bulk/campaign/execute", Some(&a.bearer), &body)
            .await;
        assert_eq!(resp.status(), 400, "{body}");
        let b = json(resp).await;
        assert_eq!(b["success"], false);
        assert!(b["error_code"].is_string());
    }
    let resp = app.get("/bulk/campaigns/abc", Some(&a.bearer)).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        json(resp).await,
        json!({"code": 400, "success": false, "error_code": "invalid_id"})
    );
    // idempotency
    let body = json!({"campaign_id": template, "name": "idem", "phone": ["6281800000004"], "send_sync": "now"});
    let r1 = app
        .client
        .post(app.url("/bulk/campaign/execute"))
        .bearer_auth(&a.bearer)
        .header("Idempotency-Key", "k1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let r2 = app
        .client
        .post(app.url("/bulk/campaign/execute"))
        .bearer_auth(&a.bearer)
        .header("Idempotency-Key", "k1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (j1, j2) = (json(r1).await, json(r2).await);
    assert_eq!(
        j1["data"]["bulk_campaign_id"],
        j2["data"]["bulk_campaign_id"]
    );
    let _ = app.actors.scheduler.send(Sweep).await;
}

#[actix_web::test]
async fn a_sender_pool_stopped_mid_run_is_rebuilt_from_the_database() {
    let app = spawn_app_with(|s| s.send_rate_per_sec = 20.0).await;
    let user = app.create_user("kim").await;
    let template = app.insert_text_template(&user.user_id, "Lagi").await;
    let phones: Vec<String> = (0..40).map(|i| format!("628190000{i:02}")).collect();
    let refs: Vec<&str> = phones.iter().map(String::as_str).collect();
    let id = execute(&app, &user, template, &refs, "now").await;
    crate::helpers::eventually(Duration::from_secs(10), || async {
        (app.upstream.journal().len() >= 5).then_some(())
    })
    .await;
    // Stops the pool and every sender; the supervisor restarts the pool, which reloads the
    // sessions with work from the database.
    app.actors
        .senders
        .send(wa_gateway::actors::sender_pool::StopAll)
        .await
        .unwrap();
    let c = app
        .wait_for_status(&user.bearer, id, "completed", Duration::from_secs(40))
        .await;
    assert_eq!(c["sent_count"], 40);
    for p in &phones {
        assert_eq!(app.upstream.sends_to(p), 1, "{p}");
    }
}

#[actix_web::test]
async fn progress_streams_as_server_sent_events() {
    let app = fast_app().await;
    let user = app.create_user("lee").await;
    let template = app.insert_text_template(&user.user_id, "Arus").await;
    let id = execute(&app, &user, template, &["6281900100001"], "now").await;
    app.wait_for_status(&user.bearer, id, "completed", Duration::from_secs(20))
        .await;
    let resp = app
        .get(&format!("/bulk/campaigns/{id}/events"), Some(&user.bearer))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let body = resp.text().await.unwrap();
    assert!(body.starts_with("event: progress\ndata: "), "{body}");
    let data: serde_json::Value =
        serde_json::from_str(body.lines().nth(1).unwrap().trim_start_matches("data: ")).unwrap();
    assert_eq!(data["status"], "completed");
    assert_eq!(data["sent_count"], 1);
    // detail carries progress figures
    let c = app.campaign(&user.bearer, id).await;
    assert_eq!(c["progress"]["sent"], 1);
    assert_eq!(c["progress"]["pending"], 0);
    // items page with a status filter
    let page = json(
        app.get(
            &format!("/bulk/campaigns/{id}/items?status=sent&page=1&limit=10"),
            Some(&user.bearer),
        )
        .await,
    )
    .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn send_sync_is_read_in_an_iana_zone_or_the_default_zone() {
    let app = spawn_app_with(|s| s.default_timezone = "America/New_York".into()).await;
    let user = app.create_user("zoned").await;
    let template = app.insert_text_template(&user.user_id, "Zona").await;
    let cases = [
        // (send_sync, timezone, expected instant)
        (
            "2031-07-01 09:00",
            Some("Asia/Jakarta"),
            "2031-07-01T02:00:00Z",
        ),
        (
            "2031-07-01T09:00:00",
            Some("Asia/Kolkata"),
            "2031-07-01T03:30:00Z",
        ),
        // Date only: 09:00 local; New York is on summer time (UTC−4) in July…
        (
            "2031-07-01",
            Some("America/New_York"),
            "2031-07-01T13:00:00Z",
        ),
        // …and on winter time (UTC−5) in January: the zone, not a fixed offset, decides.
        ("2031-01-15 09:00", None, "2031-01-15T14:00:00Z"),
    ];
    for (k, (send_sync, zone, want)) in cases.iter().enumerate() {
        let mut body = json!({"campaign_id": template, "name": format!("z{k}"),
                              "phone": [format!("628120000{k:04}")], "send_sync": send_sync});
        if let Some(z) = zone {
            body["timezone"] = json!(z);
        }
        let resp = app
            .post_json("/bulk/campaign/execute", Some(&user.bearer), &body)
            .await;
        assert_eq!(resp.status(), 201, "{send_sync} {zone:?}");
        let data = json(resp).await["data"].clone();
        assert_eq!(data["status"], "scheduled");
        let at = chrono::DateTime::parse_from_rfc3339(data["scheduled_at"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{data}: {e}"));
        let want = chrono::DateTime::parse_from_rfc3339(want).unwrap();
        assert_eq!(at, want, "{send_sync} in {zone:?}");
    }
    // An unknown zone is a 400.
    let resp = app
        .post_json(
            "/bulk/campaign/execute",
            Some(&user.bearer),
            &json!({"campaign_id": template, "name": "bad", "phone": ["6281200009999"],
                    "send_sync": "2031-07-01 09:00", "timezone": "Mars/Olympus"}),
        )
        .await;
    assert_eq!(resp.status(), 400);
}

/// A scheduled campaign written by the reference service (no sender session, items without a
/// session or message id) is sent by the gateway through the user's connected session.
/// A scheduled, already due campaign as the reference creates it: no `session_id`, its items
/// written by the reference, `total_count` as the reference counted it.
async fn reference_campaign(app: &TestApp, user: &TestUser, id: i64, total: i64, phones: &[&str]) {
    app.exec(&format!(
        r#"INSERT INTO "WhatsAppBulkCampaigns" (id, user_id, name, type, message_body, status, total_count, scheduled_at, timezone, created_at, updated_at)
           VALUES ({id}, '{}', 'from go', 'text', 'Halo', 'scheduled', {total}, now() - interval '1 second', 'Asia/Jakarta', now(), now())"#,
        user.user_id
    ))
    .await;
    let values: Vec<String> = phones
        .iter()
        .map(|p| format!("({id}, '{p}', 'pending', now(), now())"))
        .collect();
    app.exec(&format!(
        r#"INSERT INTO "WhatsAppBulkCampaignItems" (bulk_campaign_id, phone, status, created_at, updated_at) VALUES {}"#,
        values.join(", ")
    ))
    .await;
}

#[actix_web::test]
async fn a_campaign_created_by_the_reference_is_sent_through_the_users_session() {
    let app = fast_app().await;
    let user = app.create_user("legacy").await;
    reference_campaign(&app, &user, 990001, 2, &["6281200000071", "6281200000072"]).await;
    let resp = app.get("/bulk/cron/process", None).await;
    assert_eq!(resp.status(), 200);
    let c = app
        .wait_for_status(&user.bearer, 990001, "completed", Duration::from_secs(20))
        .await;
    assert_eq!(c["sent_count"], 2, "{c}");
    assert_eq!(app.upstream.sends_to("6281200000071"), 1);
    assert_eq!(app.upstream.sends_to("6281200000072"), 1);
}

/// A campaign whose counters disagree with its items (the reference's `total_count` counts
/// recipients it never queued) still completes once nothing is pending: the sender checks its
/// idle campaigns, whatever their counters say.
#[actix_web::test]
async fn a_campaign_whose_counters_disagree_with_its_items_still_completes() {
    let app = fast_app().await;
    let user = app.create_user("legacy-counts").await;
    reference_campaign(&app, &user, 990002, 5, &["6281200000081", "6281200000082"]).await;
    let resp = app.get("/bulk/cron/process", None).await;
    assert_eq!(resp.status(), 200);
    let c = app
        .wait_for_status(&user.bearer, 990002, "completed", Duration::from_secs(20))
        .await;
    assert_eq!(c["sent_count"], 2, "{c}");
    assert_eq!(c["total_count"], 5, "{c}");
    assert_eq!(app.upstream.sends_to("6281200000081"), 1);
}

/// A graceful stop waits for the batch in flight to record its results, then gives the session
/// lease up at once (another instance need not wait for it to expire).
#[actix_web::test]
async fn a_graceful_stop_records_in_flight_sends_and_releases_the_lease() {
    let app = spawn_app_with(|s| s.send_rate_per_sec = 4.0).await;
    let user = app.create_user("stopper").await;
    let template = app.insert_text_template(&user.user_id, "Berhenti").await;
    let phones: Vec<String> = (0..40).map(|i| format!("62812000300{i:02}")).collect();
    let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
    let id = execute(&app, &user, template, &phones, "now").await;
    crate::helpers::eventually(Duration::from_secs(10), || async {
        (app.upstream.journal().len() >= 2).then_some(())
    })
    .await;
    app.actors.shutdown().await;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        leases: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        in_flight: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        sent: i64,
    }
    use diesel_async::RunQueryDsl;
    let mut c = app.conn().await;
    let n: N = diesel::sql_query(format!(
        r#"SELECT (SELECT count(*) FROM gateway_session_leases) AS leases,
                  (SELECT count(*) FROM "WhatsAppBulkCampaignItems" WHERE bulk_campaign_id = {id}
                     AND status = 'pending' AND attempt_started_at IS NOT NULL) AS in_flight,
                  (SELECT count(*) FROM "WhatsAppBulkCampaignItems" WHERE bulk_campaign_id = {id}
                     AND status = 'sent') AS sent"#
    ))
    .get_result(&mut c)
    .await
    .unwrap();
    assert_eq!(n.leases, 0, "the lease is given up");
    assert_eq!(n.in_flight, 0, "no send is left with an unknown outcome");
    assert_eq!(n.sent as usize, app.upstream.journal().len());
}
