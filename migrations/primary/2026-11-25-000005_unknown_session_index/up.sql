-- Events stored for a session the gateway did not know yet are replayed once it appears.
CREATE INDEX IF NOT EXISTS gen_event_webhooks_unknown_session_idx
    ON gen_event_webhooks (session_id, id) WHERE unknown_session;
