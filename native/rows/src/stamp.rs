//! Canh's canonical stamp (`2026-11-21T00:00:00.000Z`, canh.events.CANONICAL_STAMP) to epoch
//! milliseconds by integer arithmetic. Only stamps that are a real UTC time are read here; any
//! other text goes to the Python encoder, whose full parse decides it (a value or an error).

use canh_civil::{decimal, iso_seconds};

/// Epoch milliseconds of a 24-byte canonical stamp that names a real time, else None.
pub fn canonical_ms(b: &[u8]) -> Option<i64> {
    if b.len() != 24 || b[19] != b'.' || b[23] != b'Z' {
        return None;
    }
    Some(iso_seconds(&b[..19])? * 1000 + decimal(&b[20..23])?)
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
