//! Webhook envelopes of the upstream (upstream.md §6.2) and the reference (gateway-api.md §9.2):
//! parsing, signature check (§6.3) and event identity for de-duplication (§6.5).

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// One parsed webhook: the event object (the JSON body, or the form's `jsonData`) and the
/// session identifiers that came with it.
#[derive(Debug, Clone)]
pub struct WebhookEnvelope {
    /// `type`.
    pub kind: String,
    /// The whole event object (top-level extras such as `state`, `qrCodeBase64`, `base64`),
    /// `event` included; `userID` and `instanceName` are taken out into their fields.
    pub object: Map<String, Value>,
    /// The upstream's `userID`.
    pub user_id: Option<String>,
    /// The upstream's `instanceName`.
    pub instance_name: Option<String>,
    /// The reference's top-level `token`.
    pub token: Option<String>,
}

/// The `event` of an envelope that has none.
static NO_EVENT: std::sync::LazyLock<Value> =
    std::sync::LazyLock::new(|| Value::Object(Map::new()));

impl WebhookEnvelope {
    /// `event`: an object, or a string for `QR`, `QRTimeout`, `ConnectFailure`; an empty
    /// object when the envelope has none.
    pub fn event(&self) -> &Value {
        match self.object.get("event") {
            None | Some(Value::Null) => &NO_EVENT,
            Some(v) => v,
        }
    }

    /// A top-level string member of the event object.
    pub fn top_str(&self, key: &str) -> Option<&str> {
        self.object.get(key).and_then(Value::as_str)
    }
}

/// Why a body is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Neither a JSON object nor a form with `jsonData`.
    InvalidBody,
    /// No usable `type`.
    MissingType,
    /// `event` is neither an object nor a string.
    InvalidEvent,
}

impl ParseError {
    pub fn message(self) -> &'static str {
        match self {
            ParseError::InvalidBody => "Invalid JSON data",
            ParseError::MissingType => "Invalid JSON data: missing event type",
            ParseError::InvalidEvent => "Invalid JSON data: event must be an object or a string",
        }
    }
}

