//! Row models, one file per table: a `Queryable`/`Selectable`/`Identifiable` row struct named
//! after the table (singular) and a `New…` `Insertable` with the columns a creator sets.
//!
//! Field names are snake_case; the owner's camelCase columns are mapped with
//! `#[diesel(column_name = …)]`, and `type` is the raw identifier `r#type` (serialised as
//! `"type"`). `whats_app_sessions` is `WhatsAppSessionState`, to keep it apart from the owner's
//! `"WhatsAppSession"`. Secrets of the owner's rows (passwords, OTPs, tokens) are not serialised.
//!
//! Several schema modules share their name with a row struct (`schema::User` and `User`), so the
//! models name tables by path (`schema::User`) rather than importing them.

pub mod chat_message;
pub mod chat_room;
pub mod gateway_session_lease;
pub mod gateway_session_setting;
pub mod gen_event_webhook;
pub mod services_whatsapp_customer;
pub mod user;
pub mod user_session;
pub mod user_settings;
pub mod whats_app_bulk_campaign;
pub mod whats_app_bulk_campaign_item;
pub mod whats_app_campaign;
pub mod whats_app_chat_presence;
pub mod whats_app_contact;
pub mod whats_app_history_sync;
pub mod whats_app_message;
pub mod whats_app_message_stats;
pub mod whats_app_message_status;
pub mod whats_app_presence;
pub mod whats_app_read_receipt;
pub mod whats_app_session;
pub mod whats_app_session_state;
pub mod whatsapp_api_package;

pub use chat_message::{ChatMessage, NewChatMessage};
pub use chat_room::{ChatRoom, NewChatRoom};
pub use gateway_session_lease::{GatewaySessionLease, NewGatewaySessionLease};
pub use gateway_session_setting::{GatewaySessionSetting, NewGatewaySessionSetting};
pub use gen_event_webhook::{GenEventWebhook, NewGenEventWebhook};
pub use services_whatsapp_customer::{NewServicesWhatsappCustomer, ServicesWhatsappCustomer};
pub use user::{NewUser, User};
pub use user_session::{NewUserSession, UserSession};
pub use user_settings::{NewUserSettings, UserSettings};
pub use whats_app_bulk_campaign::{NewWhatsAppBulkCampaign, WhatsAppBulkCampaign};
pub use whats_app_bulk_campaign_item::{NewWhatsAppBulkCampaignItem, WhatsAppBulkCampaignItem};
pub use whats_app_campaign::{NewWhatsAppCampaign, WhatsAppCampaign};
pub use whats_app_chat_presence::{NewWhatsAppChatPresence, WhatsAppChatPresence};
pub use whats_app_contact::{NewWhatsAppContact, WhatsAppContact};
pub use whats_app_history_sync::{NewWhatsAppHistorySync, WhatsAppHistorySync};
pub use whats_app_message::{NewWhatsAppMessage, WhatsAppMessage};
pub use whats_app_message_stats::{NewWhatsAppMessageStats, WhatsAppMessageStats};
pub use whats_app_message_status::{NewWhatsAppMessageStatus, WhatsAppMessageStatus};
pub use whats_app_presence::{NewWhatsAppPresence, WhatsAppPresence};
pub use whats_app_read_receipt::{NewWhatsAppReadReceipt, WhatsAppReadReceipt};
pub use whats_app_session::{NewWhatsAppSession, WhatsAppSession};
pub use whats_app_session_state::{NewWhatsAppSessionState, WhatsAppSessionState};
pub use whatsapp_api_package::{NewWhatsappApiPackage, WhatsappApiPackage};
