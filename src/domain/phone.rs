//! Phone numbers as recipients: trimmed, `+`, spaces and dashes removed, digits only.

use std::fmt;

/// A normalised phone number: 7 to 15 digits (E.164 without `+`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

/// Why a recipient cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("empty phone number")]
    Empty,
    #[error("phone number contains characters other than digits")]
    NotDigits,
    #[error("phone number must have 7 to 15 digits")]
    Length,
    #[error("LID identities have no phone number")]
    Lid,
}

impl PhoneNumber {
    /// Normalises user input: trims, strips `+`, spaces, dashes, dots, parentheses and a
    /// `@s.whatsapp.net` suffix.
    pub fn parse(raw: &str) -> Result<PhoneNumber, PhoneError> {
        let s = raw.trim();
        if s.ends_with("@lid") {
            return Err(PhoneError::Lid);
        }
        let s = s.strip_suffix("@s.whatsapp.net").unwrap_or(s);
        let s = s.split(':').next().unwrap_or(s);
        let digits: String = s
            .chars()
            .filter(|c| !matches!(c, '+' | ' ' | '-' | '.' | '(' | ')' | '\t'))
            .collect();
        if digits.is_empty() {
            return Err(PhoneError::Empty);
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::NotDigits);
        }
        if !(7..=15).contains(&digits.len()) {
            return Err(PhoneError::Length);
        }
        Ok(PhoneNumber(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_common_forms() {
        for raw in [
            "6281234567890",
            " +62 812-3456-7890 ",
            "6281234567890@s.whatsapp.net",
            "6281234567890:3@s.whatsapp.net",
        ] {
            assert_eq!(
                PhoneNumber::parse(raw).unwrap().as_str(),
                "6281234567890",
                "{raw}"
            );
        }
    }

    #[test]
    fn refuses_unusable_values() {
        assert_eq!(PhoneNumber::parse("  "), Err(PhoneError::Empty));
        assert_eq!(PhoneNumber::parse("abc"), Err(PhoneError::NotDigits));
        assert_eq!(PhoneNumber::parse("123"), Err(PhoneError::Length));
        assert_eq!(
            PhoneNumber::parse("1234567890123456"),
            Err(PhoneError::Length)
        );
        assert_eq!(
            PhoneNumber::parse("123456789012345@lid"),
            Err(PhoneError::Lid)
        );
    }
}
