-- Gateway-owned tables of the transactional database (gateway-api.md §3.3) and the gateway's
-- additions to them.
--
-- This set also runs against the owning system's existing database, where the four §3.3 tables
-- may already exist (created by the reference gateway or by the owner's Prisma schema). So this
-- file is idempotent and additive only: CREATE ... IF NOT EXISTS and ADD COLUMN IF NOT EXISTS;
-- nothing is dropped or retyped. On a pre-existing table the contract's columns keep whatever type
-- and nullability they already have.
--
-- Fresh tables: NOT NULL where the contract marks it, and on columns with a default (booleans,
-- counters, statuses), which the reference always writes; other columns are nullable.
-- Index names of the contract's indexes follow gorm (`idx_<table>_<column>`, §3.1).

-- ---------------------------------------------------------------------------------------------
-- "WhatsAppContact"
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS "WhatsAppContact" (
    id          bigserial    PRIMARY KEY,
    created_at  timestamptz  NOT NULL DEFAULT now(),
    updated_at  timestamptz  NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    user_id     text         NOT NULL,
    phone       text         NOT NULL,
    name        text,
    full_name   text,
    push_name   text,
    short       text,
    notify      text,
    business    boolean      NOT NULL DEFAULT false,
    verified    boolean      NOT NULL DEFAULT false,
    source      text         NOT NULL DEFAULT 'sync'
);
CREATE INDEX IF NOT EXISTS "idx_WhatsAppContact_deleted_at" ON "WhatsAppContact" (deleted_at);
CREATE INDEX IF NOT EXISTS "idx_WhatsAppContact_user_id" ON "WhatsAppContact" (user_id);
CREATE INDEX IF NOT EXISTS "idx_WhatsAppContact_phone" ON "WhatsAppContact" (phone);

-- Gateway addition: one live contact per (user_id, phone), the key of the contact upsert
-- (§10 defect 23). Existing live duplicates are soft-deleted first, keeping the newest row (the
-- highest id) of each pair, so that the index can be built on existing data.
UPDATE "WhatsAppContact" AS older
   SET deleted_at = now(), updated_at = now()
 WHERE older.deleted_at IS NULL
   AND EXISTS (SELECT 1
                 FROM "WhatsAppContact" AS newer
                WHERE newer.user_id = older.user_id
                  AND newer.phone = older.phone
                  AND newer.deleted_at IS NULL
                  AND newer.id > older.id);
CREATE UNIQUE INDEX IF NOT EXISTS "WhatsAppContact_user_id_phone_live_key"
    ON "WhatsAppContact" (user_id, phone) WHERE deleted_at IS NULL;

-- ---------------------------------------------------------------------------------------------
-- "WhatsAppCampaigns" (templates)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS "WhatsAppCampaigns" (
    id            bigserial    PRIMARY KEY,
    created_at    timestamptz  NOT NULL DEFAULT now(),
    updated_at    timestamptz  NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    user_id       text         NOT NULL,
    name          text         NOT NULL,
    type          text         NOT NULL,
    status        text         NOT NULL DEFAULT 'active',
    message_body  text,
    image_url     text,
    image_base64  text,
    caption       text
);
CREATE INDEX IF NOT EXISTS "idx_WhatsAppCampaigns_deleted_at" ON "WhatsAppCampaigns" (deleted_at);
CREATE INDEX IF NOT EXISTS "idx_WhatsAppCampaigns_user_id" ON "WhatsAppCampaigns" (user_id);

-- ---------------------------------------------------------------------------------------------
-- "WhatsAppBulkCampaigns"
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS "WhatsAppBulkCampaigns" (
    id             bigserial     PRIMARY KEY,
    created_at     timestamptz   NOT NULL DEFAULT now(),
    updated_at     timestamptz   NOT NULL DEFAULT now(),
    deleted_at     timestamptz,
    user_id        text          NOT NULL,
    campaign_id    bigint,
    name           text          NOT NULL,
    type           text          NOT NULL,
    message_body   text,
    image_url      text,
    image_base64   text,
    caption        text,
    status         text          NOT NULL DEFAULT 'pending',
    total_count    bigint        NOT NULL DEFAULT 0,
    sent_count     bigint        NOT NULL DEFAULT 0,
    failed_count   bigint        NOT NULL DEFAULT 0,
    scheduled_at   timestamptz,
    timezone       varchar(255),
    processed_at   timestamptz,
    completed_at   timestamptz,
    error_message  text
);
-- The owner's schema added `timezone` later (§3.3): an older database may lack it.
ALTER TABLE "WhatsAppBulkCampaigns" ADD COLUMN IF NOT EXISTS timezone varchar(255);
-- Gateway additions.
ALTER TABLE "WhatsAppBulkCampaigns"
    -- the chosen sender, a "WhatsAppSession".id
    ADD COLUMN IF NOT EXISTS session_id       text,
    ADD COLUMN IF NOT EXISTS delivered_count  bigint       NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS read_count       bigint       NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS idempotency_key  text,
    ADD COLUMN IF NOT EXISTS status_reason    text,
    ADD COLUMN IF NOT EXISTS paused_at        timestamptz,
    ADD COLUMN IF NOT EXISTS cancelled_at     timestamptz,
    -- the image resolved once to a data URI (§10 defect 8)
    ADD COLUMN IF NOT EXISTS image_data       text;
CREATE INDEX IF NOT EXISTS "idx_WhatsAppBulkCampaigns_deleted_at"
    ON "WhatsAppBulkCampaigns" (deleted_at);
CREATE INDEX IF NOT EXISTS "idx_WhatsAppBulkCampaigns_user_id"
    ON "WhatsAppBulkCampaigns" (user_id);
CREATE INDEX IF NOT EXISTS "idx_WhatsAppBulkCampaigns_campaign_id"
    ON "WhatsAppBulkCampaigns" (campaign_id);
CREATE UNIQUE INDEX IF NOT EXISTS "WhatsAppBulkCampaigns_user_id_idempotency_key_key"
    ON "WhatsAppBulkCampaigns" (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- the scheduler's scan for due campaigns
CREATE INDEX IF NOT EXISTS "WhatsAppBulkCampaigns_status_scheduled_at_idx"
    ON "WhatsAppBulkCampaigns" (status, scheduled_at) WHERE deleted_at IS NULL;

-- ---------------------------------------------------------------------------------------------
-- "WhatsAppBulkCampaignItems"
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS "WhatsAppBulkCampaignItems" (
    id                bigserial    PRIMARY KEY,
    created_at        timestamptz  NOT NULL DEFAULT now(),
    updated_at        timestamptz  NOT NULL DEFAULT now(),
    deleted_at        timestamptz,
    bulk_campaign_id  bigint       NOT NULL,
    phone             text         NOT NULL,
    status            text         NOT NULL DEFAULT 'pending',
    message_id        text,
    error_message     text,
    sent_at           timestamptz
);
-- Gateway additions: the durable send queue (§10 defects 1, 2, 5, 6, 26).
ALTER TABLE "WhatsAppBulkCampaignItems"
    ADD COLUMN IF NOT EXISTS attempts            integer      NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS next_attempt_at     timestamptz  NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS lease_owner         text,
    ADD COLUMN IF NOT EXISTS lease_expires_at    timestamptz,
    ADD COLUMN IF NOT EXISTS attempt_started_at  timestamptz,
    ADD COLUMN IF NOT EXISTS outcome_unknown_at  timestamptz,
    ADD COLUMN IF NOT EXISTS delivered_at        timestamptz,
    ADD COLUMN IF NOT EXISTS read_at             timestamptz,
    -- the sender session key, copied from the campaign
    ADD COLUMN IF NOT EXISTS session_id          text;
CREATE INDEX IF NOT EXISTS "idx_WhatsAppBulkCampaignItems_deleted_at"
    ON "WhatsAppBulkCampaignItems" (deleted_at);
CREATE INDEX IF NOT EXISTS "idx_WhatsAppBulkCampaignItems_bulk_campaign_id"
    ON "WhatsAppBulkCampaignItems" (bulk_campaign_id);
-- the per-session sender's claim of due items
CREATE INDEX IF NOT EXISTS "WhatsAppBulkCampaignItems_claim_idx"
    ON "WhatsAppBulkCampaignItems" (session_id, next_attempt_at)
    WHERE status = 'pending' AND deleted_at IS NULL;
-- receipts find items by the upstream message id
CREATE INDEX IF NOT EXISTS "WhatsAppBulkCampaignItems_message_id_idx"
    ON "WhatsAppBulkCampaignItems" (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS "WhatsAppBulkCampaignItems_bulk_campaign_id_status_idx"
    ON "WhatsAppBulkCampaignItems" (bulk_campaign_id, status);

-- ---------------------------------------------------------------------------------------------
-- New gateway tables
-- ---------------------------------------------------------------------------------------------
-- Which gateway instance drives a WhatsApp session's sender (an expiring lease).
CREATE TABLE IF NOT EXISTS gateway_session_leases (
    session_key  text         PRIMARY KEY,
    owner        text         NOT NULL,
    expires_at   timestamptz  NOT NULL,
    updated_at   timestamptz  NOT NULL DEFAULT now()
);

-- Per-session send rate overrides, keyed like "WhatsAppBulkCampaigns".session_id (no foreign key:
-- "WhatsAppSession" belongs to the owning system).
CREATE TABLE IF NOT EXISTS gateway_session_settings (
    session_id    text              PRIMARY KEY,
    rate_per_sec  double precision,
    daily_cap     integer,
    created_at    timestamptz       NOT NULL DEFAULT now(),
    updated_at    timestamptz       NOT NULL DEFAULT now()
);
