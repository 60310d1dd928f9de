-- Reverts 2025-01-01-000003_create_event_tables.
--
-- Drops the event tables with their data. For throwaway development databases only; never run it
-- against a primary database that predates the gateway.
DROP TABLE IF EXISTS chat_messages;
DROP TABLE IF EXISTS chat_rooms;
DROP TABLE IF EXISTS user_settings;
DROP TABLE IF EXISTS whats_app_sessions;
DROP TABLE IF EXISTS whats_app_history_syncs;
DROP TABLE IF EXISTS whats_app_chat_presences;
DROP TABLE IF EXISTS whats_app_presences;
DROP TABLE IF EXISTS whats_app_message_statuses;
DROP TABLE IF EXISTS whats_app_read_receipts;
DROP TABLE IF EXISTS whats_app_messages;
DROP TABLE IF EXISTS gen_event_webhooks;
