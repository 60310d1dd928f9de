//! `send_sync` and `timezone` of `POST /bulk/campaign/execute` (contract §7.3, defect 12).

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// When a campaign is to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendAt {
    Now,
    At {
        instant: DateTime<Utc>,
        timezone: String,
    },
}

/// A time zone: a fixed offset or an IANA zone.
#[derive(Debug, Clone, Copy)]
pub enum Zone {
    Fixed(FixedOffset),
    Iana(Tz),
}

/// The hour a date-only `send_sync` starts at.
pub const DEFAULT_HOUR: u32 = 9;

/// Parses `±HH:MM`, `±HHMM`, `±HH`, `UTC`/`Z` or an IANA name. `Local` is refused: it would
/// expose the server's zone.
pub fn parse_zone(raw: &str) -> Option<Zone> {
    let s = raw.trim();
    if s.eq_ignore_ascii_case("utc") || s == "Z" {
        return Some(Zone::Fixed(FixedOffset::east_opt(0)?));
    }
    if let Some(rest) = s
        .strip_prefix('+')
        .map(|r| (1, r))
        .or_else(|| s.strip_prefix('-').map(|r| (-1, r)))
    {
        let (sign, digits) = rest;
        let digits: String = digits.chars().filter(|c| *c != ':').collect();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (h, m) = match digits.len() {
            2 => (digits.parse::<i32>().ok()?, 0),
            4 => (
                digits[..2].parse::<i32>().ok()?,
                digits[2..].parse::<i32>().ok()?,
            ),
            _ => return None,
        };
        if h > 14 || m > 59 {
            return None;
        }
        return FixedOffset::east_opt(sign * (h * 3600 + m * 60)).map(Zone::Fixed);
    }
    if s.eq_ignore_ascii_case("local") {
        return None;
    }
    s.parse::<Tz>().ok().map(Zone::Iana)
}

impl Zone {
    fn resolve(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self {
            Zone::Fixed(o) => o
                .from_local_datetime(&local)
                .earliest()
                .map(|d| d.with_timezone(&Utc)),
            // In a DST gap the next valid instant is taken by shifting one hour.
            Zone::Iana(tz) => tz
                .from_local_datetime(&local)
                .earliest()
                .or_else(|| {
                    tz.from_local_datetime(&(local + Duration::hours(1)))
                        .earliest()
                })
                .map(|d| d.with_timezone(&Utc)),
        }
    }

    fn now_local(&self, now: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Zone::Fixed(o) => now.with_timezone(o).naive_local(),
            Zone::Iana(tz) => now.with_timezone(tz).naive_local(),
        }
    }

    /// The start of the local day holding `now` and the start of the next one (a daily cap's
    /// window). A day whose midnight falls in a DST gap starts at the first valid instant.
    pub fn day_bounds(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let today = self.now_local(now).date();
        let start = |d: NaiveDate| {
            self.resolve(d.and_time(NaiveTime::MIN))
                .unwrap_or(now - Duration::hours(24))
        };
        let tomorrow = today.succ_opt().unwrap_or(today);
        (start(today), start(tomorrow))
    }
}

const DATETIME_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%d/%m/%Y %H:%M",
    "%d-%m-%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
];

