-- Reverts 2025-01-01-000002_create_bulk_tables.
--
-- For simplicity this drops the four §3.3 tables outright, with their data, not only what up.sql
-- added to them. Down migrations are meant for throwaway development databases only: never run
-- this against the owning system's database (two-database mode), where those tables and their
-- data predate the gateway.
DROP TABLE IF EXISTS gateway_session_settings;
DROP TABLE IF EXISTS gateway_session_leases;
DROP TABLE IF EXISTS "WhatsAppBulkCampaignItems";
DROP TABLE IF EXISTS "WhatsAppBulkCampaigns";
DROP TABLE IF EXISTS "WhatsAppCampaigns";
DROP TABLE IF EXISTS "WhatsAppContact";
