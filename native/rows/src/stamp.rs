//! Canh's canonical stamp (`2026-11-21T00:00:00.000Z`, canh.events.CANONICAL_STAMP) to epoch
//! milliseconds by integer arithmetic. Only stamps that are a real UTC time are read here; any
//! other text goes to the Python encoder, whose full parse decides it (a value or an error).

use canh_civil::{days_from_civil, days_in_month};
/// Epoch milliseconds of a 24-byte canonical stamp that names a real time, else None.
pub fn canonical_ms(b: &[u8]) -> Option<i64> {
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let mut n = 0i64;
        for &c in &b[from..to] {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + i64::from(c - b'0');
        }
        Some(n)
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second, milli) = (num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 23)?);
    // datetime's own ranges: year 1-9999, a day of that month, no leap second.
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 + milli)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_stamps() {
        assert_eq!(canonical_ms(b"1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            canonical_ms(b"2026-11-21T00:00:00.000Z"),
            Some(1_795_219_200_000)
        );
        assert_eq!(
            canonical_ms(b"2024-02-29T23:59:59.999Z"),
            Some(1_709_251_199_999)
        );
        assert_eq!(
            canonical_ms(b"0001-01-01T00:00:00.000Z"),
            Some(-62_135_596_800_000)
        );
        assert_eq!(canonical_ms(b"2023-02-29T00:00:00.000Z"), None);
        assert_eq!(canonical_ms(b"2026-11-21T00:00:60.000Z"), None);
        assert_eq!(canonical_ms(b"0000-01-01T00:00:00.000Z"), None);
        assert_eq!(canonical_ms(b"2026-11-21T24:00:00.000Z"), None);
    }
}
