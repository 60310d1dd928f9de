ALTER TABLE gateway_session_settings DROP COLUMN IF EXISTS webhook_hmac_key;
