-- The owner's tables of the transactional database (gateway-api.md §3.2).
--
-- These tables belong to another system (the customer/billing application, a Prisma schema).
-- This migration set is applied only in single-database mode (development, tests), so that the
-- gateway has something to read. Identifiers are quoted camelCase exactly as the contract spells
-- them; constraint and index names follow Prisma's conventions ("<Table>_<col>_key" / "_idx").
--
-- Nullability: NOT NULL for primary keys, columns the contract marks "not null", columns the gateway
-- relies on as keys, and columns with a default (as Prisma declares `T @default(x)`); everything
-- else is nullable. Idempotent (IF NOT EXISTS) so it can be re-run on a database that has them.

CREATE TABLE IF NOT EXISTS "User" (
    "id"                            text         NOT NULL,
    "name"                          text,
    "email"                         text,
    "phone"                         text,
    "password"                      text,
    "otp"                           text,
    "otpExpires"                    timestamptz,
    "otpVerificationDeadline"       timestamptz,
    "emailVerified"                 timestamptz,
    "phoneVerified"                 timestamptz,
    "image"                         text,
    "emailVerificationToken"        text,
    "emailVerificationTokenExpires" timestamptz,
    "role"                          text         NOT NULL DEFAULT 'customer',
    "apiKey"                        text,
    "updatedAt"                     timestamptz  NOT NULL DEFAULT now(),
    "emailOtp"                      text,
    "emailOtpExpires"               timestamptz,
    "resetPasswordOtp"              text,
    "resetPasswordOtpExpires"       timestamptz,
    "resetPasswordLastRequestAt"    timestamptz,
    "ssoOtp"                        text,
    "ssoOtpExpires"                 timestamptz,
    "ssoLastRequestAt"              timestamptz,
    "isActive"                      boolean      NOT NULL DEFAULT true,
    "createdAt"                     timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX IF NOT EXISTS "User_email_key" ON "User" ("email");
CREATE UNIQUE INDEX IF NOT EXISTS "User_phone_key" ON "User" ("phone");
CREATE UNIQUE INDEX IF NOT EXISTS "User_emailVerificationToken_key" ON "User" ("emailVerificationToken");
CREATE UNIQUE INDEX IF NOT EXISTS "User_apiKey_key" ON "User" ("apiKey");

CREATE TABLE IF NOT EXISTS "UserSession" (
    "id"         text          NOT NULL,
    "userId"     text          NOT NULL,
    "token"      varchar(512)  NOT NULL,
    "deviceInfo" text,
    "ipAddress"  text,
    "userAgent"  text,
    "isActive"   boolean       NOT NULL DEFAULT true,
    "lastUsed"   timestamptz,
    "expiresAt"  timestamptz   NOT NULL,
    "createdAt"  timestamptz   NOT NULL DEFAULT now(),
    "updatedAt"  timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT "UserSession_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX IF NOT EXISTS "UserSession_token_key" ON "UserSession" ("token");
CREATE INDEX IF NOT EXISTS "UserSession_userId_idx" ON "UserSession" ("userId");
CREATE INDEX IF NOT EXISTS "UserSession_isActive_idx" ON "UserSession" ("isActive");
CREATE INDEX IF NOT EXISTS "UserSession_expiresAt_idx" ON "UserSession" ("expiresAt");

CREATE TABLE IF NOT EXISTS "WhatsAppSession" (
    "id"              varchar(30)  NOT NULL,
    "sessionId"       text         NOT NULL,
    "sessionName"     text,
    "token"           text         NOT NULL,
    "userId"          text,
    "webhook"         text,
    "events"          text,
    "expiration"      integer      NOT NULL DEFAULT 0,
    "connected"       boolean      NOT NULL DEFAULT false,
    "loggedIn"        boolean      NOT NULL DEFAULT false,
    "jid"             text,
    "qrcode"          text,
    "status"          text         NOT NULL DEFAULT 'disconnected',
    "message"         text,
    "isSystemSession" boolean      NOT NULL DEFAULT false,
    "createdAt"       timestamptz  NOT NULL DEFAULT now(),
    "updatedAt"       timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT "WhatsAppSession_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX IF NOT EXISTS "WhatsAppSession_sessionId_key" ON "WhatsAppSession" ("sessionId");
CREATE UNIQUE INDEX IF NOT EXISTS "WhatsAppSession_token_key" ON "WhatsAppSession" ("token");
CREATE INDEX IF NOT EXISTS "WhatsAppSession_userId_idx" ON "WhatsAppSession" ("userId");

CREATE TABLE IF NOT EXISTS "WhatsappApiPackage" (
    "id"          varchar(30)  NOT NULL,
    "name"        text,
    "description" text,
    "priceMonth"  integer,
    "priceYear"   integer,
    "maxSession"  integer      NOT NULL,
    "createdAt"   timestamptz  NOT NULL DEFAULT now(),
    "updatedAt"   timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT "WhatsappApiPackage_pkey" PRIMARY KEY ("id")
);

-- No "createdAt": the contract lists none for this table.
CREATE TABLE IF NOT EXISTS "ServicesWhatsappCustomers" (
    "id"                 varchar(30)  NOT NULL,
    "customerId"         text         NOT NULL,
    "packageId"          text         NOT NULL,
    "status"             text         NOT NULL DEFAULT 'active',
    "activatedAt"        timestamptz,
    "expiredAt"          timestamptz  NOT NULL,
    "updatedAt"          timestamptz  NOT NULL DEFAULT now(),
    "lastSubscriptionAt" timestamptz,
    CONSTRAINT "ServicesWhatsappCustomers_pkey" PRIMARY KEY ("id")
);
CREATE INDEX IF NOT EXISTS "ServicesWhatsappCustomers_customerId_idx" ON "ServicesWhatsappCustomers" ("customerId");
CREATE INDEX IF NOT EXISTS "ServicesWhatsappCustomers_packageId_idx" ON "ServicesWhatsappCustomers" ("packageId");
CREATE INDEX IF NOT EXISTS "ServicesWhatsappCustomers_status_idx" ON "ServicesWhatsappCustomers" ("status");
CREATE INDEX IF NOT EXISTS "ServicesWhatsappCustomers_expiredAt_idx" ON "ServicesWhatsappCustomers" ("expiredAt");

-- "id" is text, not the varchar(30) the reference's model declares: the reference inserts
-- 36-character UUID strings here (§3.2), which varchar(30) would refuse.
CREATE TABLE IF NOT EXISTS "WhatsAppMessageStats" (
    "id"                     text         NOT NULL,
    "userId"                 text         NOT NULL,
    "sessionId"              text         NOT NULL,
    "totalMessagesSent"      integer      NOT NULL DEFAULT 0,
    "totalMessagesFailed"    integer      NOT NULL DEFAULT 0,
    "textMessagesSent"       integer      NOT NULL DEFAULT 0,
    "textMessagesFailed"     integer      NOT NULL DEFAULT 0,
    "imageMessagesSent"      integer      NOT NULL DEFAULT 0,
    "imageMessagesFailed"    integer      NOT NULL DEFAULT 0,
    "documentMessagesSent"   integer      NOT NULL DEFAULT 0,
    "documentMessagesFailed" integer      NOT NULL DEFAULT 0,
    "audioMessagesSent"      integer      NOT NULL DEFAULT 0,
    "audioMessagesFailed"    integer      NOT NULL DEFAULT 0,
    "stickerMessagesSent"    integer      NOT NULL DEFAULT 0,
    "stickerMessagesFailed"  integer      NOT NULL DEFAULT 0,
    "videoMessagesSent"      integer      NOT NULL DEFAULT 0,
    "videoMessagesFailed"    integer      NOT NULL DEFAULT 0,
    "locationMessagesSent"   integer      NOT NULL DEFAULT 0,
    "locationMessagesFailed" integer      NOT NULL DEFAULT 0,
    "contactMessagesSent"    integer      NOT NULL DEFAULT 0,
    "contactMessagesFailed"  integer      NOT NULL DEFAULT 0,
    "templateMessagesSent"   integer      NOT NULL DEFAULT 0,
    "templateMessagesFailed" integer      NOT NULL DEFAULT 0,
    "lastMessageSentAt"      timestamptz,
    "lastMessageFailedAt"    timestamptz,
    "createdAt"              timestamptz  NOT NULL DEFAULT now(),
    "updatedAt"              timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT "WhatsAppMessageStats_pkey" PRIMARY KEY ("id")
);
CREATE INDEX IF NOT EXISTS "WhatsAppMessageStats_userId_idx" ON "WhatsAppMessageStats" ("userId");
CREATE INDEX IF NOT EXISTS "WhatsAppMessageStats_sessionId_idx" ON "WhatsAppMessageStats" ("sessionId");
-- Gateway addition: the stats upsert (`ON CONFLICT ("userId", "sessionId")`) needs this key
-- (gateway-api.md §10 defect 14).
CREATE UNIQUE INDEX IF NOT EXISTS "WhatsAppMessageStats_userId_sessionId_key"
    ON "WhatsAppMessageStats" ("userId", "sessionId");
