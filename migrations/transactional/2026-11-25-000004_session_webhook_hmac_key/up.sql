-- Per-session webhook HMAC key (upstream.md §6.3: each upstream user may sign with its own key).
ALTER TABLE gateway_session_settings
    ADD COLUMN IF NOT EXISTS webhook_hmac_key text;
