//! Domain types built at the edge: code past the HTTP layer takes only these.

pub mod phone;
pub mod schedule;
pub mod webhook_event;

pub use phone::PhoneNumber;

use diesel_derive_newtype::DieselNewType;
use serde::{Deserialize, Serialize};

/// The owner system's user id (`"User".id`, text).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, DieselNewType)]
pub struct UserId(pub String);

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A `"WhatsAppSession".id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, DieselNewType)]
pub struct SessionId(pub String);

/// A campaign template id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, DieselNewType)]
pub struct TemplateId(pub i64);

/// A bulk campaign id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, DieselNewType)]
pub struct CampaignId(pub i64);

/// Masks a phone number or JID for logs: keeps the first 4 and last 2 digits.
pub fn mask_phone(phone: &str) -> String {
    let digits: String = phone.chars().take_while(|c| *c != '@').collect();
    if digits.len() <= 6 {
        return "***".to_string();
    }
    format!("{}***{}", &digits[..4], &digits[digits.len() - 2..])
}

/// Parses a path id as the reference does: an unsigned 32-bit decimal.
pub fn parse_path_id(raw: &str) -> Option<i64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse::<u32>().ok().map(i64::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_little() {
        assert_eq!(mask_phone("6281234567890@s.whatsapp.net"), "6281***90");
        assert_eq!(mask_phone("123"), "***");
    }

    #[test]
    fn path_ids_are_u32() {
        assert_eq!(parse_path_id("7"), Some(7));
        assert_eq!(parse_path_id("4294967295"), Some(4294967295));
        assert_eq!(parse_path_id("4294967296"), None);
        assert_eq!(parse_path_id("-1"), None);
        assert_eq!(parse_path_id("1a"), None);
        assert_eq!(parse_path_id(""), None);
    }
}