/// Parses `send_sync` with an optional `timezone` (falling back to `default_zone`).
/// Accepted: `now`/`sekarang`; the reference's date-time forms; ISO with `T`; RFC 3339 with
/// its own offset; date only (09:00); time only (today, or tomorrow if already past).
pub fn parse_send_sync(
    send_sync: &str,
    timezone: Option<&str>,
    default_zone: &str,
    now: DateTime<Utc>,
) -> Result<SendAt, String> {
    let value = send_sync.trim();
    if value.is_empty() {
        return Err("send_sync is required".into());
    }
    if value.eq_ignore_ascii_case("now") || value.eq_ignore_ascii_case("sekarang") {
        return Ok(SendAt::Now);
    }
    let tz_name = timezone
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or(default_zone);
    let zone = parse_zone(tz_name).ok_or_else(|| {
        format!("invalid timezone '{tz_name}' (use e.g. '+07:00', '-0500' or 'Asia/Jakarta')")
    })?;

    let instant = if let Ok(dt) = DateTime::parse_from_rfc3339(value) {
        dt.with_timezone(&Utc)
    } else if let Some(local) = DATETIME_FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
    {
        zone.resolve(local)
            .ok_or("time does not exist in that timezone")?
    } else if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(value, "%d/%m/%Y"))
        .or_else(|_| NaiveDate::parse_from_str(value, "%d-%m-%Y"))
    {
        let at = NaiveTime::from_hms_opt(DEFAULT_HOUR, 0, 0).ok_or("bad default hour")?;
        zone.resolve(date.and_time(at))
            .ok_or("time does not exist in that timezone")?
    } else if let Ok(time) = NaiveTime::parse_from_str(value, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(value, "%H:%M"))
    {
        let today = zone.now_local(now).date();
        let candidate = zone
            .resolve(today.and_time(time))
            .ok_or("time does not exist in that timezone")?;
        if candidate > now {
            candidate
        } else {
            let tomorrow = today.succ_opt().ok_or("date out of range")?;
            zone.resolve(tomorrow.and_time(time))
                .ok_or("time does not exist in that timezone")?
        }
    } else {
        return Err(format!(
            "unrecognised send_sync '{value}' (use 'now', 'YYYY-MM-DD HH:MM[:SS]', 'YYYY-MM-DDTHH:MM:SS', 'DD/MM/YYYY HH:MM', a date or a time)"
        ));
    };
    if instant <= now {
        let local = zone.now_local(now);
        return Err(format!(
            "scheduled time must be in the future (current time in {tz_name}: {})",
            local.format("%Y-%m-%d %H:%M:%S")
        ));
    }
    Ok(SendAt::At {
        instant,
        timezone: tz_name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-10-08T08:30:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn at(s: &str, tz: Option<&str>) -> DateTime<Utc> {
        match parse_send_sync(s, tz, "UTC", now()).unwrap() {
            SendAt::At { instant, .. } => instant,
            SendAt::Now => panic!("now"),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn now_forms() {
        assert_eq!(
            parse_send_sync(" NOW ", None, "UTC", now()),
            Ok(SendAt::Now)
        );
        assert_eq!(
            parse_send_sync("sekarang", None, "UTC", now()),
            Ok(SendAt::Now)
        );
    }

    #[test]
    fn reference_forms_with_offsets_and_zones() {
        assert_eq!(
            at("2025-10-10 09:00:00", Some("+07:00")),
            utc("2025-10-10T02:00:00Z")
        );
        assert_eq!(
            at("2025-10-10 09:00", Some("Asia/Jakarta")),
            utc("2025-10-10T02:00:00Z")
        );
        assert_eq!(
            at("10/10/2025 09:00", Some("+0700")),
            utc("2025-10-10T02:00:00Z")
        );
        assert_eq!(
            at("10-10-2025 09:00", Some("-05:00")),
            utc("2025-10-10T14:00:00Z")
        );
    }

    #[test]
    fn documented_forms() {
        assert_eq!(
            at("2025-10-10T09:00:00", Some("+07:00")),
            utc("2025-10-10T02:00:00Z")
        );
        assert_eq!(
            at("2025-10-10", Some("+07:00")),
            utc("2025-10-10T02:00:00Z")
        );
        // time only: 10:00 UTC today is still ahead of 08:30
        assert_eq!(at("10:00", None), utc("2025-10-08T10:00:00Z"));
        // 08:00 has passed: tomorrow
        assert_eq!(at("08:00", None), utc("2025-10-09T08:00:00Z"));
        assert_eq!(
            at("2025-10-10T09:00:00+07:00", None),
            utc("2025-10-10T02:00:00Z")
        );
    }

    #[test]
    fn refusals() {
        assert!(
            parse_send_sync("2020-01-01 00:00", Some("UTC"), "UTC", now())
                .unwrap_err()
                .contains("future")
        );
        assert!(parse_send_sync("tomorrow-ish", None, "UTC", now()).is_err());
        assert!(parse_send_sync("2025-10-10 09:00", Some("Mars/Olympus"), "UTC", now()).is_err());
        assert!(parse_send_sync("2025-10-10 09:00", Some("Local"), "UTC", now()).is_err());
        assert!(parse_send_sync("2025-10-10 09:00", Some("+15:00"), "UTC", now()).is_err());
    }

    #[test]
    fn day_bounds_follow_the_zone() {
        let now = Utc.with_ymd_and_hms(2026, 3, 29, 22, 30, 0).unwrap();
        let jakarta = parse_zone("Asia/Jakarta").unwrap();
        let (a, b) = jakarta.day_bounds(now);
        assert_eq!(a, Utc.with_ymd_and_hms(2026, 3, 29, 17, 0, 0).unwrap());
        assert_eq!(b, Utc.with_ymd_and_hms(2026, 3, 30, 17, 0, 0).unwrap());
        // Europe/Berlin switched to summer time on 2026-03-29: that day is 23 hours long.
        let berlin = parse_zone("Europe/Berlin").unwrap();
        let (a, b) = berlin.day_bounds(Utc.with_ymd_and_hms(2026, 3, 29, 12, 0, 0).unwrap());
        assert_eq!(a, Utc.with_ymd_and_hms(2026, 3, 28, 23, 0, 0).unwrap());
        assert_eq!(b - a, Duration::hours(23));
        let utc = parse_zone("UTC").unwrap();
        assert_eq!(
            utc.day_bounds(now).0,
            Utc.with_ymd_and_hms(2026, 3, 29, 0, 0, 0).unwrap()
        );
    }
}
