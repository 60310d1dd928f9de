-- The router's claim takes the unprocessed events in id order. The former claim index
-- (next_attempt_at, id) could not give that order, so the claim walked the primary key past
-- every processed event ever stored: a claim grew slower with the table's history (0.5 s with
-- 150,000 processed rows). The queue index holds only unprocessed events, in id order.
CREATE INDEX IF NOT EXISTS gen_event_webhooks_queue_idx
    ON gen_event_webhooks (id) WHERE processed = false;
-- Events waiting for a retry (the only ones with next_attempt_at in the future): the claim
-- holds back a session's later events behind them.
CREATE INDEX IF NOT EXISTS gen_event_webhooks_retry_idx
    ON gen_event_webhooks (session_id, id) WHERE processed = false AND attempts > 0;
DROP INDEX IF EXISTS gen_event_webhooks_claim_idx;