fn non_empty(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Parses either envelope. The format is recognised from the bytes (a JSON object starts with
/// `{`), so a wrong `Content-Type` does not lose an event.
pub fn parse_envelope(body: &[u8]) -> Result<WebhookEnvelope, ParseError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let (mut object, form_user, form_instance) = match first {
        Some(b'{') => {
            let v: Value = serde_json::from_slice(body).map_err(|_| ParseError::InvalidBody)?;
            match v {
                Value::Object(m) => (m, None, None),
                _ => return Err(ParseError::InvalidBody),
            }
        }
        Some(_) => {
            let fields: Vec<(String, String)> =
                serde_urlencoded::from_bytes(body).map_err(|_| ParseError::InvalidBody)?;
            let mut json_data = None;
            let (mut user, mut instance) = (None, None);
            for (k, v) in fields {
                match k.as_str() {
                    "jsonData" => json_data = Some(v),
                    "userID" => user = Some(v),
                    "instanceName" => instance = Some(v),
                    _ => {}
                }
            }
            let json_data = json_data.ok_or(ParseError::InvalidBody)?;
            match serde_json::from_str::<Value>(&json_data) {
                Ok(Value::Object(m)) => (m, user, instance),
                _ => return Err(ParseError::InvalidBody),
            }
        }
        None => return Err(ParseError::InvalidBody),
    };
    let (form_user, form_instance) = if may_hold_nul(body) {
        let mut v = Value::Object(std::mem::take(&mut object));
        scrub_nul(&mut v);
        if let Value::Object(m) = v {
            object = m;
        }
        (
            form_user.map(|s| s.replace('\0', NUL_REPLACEMENT)),
            form_instance.map(|s| s.replace('\0', NUL_REPLACEMENT)),
        )
    } else {
        (form_user, form_instance)
    };
    let kind = non_empty(object.get("type")).ok_or(ParseError::MissingType)?;
    if !matches!(
        object.get("event"),
        None | Some(Value::Null | Value::Object(_) | Value::String(_))
    ) {
        return Err(ParseError::InvalidEvent);
    }
    let user_id = form_user
        .filter(|s| !s.is_empty())
        .or_else(|| non_empty(object.get("userID")));
    let instance_name = form_instance
        .filter(|s| !s.is_empty())
        .or_else(|| non_empty(object.get("instanceName")));
    let token = non_empty(object.get("token"));
    object.remove("userID");
    object.remove("instanceName");
    Ok(WebhookEnvelope {
        kind,
        object,
        user_id,
        instance_name,
        token,
    })
}

/// What a U+0000 in a parsed value becomes: PostgreSQL `text` and `jsonb` cannot hold it, and
/// one such value used to fail the whole group-committed batch (500 for every event in it).
/// The received bytes are stored unchanged in `raw_data`.
const NUL_REPLACEMENT: &str = "\u{FFFD}";

/// Whether a body can decode to a string holding U+0000 (JSON `\u0000`, form `%00`, a raw 0).
/// One pass over the body for the bytes that can start one (it runs on every event).
fn may_hold_nul(body: &[u8]) -> bool {
    memchr::memchr3_iter(0, b'\\', b'%', body).any(|i| match body[i] {
        0 => true,
        b'\\' => body[i + 1..].starts_with(b"u0000"),
        _ => body[i + 1..].starts_with(b"00"),
    })
}

/// Replaces U+0000 in every string and key of `v`.
fn scrub_nul(v: &mut Value) {
    match v {
        Value::String(s) if s.contains('\0') => *s = s.replace('\0', NUL_REPLACEMENT),
        Value::Array(a) => a.iter_mut().for_each(scrub_nul),
        Value::Object(m) => {
            if m.keys().any(|k| k.contains('\0')) {
                *m = std::mem::take(m)
                    .into_iter()
                    .map(|(k, v)| (k.replace('\0', NUL_REPLACEMENT), v))
                    .collect();
            }
            m.values_mut().for_each(scrub_nul);
        }
        _ => {}
    }
}

/// Verifies `x-hmac-signature` (lowercase or uppercase hex of HMAC-SHA256 over the exact
/// bytes) in constant time.
pub fn verify_signature(key: &[u8], body: &[u8], signature_hex: &str) -> bool {
    let Ok(given) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return false;
    };
    mac.update(body);
    // `verify_slice` compares in constant time (`subtle`).
    mac.verify_slice(&given).is_ok()
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(n) => cur = n,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

/// The event identity of upstream.md §6.5, scoped by session (`scope`: the upstream userID or
/// token): `Message`/`MessageSent` by `Info.ID` + `Chat`; `ReadReceipt` by sorted `MessageIDs`,
/// `state` and `Sender`; anything else by a SHA-256 of the event object's canonical JSON.
pub fn dedup_key(scope: &str, env: &WebhookEnvelope) -> String {
    scoped_key(scope, &env.kind, &identity(env))
}

/// The unscoped identity of `dedup_key`.
fn identity(env: &WebhookEnvelope) -> String {
    match env.kind.as_str() {
        "Message" | "MessageSent" if !s(env.event(), &["Info", "ID"]).is_empty() => format!(
            "{}|{}",
            s(env.event(), &["Info", "ID"]),
            s(env.event(), &["Info", "Chat"])
        ),
        "ReadReceipt" if env.event().get("MessageIDs").is_some() => {
            let mut ids: Vec<&str> = env
                .event()
                .get("MessageIDs")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            ids.sort_unstable();
            format!(
                "{}|{}|{}",
                ids.join(","),
                env.top_str("state").unwrap_or(""),
                s(env.event(), &["Sender"])
            )
        }
        _ => {
            // serde_json's map is ordered, so this is canonical for equal content.
            let canon = serde_json::to_vec(&env.object).unwrap_or_default();
            hex::encode(Sha256::digest(&canon))
        }
    }
}

fn scoped_key(scope: &str, kind: &str, ident: &str) -> String {
    let raw = format!("{scope}|{kind}|{ident}");
    if raw.len() <= 200 {
        raw
    } else {
        format!(
            "{}|{}|h:{}",
            scope,
            kind,
            hex::encode(Sha256::digest(raw.as_bytes()))
        )
    }
}

/// What the intake stores of a webhook: the session identifiers, the event's identity and the
/// event as JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct IntakeEvent {
    pub kind: String,
    pub user_id: Option<String>,
    pub instance_name: Option<String>,
    pub token: Option<String>,
    /// The unscoped identity (`dedup_key`).
    ident: String,
    /// `event` as JSON text, stored as `jsonb`.
    pub event_json: String,
}

