//! Timestamps and event ids, as `canh.collectors.winlog` and `canh.events` make them.

use blake2::digest::{Update, VariableOutput};
use blake2::Blake2bVar;
use canh_civil::iso_seconds;

/// `@timestamp` from an EVTX SystemTime (`_stamp`'s sliced form), or None when the Python
/// mapping must decide (any other shape goes through its full parser there).
pub fn stamp(value: &str) -> Option<String> {
    let b = value.as_bytes();
    if !value.is_ascii() || b.len() < 20 || b[b.len() - 1] != b'Z' || b[10] != b'T' || b[4] != b'-'
    {
        return None;
    }
    if b[19] == b'.' {
        let frac = &value[20..value.len() - 1];
        if frac.is_empty() || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let mut out = String::with_capacity(24);
        out.push_str(&value[..19]);
        out.push('.');
        let keep = &frac[..frac.len().min(3)];
        out.push_str(keep);
        for _ in keep.len()..3 {
            out.push('0');
        }
        out.push('Z');
        return Some(out);
    }
    if b.len() == 20 {
        return Some(format!("{}.000Z", &value[..19]));
    }
    None
}

/// Whole UTC seconds of a canonical `YYYY-MM-DDTHH:MM:SS[...]Z` stamp with a real date and time,
/// as `_epoch_seconds` reads it (only the first 19 characters count); None for anything else.
pub fn epoch_seconds(value: &str) -> Option<i64> {
    let b = value.as_bytes();
    if !value.is_ascii() || b.len() < 20 || b[b.len() - 1] != b'Z' {
        return None;
    }
    iso_seconds(&b[..19])
}

/// 16 hex digits of BLAKE2b with an 8-byte digest (hashlib.blake2b(digest_size=8).hexdigest()).
pub fn blake8_hex(data: &[u8]) -> String {
    let mut h = Blake2bVar::new(8).expect("8 is a valid BLAKE2b digest size");
    h.update(data);
    let mut out = [0u8; 8];
    h.finalize_variable(&mut out).expect("output is 8 bytes");
    hex(&out)
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_as_winlog_slices_them() {
        assert_eq!(
            stamp("2019-04-27T15:57:25.868863Z").unwrap(),
            "2019-04-27T15:57:25.868Z"
        );
        assert_eq!(
            stamp("2019-04-27T15:57:25.8Z").unwrap(),
            "2019-04-27T15:57:25.800Z"
        );
        assert_eq!(
            stamp("2019-04-27T15:57:25Z").unwrap(),
            "2019-04-27T15:57:25.000Z"
        );
        assert!(stamp("2019-04-27T15:57:25.Z").is_none());
        assert!(stamp("2019-04-27 15:57:25Z").is_none());
    }

    #[test]
    fn epoch_of_real_dates_only() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_seconds("2020-02-29T13:18:23.5Z"), Some(1_582_982_303));
        assert_eq!(epoch_seconds("2020-02-30T13:18:23Z"), None);
        assert_eq!(epoch_seconds("2020-09-09T13:18:60Z"), None);
        assert_eq!(epoch_seconds("0001-01-01T00:00:00Z"), Some(-62_135_596_800));
    }

    #[test]
    fn blake_matches_hashlib() {
        // hashlib.blake2b(b"abc", digest_size=8).hexdigest()
        assert_eq!(blake8_hex(b"abc"), "d8bb14d833d59559");
    }
}
