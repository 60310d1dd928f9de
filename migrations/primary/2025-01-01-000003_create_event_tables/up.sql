-- The primary database: the gateway's event store (gateway-api.md §3.4) and the gateway's
-- additions to it.
--
-- An existing reference database may already have these tables (gorm creates them at start), so
-- this file is idempotent: CREATE ... IF NOT EXISTS, ADD COLUMN IF NOT EXISTS; nothing is dropped or
-- retyped. On a pre-existing table the contract's columns keep their type and nullability.
--
-- Fresh tables: NOT NULL where the contract marks it, and on columns with a default (booleans,
-- counters, statuses) and on the times the application always sets (`received_at`,
-- `webhook_received`, `last_activity_at`); other columns are nullable. Index names follow gorm
-- (`idx_<table>_<column>`, §3.1); `from` and `to` are quoted (reserved words).

-- ---------------------------------------------------------------------------------------------
-- gen_event_webhooks: every accepted webhook event, and the router's durable queue
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS gen_event_webhooks (
    id            bigserial    PRIMARY KEY,
    created_at    timestamptz  NOT NULL DEFAULT now(),
    updated_at    timestamptz  NOT NULL DEFAULT now(),
    event_type    text         NOT NULL,
    source        text         NOT NULL DEFAULT 'wa',
    user_token    text,
    event_data    jsonb,
    raw_data      text,
    processed     boolean      NOT NULL DEFAULT false,
    received_at   timestamptz  NOT NULL DEFAULT now(),
    processed_at  timestamptz
);
-- Gateway additions (§10 defects 24, 25).
ALTER TABLE gen_event_webhooks
    -- event identity for de-duplicating redeliveries (NULL: not de-duplicated)
    ADD COLUMN IF NOT EXISTS dedup_key        text,
    -- the matched "WhatsAppSession"."sessionId", else the upstream's userID
    ADD COLUMN IF NOT EXISTS session_id       text,
    ADD COLUMN IF NOT EXISTS user_id          text,
    ADD COLUMN IF NOT EXISTS unknown_session  boolean      NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS attempts         integer      NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS last_error       text,
    ADD COLUMN IF NOT EXISTS next_attempt_at  timestamptz  NOT NULL DEFAULT now();
CREATE INDEX IF NOT EXISTS idx_gen_event_webhooks_event_type ON gen_event_webhooks (event_type);
CREATE INDEX IF NOT EXISTS idx_gen_event_webhooks_source ON gen_event_webhooks (source);
CREATE INDEX IF NOT EXISTS idx_gen_event_webhooks_user_token ON gen_event_webhooks (user_token);
CREATE INDEX IF NOT EXISTS idx_gen_event_webhooks_processed ON gen_event_webhooks (processed);
CREATE UNIQUE INDEX IF NOT EXISTS gen_event_webhooks_dedup_key_key
    ON gen_event_webhooks (dedup_key);
-- the router's claim of unprocessed events
CREATE INDEX IF NOT EXISTS gen_event_webhooks_claim_idx
    ON gen_event_webhooks (next_attempt_at, id) WHERE processed = false;