impl IntakeEvent {
    /// `dedup_key` of this event under `scope`.
    pub fn dedup_key(&self, scope: &str) -> String {
        scoped_key(scope, &self.kind, &self.ident)
    }
}

/// Parses a body for the intake. The common case, a JSON-envelope `Message`/`MessageSent` with
/// an id, is read without building the event's tree: its `event` is kept as the received text
/// and only `Info.ID`/`Chat` are read. Everything else goes through `parse_envelope`; both
/// give the same result.
pub fn parse_for_intake(body: &[u8]) -> Result<IntakeEvent, ParseError> {
    if let Some(fast) = fast_message(body) {
        return Ok(fast);
    }
    parse_envelope(body).map(IntakeEvent::from)
}

impl From<WebhookEnvelope> for IntakeEvent {
    fn from(env: WebhookEnvelope) -> Self {
        IntakeEvent {
            ident: identity(&env),
            event_json: env.event().to_string(),
            kind: env.kind,
            user_id: env.user_id,
            instance_name: env.instance_name,
            token: env.token,
        }
    }
}

/// The fast path of `parse_for_intake`; None where `parse_envelope` must decide.
fn fast_message(body: &[u8]) -> Option<IntakeEvent> {
    use serde::Deserialize;
    use serde_json::value::RawValue;
    use std::borrow::Cow;

    #[derive(Deserialize)]
    struct Top<'a> {
        #[serde(rename = "type", borrow)]
        kind: Cow<'a, str>,
        #[serde(borrow)]
        event: &'a RawValue,
        #[serde(rename = "userID", default, borrow)]
        user_id: Option<Cow<'a, str>>,
        #[serde(rename = "instanceName", default, borrow)]
        instance_name: Option<Cow<'a, str>>,
        #[serde(default, borrow)]
        token: Option<Cow<'a, str>>,
    }
    #[derive(Deserialize)]
    struct Event<'a> {
        #[serde(rename = "Info", borrow)]
        info: Info<'a>,
    }
    #[derive(Deserialize)]
    struct Info<'a> {
        #[serde(rename = "ID", borrow)]
        id: Cow<'a, str>,
        #[serde(rename = "Chat", default, borrow)]
        chat: Option<Cow<'a, str>>,
    }
    fn kept(v: Option<Cow<'_, str>>) -> Option<String> {
        v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') || may_hold_nul(body) {
        return None;
    }
    let top: Top<'_> = serde_json::from_slice(body).ok()?;
    let kind = top.kind.trim();
    if !matches!(kind, "Message" | "MessageSent") || !top.event.get().starts_with('{') {
        return None;
    }
    let event: Event<'_> = serde_json::from_str(top.event.get()).ok()?;
    if event.info.id.is_empty() {
        return None;
    }
    Some(IntakeEvent {
        kind: kind.to_string(),
        user_id: kept(top.user_id),
        instance_name: kept(top.instance_name),
        token: kept(top.token),
        ident: format!(
            "{}|{}",
            event.info.id,
            event.info.chat.as_deref().unwrap_or("")
        ),
        event_json: top.event.get().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"test-hmac-key-0123456789abcdef-0123";

    #[test]
    fn bodies_that_may_hold_a_nul_are_recognised() {
        for body in [
            &b"a\0b"[..],
            br#"{"x":"\u0000"}"#,
            br#"{"x":"ab\u0000"}"#,
            b"jsonData=%00",
            b"x=a%00",
            b"%00",
        ] {
            assert!(may_hold_nul(body), "{}", String::from_utf8_lossy(body));
        }
        for body in [
            &b""[..],
            br#"{"x":"u0000 00"}"#,
            br#"{"x":"\n\u0001","y":"\"}"#,
            b"x=%20%0A%0",
            b"x=100%",
            br#"{"x":"\u000"}"#,
        ] {
            assert!(!may_hold_nul(body), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn hmac_vectors_of_upstream_6_3() {
        let json = br#"{"event":{},"instanceName":"cs-team-1","type":"Connected","userID":"5f2b8c9d0e1a4b3c8d7e6f5a4b3c2d1e"}"#;
        assert!(verify_signature(
            KEY,
            json,
            "bea69dabb2f32d4166cba56c8dd312313e9377415b3e7386ae0a951aa34d1b69"
        ));
        let form = b"instanceName=cs-team-1&jsonData=%7B%22event%22%3A%7B%7D%2C%22type%22%3A%22Connected%22%7D&userID=5f2b8c9d0e1a4b3c8d7e6f5a4b3c2d1e";
        assert!(verify_signature(
            KEY,
            form,
            "2ccece7cf62205b581beeaccc50b82821a3afdbec5380a22f9902c0a81cfec76"
        ));
        assert!(!verify_signature(KEY, form, "00"));
        assert!(!verify_signature(KEY, form, "zz"));
        let e = parse_envelope(form).unwrap();
        assert_eq!(e.kind, "Connected");
        assert_eq!(
            e.user_id.as_deref(),
            Some("5f2b8c9d0e1a4b3c8d7e6f5a4b3c2d1e")
        );
        let e = parse_envelope(json).unwrap();
        assert_eq!(e.instance_name.as_deref(), Some("cs-team-1"));
    }

    #[test]
    fn refusals() {
        for b in [
            &b""[..],
            b"[]",
            b"{",
            b"\"x\"",
            b"{\"event\":{}}",
            b"{\"type\":\"Message\",\"event\":5}",
            b"a=b",
            b"jsonData=%5B%5D",
        ] {
            assert!(
                parse_envelope(b).is_err(),
                "{:?}",
                String::from_utf8_lossy(b)
            );
        }
        let e = parse_envelope(br#"{"type":"QR","event":"code"}"#).unwrap();
        assert_eq!(*e.event(), Value::String("code".into()));
    }

    /// The slow path's view of a body, as `parse_for_intake` answers it.
    fn slow(body: &[u8]) -> IntakeEvent {
        IntakeEvent::from(parse_envelope(body).unwrap())
    }

    fn same(fast: &IntakeEvent, slow: &IntakeEvent) {
        let parsed = |j: &str| serde_json::from_str::<Value>(j).unwrap();
        assert_eq!(parsed(&fast.event_json), parsed(&slow.event_json));
        let strip = |e: &IntakeEvent| IntakeEvent {
            event_json: String::new(),
            ..e.clone()
        };
        assert_eq!(strip(fast), strip(slow));
        assert_eq!(fast.dedup_key("scope"), slow.dedup_key("scope"));
    }

    #[test]
    fn the_intake_fast_path_reads_messages_as_the_envelope_parser_does() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upstream");
        let mut fast_taken = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            if v.get("type").is_none() {
                continue;
            }
            let body = serde_json::to_vec(&v).unwrap();
            let got = parse_for_intake(&body).unwrap();
            same(&got, &slow(&body));
            fast_taken += usize::from(fast_message(&body).is_some());
        }
        assert!(fast_taken >= 3, "the message fixtures take the fast path");

        // Padding, escapes and a key the parser trims; a long id hashed into the key.
        let long = "X".repeat(300);
        for body in [
            r#" {"type":" Message ","userID":" u1 ","instanceName":"","token":"t","event":{"Info":{"ID":"A\u0041","Chat":"c@s.whatsapp.net"},"n":1.50}}"#.to_string(),
            format!(r#"{{"type":"MessageSent","event":{{"Info":{{"ID":"{long}"}}}}}}"#),
        ] {
            let fast = fast_message(body.as_bytes()).expect("fast path");
            same(&fast, &slow(body.as_bytes()));
        }
        // What the fast path leaves to the envelope parser, which still answers.
        for body in [
            r#"{"type":"Message","event":{"Info":{"ID":""}}}"#,
            r#"{"type":"Message","event":{"Info":{"ID":5}}}"#,
            r#"{"type":"Message","event":{"Info":{"ID":"a"}},"type":"Message"}"#,
            r#"{"type":"Message","event":"text"}"#,
            r#"{"type":"Message","event":{"Info":{"ID":"a\u0000"}}}"#,
            r#"{"type":"Connected","event":{}}"#,
        ] {
            assert!(fast_message(body.as_bytes()).is_none(), "{body}");
            same(
                &parse_for_intake(body.as_bytes()).unwrap(),
                &slow(body.as_bytes()),
            );
        }
        assert!(parse_for_intake(b"{\"type\":\"Message\",\"event\":5}").is_err());
    }
}
