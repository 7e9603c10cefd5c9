//! Event time: the timestamps cloud audit records carry, to and from Unix
//! seconds. Scoring runs on event time only, never the wall clock, so the
//! same events give the same verdicts in every host.

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

/// Parses `YYYY-MM-DD[T ]hh:mm:ss[.fraction][Z|±hh:mm|±hhmm]` (no zone means
/// UTC) to Unix seconds. Fractions are dropped.
pub(crate) fn parse(text: &str) -> Option<i64> {
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
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
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
    Some(days * 86_400 + i64::from(h * 3600 + mi * 60 + s) - offset)
}

/// Formats Unix seconds as `YYYY-MM-DDThh:mm:ssZ`.
pub(crate) fn format(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
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
    fn formats_and_weekdays() {
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
