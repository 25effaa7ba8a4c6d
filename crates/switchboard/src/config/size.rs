//! Sizes in bytes as the config writes them ("16MiB", "512 KiB", "1GB",
//! or a plain number of bytes) and as messages print them ("16 MiB").
//!
//! Owns turning a size into a byte count with an error that shows the
//! accepted form, and the one way a size is printed. Range rules live in
//! `validate`.

use std::fmt;

/// How a size is written, for error messages.
const FORM: &str = r#"write a number of bytes or a number with a unit, e.g. "16MiB", "512KiB" or "1GB" (KiB/MiB/GiB are powers of 1024, KB/MB/GB of 1000)"#;

/// A number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// The size in bytes, as a `usize` (saturating on 32-bit targets).
    pub fn bytes(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

/// Prints the largest binary unit that divides the size exactly, else the
/// bytes: "16 MiB", "1536 KiB", "1000 bytes".
impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
        for (name, unit) in UNITS {
            if self.0 >= unit && self.0.is_multiple_of(unit) {
                return write!(f, "{} {name}", self.0 / unit);
            }
        }
        match self.0 {
            1 => f.write_str("1 byte"),
            n => write!(f, "{n} bytes"),
        }
    }
}

/// Parses "16MiB", "16 MiB", "1.5MiB", "512KiB", "1GB", "100B" or "1024".
/// Units are case-insensitive; the error says what was wrong and how to
/// write it instead.
pub(super) fn parse_size(text: &str) -> Result<ByteSize, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = (&trimmed[..split], trimmed[split..].trim());
    let bad = |why: String| format!("invalid size {text:?}: {why}; {FORM}");
    if number.is_empty() {
        return Err(bad("no number".into()));
    }
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" | "byte" | "bytes" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(bad(format!("unknown unit {unit:?}"))),
    };
    let bytes = if let Ok(whole) = number.parse::<u64>() {
        whole.checked_mul(multiplier)
    } else {
        let value: f64 = number
            .parse()
            .map_err(|_| bad(format!("{number:?} is not a number")))?;
        let bytes = (value * multiplier as f64).round();
        (bytes.is_finite() && bytes < u64::MAX as f64).then_some(bytes as u64)
    };
    bytes.map(ByteSize).ok_or_else(|| bad("too large".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse_size("16MiB"), Ok(ByteSize(16 << 20)));
        assert_eq!(parse_size(" 16 MiB "), Ok(ByteSize(16 << 20)));
        assert_eq!(parse_size("16mib"), Ok(ByteSize(16 << 20)));
        assert_eq!(parse_size("512KiB"), Ok(ByteSize(512 << 10)));
        assert_eq!(parse_size("1GiB"), Ok(ByteSize(1 << 30)));
        assert_eq!(parse_size("1.5MiB"), Ok(ByteSize(3 << 19)));
        assert_eq!(parse_size("2MB"), Ok(ByteSize(2_000_000)));
        assert_eq!(parse_size("100B"), Ok(ByteSize(100)));
        assert_eq!(parse_size("1024"), Ok(ByteSize(1024)));
    }

    #[test]
    fn rejects_unknown_units_and_junk_with_the_form() {
        let err = parse_size("16 megs").unwrap_err();
        assert!(
            err.starts_with(r#"invalid size "16 megs": unknown unit "megs"; "#),
            "{err}"
        );
        assert!(err.contains(r#"e.g. "16MiB""#), "{err}");
        let err = parse_size("MiB").unwrap_err();
        assert!(err.contains("no number"), "{err}");
        let err = parse_size("1.2.3MiB").unwrap_err();
        assert!(err.contains("is not a number"), "{err}");
        let err = parse_size("99999999999999999999GiB").unwrap_err();
        assert!(err.contains("too large"), "{err}");
    }

    #[test]
    fn prints_the_largest_exact_unit() {
        assert_eq!(ByteSize(16 << 20).to_string(), "16 MiB");
        assert_eq!(ByteSize(1536 << 10).to_string(), "1536 KiB");
        assert_eq!(ByteSize(1 << 30).to_string(), "1 GiB");
        assert_eq!(ByteSize(1000).to_string(), "1000 bytes");
        assert_eq!(ByteSize(1).to_string(), "1 byte");
    }
}
