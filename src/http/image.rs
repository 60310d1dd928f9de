//! Fetching an image URL safely (defect 9): http(s) only, every resolved address must be
//! public (checked again on each redirect, and the connection pinned to the checked address),
//! a size cap read incrementally, a time limit, and the bytes must be PNG, JPEG, GIF or WebP.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use base64::Engine;
use futures_util::StreamExt;

use crate::startup::AppState;

const MAX_REDIRECTS: usize = 3;

/// Why an image could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("only http and https URLs are allowed")]
    Scheme,
    #[error("invalid URL")]
    Url,
    #[error("host resolves to a non-public address")]
    Forbidden,
    #[error("host cannot be resolved")]
    Resolve,
    #[error("failed to download image: HTTP {0}")]
    Status(u16),
    #[error("failed to download image: {0}")]
    Transport(String),
    #[error("image larger than {0} bytes")]
    TooLarge(usize),
    #[error("too many redirects")]
    Redirects,
    #[error("download timed out")]
    Timeout,
    #[error("content is not a PNG, JPEG, GIF or WebP image")]
    NotImage,
    #[error("invalid base64 data")]
    Base64,
}

/// The image type from the first bytes.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Whether an address is public (not loopback, private, link-local, multicast, unspecified,
/// carrier-grade NAT, documentation, ULA or the metadata range).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

/// Validates a base64 image (raw or a `data:` URI) and returns a `data:` URI.
pub fn data_uri_from_base64(value: &str) -> Result<String, ImageError> {
    let raw = match value.strip_prefix("data:") {
        Some(rest) => rest
            .split_once(";base64,")
            .map(|(_, b)| b)
            .ok_or(ImageError::Base64)?,
        None => value,
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .map_err(|_| ImageError::Base64)?;
    let mime = sniff(&bytes).ok_or(ImageError::NotImage)?;
    Ok(format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    ))
}

async fn resolve_checked(url: &url::Url, allow_loopback: bool) -> Result<SocketAddr, ImageError> {
    let host = url.host_str().ok_or(ImageError::Url)?;
    let port = url.port_or_known_default().ok_or(ImageError::Url)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| ImageError::Resolve)?
        .collect();
    if addrs.is_empty() {
        return Err(ImageError::Resolve);
    }
    let ok = |a: &SocketAddr| is_public(a.ip()) || (allow_loopback && a.ip().is_loopback());
    if !addrs.iter().all(ok) {
        return Err(ImageError::Forbidden);
    }
    Ok(addrs[0])
}

/// Downloads an image URL under the rules above and returns a `data:` URI.
pub async fn fetch_as_data_uri(state: &AppState, url: &str) -> Result<String, ImageError> {
    let settings = &state.settings;
    fetch(
        url,
        settings.image_max_bytes,
        settings.image_fetch_timeout,
        settings.image_allow_loopback,
    )
    .await
}

/// The fetch itself, independent of the app state.
pub async fn fetch(
    url: &str,
    max_bytes: usize,
    timeout: Duration,
    allow_loopback: bool,
) -> Result<String, ImageError> {
    tokio::time::timeout(timeout, fetch_inner(url, max_bytes, allow_loopback))
        .await
        .map_err(|_| ImageError::Timeout)?
}

async fn fetch_inner(
    url: &str,
    max_bytes: usize,
    allow_loopback: bool,
) -> Result<String, ImageError> {
    let mut current = url::Url::parse(url).map_err(|_| ImageError::Url)?;
    for _ in 0..=MAX_REDIRECTS {
        if !matches!(current.scheme(), "http" | "https") {
            return Err(ImageError::Scheme);
        }
        let addr = resolve_checked(&current, allow_loopback).await?;
        let host = current.host_str().ok_or(ImageError::Url)?.to_string();
        // Pin the connection to the address that was checked (no second DNS answer).
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve(&host, addr)
            .build()
            .map_err(|e| ImageError::Transport(e.to_string()))?;
        let resp = client
            .get(current.clone())
            .send()
            .await
            .map_err(|e| ImageError::Transport(short(&e)))?;
        let status = resp.status();
        if status.is_redirection() {
            let loc = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .ok_or(ImageError::Status(status.as_u16()))?;
            current = current.join(loc).map_err(|_| ImageError::Url)?;
            continue;
        }
        if status.as_u16() != 200 {
            return Err(ImageError::Status(status.as_u16()));
        }
        if resp
            .content_length()
            .is_some_and(|n| n as usize > max_bytes)
        {
            return Err(ImageError::TooLarge(max_bytes));
        }
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ImageError::Transport(short(&e)))?;
            if body.len() + chunk.len() > max_bytes {
                return Err(ImageError::TooLarge(max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        let mime = sniff(&body).ok_or(ImageError::NotImage)?;
        return Ok(format!(
            "data:{mime};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&body)
        ));
    }
    Err(ImageError::Redirects)
}

fn short(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection failed".into()
    } else if e.is_timeout() {
        "timed out".into()
    } else {
        "transport error".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_ranges_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "172.32.0.1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn sniffing() {
        assert_eq!(
            sniff(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0]),
            Some("image/png")
        );
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"<html><body>"), None);
        assert!(data_uri_from_base64("PGh0bWw+").is_err());
        assert!(data_uri_from_base64("not base64!").is_err());
    }

    #[tokio::test]
    async fn loopback_and_private_urls_are_refused() {
        for u in [
            "http://127.0.0.1/x.png",
            "http://localhost/x.png",
            "http://10.0.0.1/x.png",
            "http://[::1]/x.png",
            "http://169.254.169.254/latest",
            "ftp://example.com/x.png",
            "file:///etc/passwd",
        ] {
            assert!(
                fetch(u, 1024, Duration::from_secs(2), false).await.is_err(),
                "{u}"
            );
        }
    }
}
