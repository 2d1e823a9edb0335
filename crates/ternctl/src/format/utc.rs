//! Wall-clock times as UTC text.

use tern_engine::civil_time::civil_from_days;

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
