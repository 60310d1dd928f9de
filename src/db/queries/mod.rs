//! Query functions: `conn` first, then the `UserId` scope for per-user rows.

pub mod admin;
pub mod campaigns;
pub mod contacts;
pub mod templates;
