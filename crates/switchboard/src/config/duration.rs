//! Human-readable durations in the config ("500ms", "10s", "5m", "1h 30m").
//!
//! Owns turning a duration string into a `Duration` with an error that shows
//! the accepted form. Range rules (non-zero, ordering) live in `validate`.

use std::time::Duration;

/// How a duration is written, for error messages.
const FORM: &str = r#"write a number with a unit, e.g. "500ms", "10s", "5m" or "1h 30m""#;

/// Parses a humantime duration. The error says what was wrong and how to
/// write it instead.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|err| format!("invalid duration {text:?}: {err}; {FORM}"))
}

/// Formats a duration the way the config file writes it (for messages).
pub(super) fn format_duration(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration(" 2s "), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_missing_or_unknown_units() {
        let err = parse_duration("10").unwrap_err();
        assert!(err.starts_with(r#"invalid duration "10": "#), "{err}");
        assert!(err.contains(r#"e.g. "500ms", "10s""#), "{err}");
        let err = parse_duration("5 parsecs").unwrap_err();
        assert!(err.contains("parsecs"), "{err}");
        let err = parse_duration("").unwrap_err();
        assert!(err.starts_with(r#"invalid duration "": "#), "{err}");
    }

    #[test]
    fn formats_back() {
        assert_eq!(format_duration(Duration::from_secs(90)), "1m 30s");
    }
}
