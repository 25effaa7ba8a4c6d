//! Ordering message ids across platforms.
//!
//! Platforms hand out ids that are ordered by value but arrive as text:
//! Discord snowflakes are unsigned integers of varying digit count ("99" is
//! older than "100"), Slack message ts are decimals ("1700000000.000100").
//! Text comparison gets the first wrong, so the store keeps, beside each id
//! whose order matters, a key from [`id_order_key`]: fixed-width text that
//! compares bytewise exactly as the ids compare by value. The database can
//! then order and compare keys itself (`ORDER BY id_key`, `WHERE id_key <
//! ...`) with no numeric parsing in SQL. This file must never change the key
//! format of ids already stored without a migration that rewrites them.

use std::cmp::Ordering;

/// Digits kept for the integer part (u64 has 20; room to spare).
const INT_WIDTH: usize = 32;
/// Digits kept for the fraction (Slack uses 6).
const FRAC_WIDTH: usize = 16;

/// A key that sorts like the id's numeric value.
///
/// - `digits` (Discord snowflake): left-padded with zeros to 32 digits.
/// - `digits.digits` (Slack ts): integer part as above, then `.` and the
///   fraction right-padded with zeros to 16 digits. An integer id sorts just
///   before the decimals of the same integer part ("5" < "5.1" < "6").
/// - anything else (or longer than the widths above): the id itself, which
///   then compares as plain text.
///
/// Keys of one platform compare correctly among themselves; the function
/// needs no platform because each platform sticks to one id format.
pub fn id_order_key(id: &str) -> String {
    let (int, frac) = match id.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (id, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let fits = int.len() <= INT_WIDTH && frac.is_none_or(|f| f.len() <= FRAC_WIDTH);
    if !digits(int) || !frac.is_none_or(digits) || !fits {
        return id.to_owned();
    }
    let mut key = String::with_capacity(INT_WIDTH + 1 + FRAC_WIDTH);
    key.extend(std::iter::repeat_n('0', INT_WIDTH - int.len()));
    key.push_str(int);
    if let Some(frac) = frac {
        key.push('.');
        key.push_str(frac);
        key.extend(std::iter::repeat_n('0', FRAC_WIDTH - frac.len()));
    }
    key
}

/// Compare two ids of the same platform by value (older first).
pub fn id_cmp(a: &str, b: &str) -> Ordering {
    id_order_key(a).cmp(&id_order_key(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snowflakes_compare_by_value() {
        assert_eq!(id_cmp("99", "100"), Ordering::Less);
        assert_eq!(
            id_cmp("1175928471234567890", "999999999999999999"),
            Ordering::Greater
        );
        assert_eq!(
            id_cmp("18446744073709551615", "18446744073709551614"),
            Ordering::Greater
        );
        assert_eq!(id_cmp("42", "42"), Ordering::Equal);
    }

    #[test]
    fn slack_ts_compare_by_value() {
        assert_eq!(
            id_cmp("1700000000.000100", "1700000000.000099"),
            Ordering::Greater
        );
        assert_eq!(
            id_cmp("1700000000.000100", "1700000001.000000"),
            Ordering::Less
        );
        assert_eq!(id_cmp("999999999.9", "1000000000.1"), Ordering::Less);
        assert_eq!(id_cmp("5", "5.1"), Ordering::Less);
        assert_eq!(id_cmp("5.1", "6"), Ordering::Less);
    }

    #[test]
    fn keys_have_a_fixed_width() {
        assert_eq!(id_order_key("7").len(), INT_WIDTH);
        assert_eq!(
            id_order_key("1700000000.000100").len(),
            INT_WIDTH + 1 + FRAC_WIDTH
        );
    }

    #[test]
    fn other_ids_are_their_own_key() {
        for id in ["abc", "", ".5", "5.", "1.2.3", "-1", "١٢"] {
            assert_eq!(id_order_key(id), id);
        }
        let long = "1".repeat(INT_WIDTH + 1);
        assert_eq!(id_order_key(&long), long);
    }
}
