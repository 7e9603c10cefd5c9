//! Event time: the timestamps cloud audit records carry, to and from Unix
//! time. Scoring runs on event time only, never the wall clock, so the same
//! events give the same verdicts in every host.
//!
//! Public so that every host reads and writes times the way the engine does:
//! the playground places an event on its timeline at the second the engine
//! scored it at, and the benchmark event generator writes times the engine
//! reads.
//!
//! ```
//! use modwatch_engine::time;
//!
//! assert_eq!(time::parse("2024-08-01T14:28:02.250+02:00"), Some(1_722_515_282));
//! assert_eq!(time::parse_millis("2024-08-01T14:28:02.250+02:00"), Some(1_722_515_282_250));
//! assert_eq!(time::format_rfc3339(1_722_515_282), "2024-08-01T12:28:02Z");
//! // Other layouts from the parts: STS writes `Aug 1, 2024, 12:28:02 PM`.
//! let t = time::utc(1_722_515_282);
//! assert_eq!((t.year, t.month, t.day, t.hour), (2024, 8, 1, 12));
//! assert_eq!(format!("{t}.000Z"), "2024-08-01T12:28:02.000Z");
//! ```

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (`civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u32, |n, &b| n.checked_mul(10)?.checked_add(u32::from(b - b'0')))
}

/// Parses an event time to Unix seconds: `YYYY-MM-DD[T ]hh:mm:ss`, then an
/// optional fraction (dropped) and zone (`Z`, `±hh:mm`, `±hhmm` or `±hh`; none
/// means UTC), with spaces around it ignored. These are the times the clouds
/// write (CloudTrail `eventTime`, Azure `time`, GCP `timestamp`); anything
/// else is `None`. Years 0000 to 9999, so the result lies within ±2^40.
pub fn parse(text: &str) -> Option<i64> {
    parse_parts(text).map(|(secs, _)| secs)
}

/// Parses an event time as [`parse`] does, to Unix milliseconds: the first
/// three digits of the fraction are kept, later ones dropped.
pub fn parse_millis(text: &str) -> Option<i64> {
    parse_parts(text).map(|(secs, millis)| secs * 1000 + i64::from(millis))
}

/// Unix seconds and the milliseconds of the fraction.
fn parse_parts(text: &str) -> Option<(i64, u32)> {
    let b = text.trim().as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (h, mi, s) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        // Digits only here: `- b'0'` cannot underflow.
        millis = frac[..n].iter().chain(b"000").take(3).fold(0, |m, &c| m * 10 + u32::from(c - b'0'));
        rest = &frac[n..];
    }
    let offset = match rest {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), zone @ ..] => {
            let (oh, om) = match zone {
                [a, b, b':', c, d] | [a, b, c, d] => (digits(&[*a, *b])?, digits(&[*c, *d])?),
                [a, b] => (digits(&[*a, *b])?, 0),
                _ => return None,
            };
            let secs = i64::from(oh * 3600 + om * 60);
            if *sign == b'+' { secs } else { -secs }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(y), mo, d);
    Some((days * 86_400 + i64::from(h * 3600 + mi * 60 + s) - offset, millis))
}

/// Formats Unix seconds as an RFC 3339 UTC time, `YYYY-MM-DDThh:mm:ssZ`, as
/// alerts carry it.
pub fn format_rfc3339(secs: i64) -> String {
    format!("{}Z", utc(secs))
}

/// A Unix time as a UTC date and time of day (proleptic Gregorian calendar).
/// Its `Display` is RFC 3339 without the zone, `YYYY-MM-DDThh:mm:ss`, so that
/// a fraction or a zone can follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    /// The year (astronomical: 0 is 1 BC).
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// 0 to 59.
    pub second: u32,
}

/// The UTC date and time of day of Unix seconds.
pub fn utc(secs: i64) -> Utc {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400) as u32);
    let (year, month, day) = civil_from_days(days);
    Utc { year, month, day, hour: rem / 3600, minute: rem % 3600 / 60, second: rem % 60 }
}

impl std::fmt::Display for Utc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Utc { year, month, day, hour, minute, second } = self;
        write!(f, "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}")
    }
}

/// Day of the week of Unix seconds, 0 = Monday.
pub(crate) fn weekday(secs: i64) -> u32 {
    // 1970-01-01 was a Thursday (3).
    ((secs.div_euclid(86_400) + 3).rem_euclid(7)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_clouds_write() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse("2024-08-01T12:28:02Z"), Some(1_722_515_282));
        assert_eq!(parse("2021-10-29 23:50:09"), Some(1_635_551_409));
        assert_eq!(parse("2019-10-24T00:13:46.3554289Z"), Some(1_571_876_026));
        assert_eq!(parse("2024-08-01T14:28:02+02:00"), Some(1_722_515_282));
        assert_eq!(parse("2024-08-01T10:28:02-0200"), Some(1_722_515_282));
        assert_eq!(parse("2024-02-29T00:00:00.000Z"), Some(1_709_164_800));
        for bad in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-08-01T12:28:02Q",
            "2024-08-01T12:28",
            "2024-08-01T12:28:02.",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn millis_keep_three_digits_of_the_fraction() {
        let cases = [
            ("2024-08-01T12:28:02Z", Some(1_722_515_282_000)),
            ("2024-08-01T12:28:02.5Z", Some(1_722_515_282_500)),
            ("2024-08-01T12:28:02.25+00:00", Some(1_722_515_282_250)),
            ("2019-10-24T00:13:46.3554289Z", Some(1_571_876_026_355)),
            ("1969-12-31T23:59:59.5Z", Some(-500)),
            ("2024-08-01 12:28:02.123", Some(1_722_515_282_123)),
            ("2024-08-01T12:28:02.Z", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_millis(text), want, "{text}");
        }
    }

    #[test]
    fn utc_parts() {
        let u = |year, month, day, hour, minute, second| Utc { year, month, day, hour, minute, second };
        assert_eq!(utc(0), u(1970, 1, 1, 0, 0, 0));
        assert_eq!(utc(951_782_400), u(2000, 2, 29, 0, 0, 0));
        assert_eq!(utc(1_740_988_800 + 3600 * 5 + 61), u(2025, 3, 3, 13, 1, 1));
        assert_eq!(utc(-1), u(1969, 12, 31, 23, 59, 59));
        assert_eq!(utc(253_402_300_799).to_string(), "9999-12-31T23:59:59");
        assert_eq!(utc(-62_167_219_200).to_string(), "0000-01-01T00:00:00");
    }

    #[test]
    fn formats_and_weekdays() {
        let format = format_rfc3339;
        assert_eq!(format(1_722_515_282), "2024-08-01T12:28:02Z");
        assert_eq!(format(-1), "1969-12-31T23:59:59Z");
        assert_eq!(weekday(0), 3);
        assert_eq!(weekday(parse("2026-11-26T12:00:00Z").unwrap_or(0)), 3);
        assert_eq!(weekday(parse("2026-11-30T00:00:00Z").unwrap_or(0)), 0);
        for t in [0, 1_000_000_007, 4_102_444_800, -86_400 * 400] {
            assert_eq!(parse(&format(t)), Some(t));
        }
    }
}
