//! Wall-clock times as UTC text.

/// Milliseconds since the Unix epoch as `2026-11-23 18:20:01Z` (UTC).
pub fn utc_time_secs(unix_ms: u64) -> String {
    let exact = utc_time(unix_ms);
    format!("{}Z", &exact[..exact.len() - ".123Z".len()])
}

/// Milliseconds since the Unix epoch as `2026-11-23 18:20:01.123Z` (UTC).
pub fn utc_time(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        unix_ms % 1000
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days` algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00.000Z");
        // 2000-02-29 (a leap day) 12:34:56.789
        assert_eq!(utc_time(951_827_696_789), "2000-02-29 12:34:56.789Z");
        assert_eq!(utc_time(1_795_437_601_005), "2026-11-23 12:40:01.005Z");
    }
}
