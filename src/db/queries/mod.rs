//! Query functions: `conn` first, then the `UserId` scope for per-user rows.

pub mod admin;
pub mod campaigns;
pub mod chats;
pub mod contacts;
pub mod events;
pub mod session_settings;
pub mod templates;
