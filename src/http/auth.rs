//! Bearer tokens of `/bulk/*`: HS256 JWTs with the reference's claims (§4.3).

use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The claims the reference's helpers would issue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    #[serde(rename = "userId")]
    pub user_id: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub role: String,
    #[serde(rename = "sessionId", default)]
    pub session_id: String,
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
}

/// Signs claims with HS256.
pub fn encode_token(
    claims: &Claims,
    secret: &SecretString,
) -> Result<String, jsonwebtoken::errors::Error> {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )
}

/// Verifies an HS256 signature and `exp` (no leeway); every other algorithm is refused.
pub fn decode_token(
    token: &str,
    secret: &SecretString,
) -> Result<Claims, jsonwebtoken::errors::Error> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_exp = true;
    validation.set_required_spec_claims(&["exp"]);
    decode::<Claims>(
        token,
        &DecodingKey::from_secret(secret.expose_secret().as_bytes()),
        &validation,
    )
    .map(|d| d.claims)
}

/// Claims for a user valid until `expires_at`.
pub fn claims_for(
    user_id: &str,
    email: &str,
    role: &str,
    session_id: &str,
    expires_at: DateTime<Utc>,
) -> Claims {
    Claims {
        user_id: user_id.to_string(),
        email: email.to_string(),
        role: role.to_string(),
        session_id: session_id.to_string(),
        exp: expires_at.timestamp(),
        iat: Utc::now().timestamp(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn secret() -> SecretString {
        SecretString::from("test-secret-0123456789".to_string())
    }

    #[test]
    fn round_trip() {
        let c = claims_for(
            "u1",
            "a@b",
            "customer",
            "s1",
            Utc::now() + chrono::Duration::hours(1),
        );
        let t = encode_token(&c, &secret()).unwrap();
        assert_eq!(decode_token(&t, &secret()).unwrap(), c);
    }

    #[test]
    fn refuses_expired_other_key_none_and_tampered() {
        let c = claims_for("u1", "", "", "", Utc::now() - chrono::Duration::seconds(5));
        let t = encode_token(&c, &secret()).unwrap();
        assert!(decode_token(&t, &secret()).is_err());

        let c = claims_for("u1", "", "", "", Utc::now() + chrono::Duration::hours(1));
        let other = encode_token(&c, &SecretString::from("another-key".to_string())).unwrap();
        assert!(decode_token(&other, &secret()).is_err());

        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = b64.encode(serde_json::to_vec(&c).unwrap());
        let none = format!(
            "{}.{}.",
            b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
            payload
        );
        assert!(decode_token(&none, &secret()).is_err());

        let good = encode_token(&c, &secret()).unwrap();
        let parts: Vec<&str> = good.split('.').collect();
        let mut forged = c.clone();
        forged.user_id = "u2".into();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            b64.encode(serde_json::to_vec(&forged).unwrap()),
            parts[2]
        );
        assert!(decode_token(&tampered, &secret()).is_err());
    }
}
