-- Reverts 2025-01-01-000001_create_owner_tables (single-database mode only).
DROP TABLE IF EXISTS "WhatsAppMessageStats";
DROP TABLE IF EXISTS "ServicesWhatsappCustomers";
DROP TABLE IF EXISTS "WhatsappApiPackage";
DROP TABLE IF EXISTS "WhatsAppSession";
DROP TABLE IF EXISTS "UserSession";
DROP TABLE IF EXISTS "User";
