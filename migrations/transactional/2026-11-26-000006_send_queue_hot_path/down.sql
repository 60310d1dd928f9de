CREATE INDEX IF NOT EXISTS "WhatsAppBulkCampaignItems_claim_idx"
    ON "WhatsAppBulkCampaignItems" (session_id, next_attempt_at)
    WHERE status = 'pending' AND deleted_at IS NULL;
DROP INDEX IF EXISTS "WhatsAppBulkCampaignItems_pending_idx";
ALTER TABLE "WhatsAppBulkCampaignItems" RESET (fillfactor);
