//! Times as plans, warnings and drift reports show them (UTC).

/// `2027-01-03 14:05 UTC`.
pub fn minute(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| unix.to_string())
}

/// `2027-01-03`.
pub fn day(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| unix.to_string())
}
