ALTER TABLE gen_event_webhooks ALTER COLUMN raw_data SET COMPRESSION default,
    ALTER COLUMN event_data SET COMPRESSION default;
