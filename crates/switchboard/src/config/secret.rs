//! `Secret`: a string that must never be printed (bot tokens, later API keys).
//!
//! Owns the one rule for secrets: `Debug` and `Display` print `<redacted>`, and
//! the only way to the value is the explicit [`Secret::expose`]. It must never
//! implement a serialisation that writes the value.

use std::fmt;

/// What a secret prints as, everywhere.
pub const REDACTED: &str = "<redacted>";

/// A secret string. Clone it freely; print it never.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The value itself, for the one place that must send it (e.g. an
    /// `Authorization` header). Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let secret = Secret::new("MTIzNDU2.hunter2.token".to_owned());
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(format!("{secret:#?}"), "<redacted>");
        assert_eq!(secret.expose(), "MTIzNDU2.hunter2.token");
    }

    #[test]
    fn redacted_inside_containers() {
        let wrapped = Some(vec![Secret::new("hunter2-token".to_owned())]);
        let printed = format!("{wrapped:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
    }
}
