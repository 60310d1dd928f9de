-- The send queue's hot path, made cheaper (issue 6 throughput).
--
-- Room on each page for an item's next row version. The claim changes no indexed column (the
-- message id is assigned when the item is created), so when the page has room the claim is a
-- HOT update: no index is written and no dead index entry is left behind. A claim updates every
-- item of a page at once, so half of each page is kept free. Applies to pages written from now on.
ALTER TABLE "WhatsAppBulkCampaignItems" SET (fillfactor = 50);

-- Pending items by campaign in id order: the claim reads the next items of one campaign without
-- sorting, and the completion check ("anything pending left?") stops at the first live entry.
-- It replaces the by-session claim index, which the planner also chose for the completion check
-- on fresh statistics and then read every pending item of every campaign.
CREATE INDEX IF NOT EXISTS "WhatsAppBulkCampaignItems_pending_idx"
    ON "WhatsAppBulkCampaignItems" (bulk_campaign_id, id)
    WHERE status = 'pending' AND deleted_at IS NULL;
DROP INDEX IF EXISTS "WhatsAppBulkCampaignItems_claim_idx";
