CREATE INDEX IF NOT EXISTS gen_event_webhooks_claim_idx
    ON gen_event_webhooks (next_attempt_at, id) WHERE processed = false;
DROP INDEX IF EXISTS gen_event_webhooks_retry_idx;
DROP INDEX IF EXISTS gen_event_webhooks_queue_idx;