-- ---------------------------------------------------------------------------------------------
-- whats_app_messages
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS whats_app_messages (
    id                  bigserial    PRIMARY KEY,
    created_at          timestamptz  NOT NULL DEFAULT now(),
    updated_at          timestamptz  NOT NULL DEFAULT now(),
    message_id          text         NOT NULL,
    "from"              text         NOT NULL,
    "to"                text         NOT NULL,
    from_me             boolean      NOT NULL DEFAULT false,
    push_name           text,
    message_type        text         NOT NULL,
    body                text,
    caption             text,
    media_data          jsonb,
    location_data       jsonb,
    contact_data        jsonb,
    quoted_message      jsonb,
    mentioned_jid       jsonb,
    group_jid           text,
    participant         text,
    broadcast           boolean      NOT NULL DEFAULT false,
    forwarded           boolean      NOT NULL DEFAULT false,
    ephemeral_duration  bigint       NOT NULL DEFAULT 0,
    message_timestamp   timestamptz  NOT NULL,
    webhook_received    timestamptz  NOT NULL DEFAULT now(),
    status              text         NOT NULL DEFAULT 'received',
    processed           boolean      NOT NULL DEFAULT false,
    user_token          text
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_whats_app_messages_message_id
    ON whats_app_messages (message_id);
CREATE INDEX IF NOT EXISTS idx_whats_app_messages_from ON whats_app_messages ("from");
CREATE INDEX IF NOT EXISTS idx_whats_app_messages_to ON whats_app_messages ("to");
CREATE INDEX IF NOT EXISTS idx_whats_app_messages_message_type
    ON whats_app_messages (message_type);
CREATE INDEX IF NOT EXISTS idx_whats_app_messages_message_timestamp
    ON whats_app_messages (message_timestamp);
CREATE INDEX IF NOT EXISTS idx_whats_app_messages_user_token ON whats_app_messages (user_token);

-- ---------------------------------------------------------------------------------------------
-- whats_app_read_receipts
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS whats_app_read_receipts (
    id               bigserial    PRIMARY KEY,
    created_at       timestamptz  NOT NULL DEFAULT now(),
    updated_at       timestamptz  NOT NULL DEFAULT now(),
    message_ids      jsonb,
    "from"           text         NOT NULL,
    "to"             text         NOT NULL,
    receipt_type     text         NOT NULL,
    event_timestamp  timestamptz  NOT NULL,
    received_at      timestamptz  NOT NULL DEFAULT now(),
    user_token       text
);
CREATE INDEX IF NOT EXISTS idx_whats_app_read_receipts_from ON whats_app_read_receipts ("from");
CREATE INDEX IF NOT EXISTS idx_whats_app_read_receipts_to ON whats_app_read_receipts ("to");
CREATE INDEX IF NOT EXISTS idx_whats_app_read_receipts_user_token
    ON whats_app_read_receipts (user_token);

-- ---------------------------------------------------------------------------------------------
-- whats_app_message_statuses
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS whats_app_message_statuses (
    id               bigserial    PRIMARY KEY,
    created_at       timestamptz  NOT NULL DEFAULT now(),
    updated_at       timestamptz  NOT NULL DEFAULT now(),
    message_id       text         NOT NULL,
    "from"           text         NOT NULL,
    "to"             text         NOT NULL,
    status           text         NOT NULL,
    event_timestamp  timestamptz  NOT NULL,
    received_at      timestamptz  NOT NULL DEFAULT now(),
    user_token       text
);
CREATE INDEX IF NOT EXISTS idx_whats_app_message_statuses_message_id
    ON whats_app_message_statuses (message_id);
CREATE INDEX IF NOT EXISTS idx_whats_app_message_statuses_from
    ON whats_app_message_statuses ("from");
CREATE INDEX IF NOT EXISTS idx_whats_app_message_statuses_to ON whats_app_message_statuses ("to");
CREATE INDEX IF NOT EXISTS idx_whats_app_message_statuses_user_token
    ON whats_app_message_statuses (user_token);

-- ---------------------------------------------------------------------------------------------
-- whats_app_presences
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS whats_app_presences (
    id           bigserial    PRIMARY KEY,
    created_at   timestamptz  NOT NULL DEFAULT now(),
    updated_at   timestamptz  NOT NULL DEFAULT now(),
    "from"       text         NOT NULL,
    presence     text         NOT NULL,
    last_seen    timestamptz,
    received_at  timestamptz  NOT NULL DEFAULT now(),
    user_token   text
);
CREATE INDEX IF NOT EXISTS idx_whats_app_presences_from ON whats_app_presences ("from");
CREATE INDEX IF NOT EXISTS idx_whats_app_presences_user_token ON whats_app_presences (user_token);

-- ---------------------------------------------------------------------------------------------
-- whats_app_chat_presences
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS whats_app_chat_presences (
    id            bigserial    PRIMARY KEY,
    created_at    timestamptz  NOT NULL DEFAULT now(),
    updated_at    timestamptz  NOT NULL DEFAULT now(),
    "from"        text         NOT NULL,
    chat_jid      text         NOT NULL,
    state         text         NOT NULL,
    media         text,
    auto_stopped  boolean      NOT NULL DEFAULT false,
    expires_at    timestamptz,
    received_at   timestamptz  NOT NULL DEFAULT now(),
    user_token    text
);
CREATE INDEX IF NOT EXISTS idx_whats_app_chat_presences_from ON whats_app_chat_presences ("from");
CREATE INDEX IF NOT EXISTS idx_whats_app_chat_presences_chat_jid
    ON whats_app_chat_presences (chat_jid);
CREATE INDEX IF NOT EXISTS idx_whats_app_chat_presences_user_token
    ON whats_app_chat_presences (user_token);

-- ---------------------------------------------------------------------------------------------
-- whats_app_history_syncs
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS whats_app_history_syncs (
    id             bigserial    PRIMARY KEY,
    created_at     timestamptz  NOT NULL DEFAULT now(),
    updated_at     timestamptz  NOT NULL DEFAULT now(),
    sync_type      text         NOT NULL,
    conversations  jsonb,
    received_at    timestamptz  NOT NULL DEFAULT now(),
    user_token     text
);
CREATE INDEX IF NOT EXISTS idx_whats_app_history_syncs_user_token
    ON whats_app_history_syncs (user_token);

-- ---------------------------------------------------------------------------------------------
-- whats_app_sessions
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS whats_app_sessions (
    id                bigserial    PRIMARY KEY,
    created_at        timestamptz  NOT NULL DEFAULT now(),
    updated_at        timestamptz  NOT NULL DEFAULT now(),
    user_token        text         NOT NULL,
    session_name      text,
    session_id        text,
    j_id              text,
    session_state     text         NOT NULL,
    connected         boolean      NOT NULL DEFAULT false,
    logged_in         boolean      NOT NULL DEFAULT false,
    qr_code           text,
    qr_expired_at     timestamptz,
    connected_at      timestamptz,
    disconnected_at   timestamptz,
    last_sync_at      timestamptz,
    webhook           text,
    last_activity_at  timestamptz  NOT NULL DEFAULT now(),
    received_at       timestamptz  NOT NULL DEFAULT now()
);
-- Gateway addition: the owning user, for tenant isolation.
ALTER TABLE whats_app_sessions ADD COLUMN IF NOT EXISTS user_id text;
CREATE UNIQUE INDEX IF NOT EXISTS idx_whats_app_sessions_user_token
    ON whats_app_sessions (user_token);
CREATE INDEX IF NOT EXISTS whats_app_sessions_user_id_idx ON whats_app_sessions (user_id);

-- ---------------------------------------------------------------------------------------------
-- user_settings
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS user_settings (
    id                 bigserial    PRIMARY KEY,
    created_at         timestamptz  NOT NULL DEFAULT now(),
    updated_at         timestamptz  NOT NULL DEFAULT now(),
    user_token         text         NOT NULL,
    chat_log_enabled   boolean      NOT NULL DEFAULT false,
    auto_read_enabled  boolean      NOT NULL DEFAULT false,
    webhook_url        text,
    display_name       text,
    is_active          boolean      NOT NULL DEFAULT true
);
-- Gateway addition: the owning user, for tenant isolation.
ALTER TABLE user_settings ADD COLUMN IF NOT EXISTS user_id text;
CREATE UNIQUE INDEX IF NOT EXISTS idx_user_settings_user_token ON user_settings (user_token);
CREATE INDEX IF NOT EXISTS user_settings_user_id_idx ON user_settings (user_id);

-- ---------------------------------------------------------------------------------------------
-- chat_rooms
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS chat_rooms (
    id             bigserial    PRIMARY KEY,
    created_at     timestamptz  NOT NULL DEFAULT now(),
    updated_at     timestamptz  NOT NULL DEFAULT now(),
    chat_id        text         NOT NULL,
    user_token     text         NOT NULL,
    contact_j_id   text         NOT NULL,
    contact_name   text,
    chat_type      text         NOT NULL DEFAULT 'individual',
    is_group       boolean      NOT NULL DEFAULT false,
    group_name     text,
    last_message   text,
    last_sender    text,
    last_activity  timestamptz,
    unread_count   bigint       NOT NULL DEFAULT 0
);
-- Gateway addition: the owning user, for tenant isolation.
ALTER TABLE chat_rooms ADD COLUMN IF NOT EXISTS user_id text;
CREATE UNIQUE INDEX IF NOT EXISTS idx_chat_rooms_chat_id ON chat_rooms (chat_id);
CREATE INDEX IF NOT EXISTS idx_chat_rooms_user_token ON chat_rooms (user_token);
CREATE INDEX IF NOT EXISTS idx_chat_rooms_contact_j_id ON chat_rooms (contact_j_id);
CREATE INDEX IF NOT EXISTS chat_rooms_user_id_idx ON chat_rooms (user_id);

-- ---------------------------------------------------------------------------------------------
-- chat_messages
-- ---------------------------------------------------------------------------------------------
-- The foreign key exists only where this statement creates the table (as with gorm); it is not
-- added to an existing table, whose rows may hold chat_room_id 0 (§9.4).
CREATE TABLE IF NOT EXISTS chat_messages (
    id                 bigserial    PRIMARY KEY,
    created_at         timestamptz  NOT NULL DEFAULT now(),
    updated_at         timestamptz  NOT NULL DEFAULT now(),
    message_id         text         NOT NULL,
    chat_room_id       bigint       NOT NULL,
    chat_id            text         NOT NULL,
    user_token         text         NOT NULL,
    sender_j_id        text         NOT NULL,
    sender_type        text         NOT NULL,
    message_type       text         NOT NULL,
    content            text,
    caption            text,
    media_data         jsonb,
    quoted_message_id  text,
    status             text         NOT NULL DEFAULT 'sent',
    message_timestamp  timestamptz  NOT NULL,
    delivered_at       timestamptz,
    read_at            timestamptz,
    CONSTRAINT fk_chat_messages_chat_room
        FOREIGN KEY (chat_room_id) REFERENCES chat_rooms (id)
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_chat_messages_message_id ON chat_messages (message_id);
CREATE INDEX IF NOT EXISTS idx_chat_messages_chat_room_id ON chat_messages (chat_room_id);
CREATE INDEX IF NOT EXISTS idx_chat_messages_chat_id ON chat_messages (chat_id);
CREATE INDEX IF NOT EXISTS idx_chat_messages_user_token ON chat_messages (user_token);
CREATE INDEX IF NOT EXISTS idx_chat_messages_sender_j_id ON chat_messages (sender_j_id);
CREATE INDEX IF NOT EXISTS idx_chat_messages_message_timestamp
    ON chat_messages (message_timestamp);
