//! The access log stamp `21/Nov/2026:00:34:08 +0700` to Canh's `2026-11-20T17:34:08.000Z`, as
//! weblogs._access_ts computes it for that exact layout. Other spellings (no zone, GMT, localised
//! months) depend on the source's zone and are left to Python.

use canh_civil::{civil_from_days, days_from_civil, days_in_month, decimal};

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// The UTC stamp of `dd/Mon/yyyy:HH:MM:SS +hhmm` (26 bytes), or None for any other text and for
/// dates Python would refuse (it then raises its own error for the line).
pub fn utc_stamp(t: &[u8]) -> Option<[u8; 24]> {
    if t.len() != 26
        || t[2] != b'/'
        || t[6] != b'/'
        || t[11] != b':'
        || t[14] != b':'
        || t[17] != b':'
        || t[20] != b' '
        || !(t[21] == b'+' || t[21] == b'-')
    {
        return None;
    }
    let day = decimal(&t[0..2])?;
    let month = MONTHS.iter().position(|m| &t[3..6] == *m)? as i64 + 1;
    let year = decimal(&t[7..11])?;
    let (hh, mm, ss) = (
        decimal(&t[12..14])?,
        decimal(&t[15..17])?,
        decimal(&t[18..20])?,
    );
    let (oh, om) = (decimal(&t[22..24])?, decimal(&t[24..26])?);
    // Years at the ends of datetime's range could leave it once moved to UTC (OverflowError in
    // Python); an offset's minutes past 59 are read by timedelta as more hours: both left to Python.
    if !(2..=9998).contains(&year)
        || day < 1
        || day > days_in_month(year, month)
        || hh > 23
        || mm > 59
        || ss > 59
        || oh > 23
        || om > 59
    {
        return None;
    }
    let offset = (oh * 3600 + om * 60) * if t[21] == b'+' { 1 } else { -1 };
    let secs = days_from_civil(year, month, day) * 86_400 + hh * 3600 + mm * 60 + ss - offset;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let put = |out: &mut [u8; 24], at: usize, n: i64, width: usize| {
        let mut n = n;
        for i in (0..width).rev() {
            out[at + i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(&mut out, 0, y, 4);
    put(&mut out, 5, m, 2);
    put(&mut out, 8, d, 2);
    put(&mut out, 11, rest / 3600, 2);
    put(&mut out, 14, rest / 60 % 60, 2);
    put(&mut out, 17, rest % 60, 2);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str) -> Option<String> {
        utc_stamp(t.as_bytes()).map(|b| String::from_utf8(b.to_vec()).unwrap())
    }

    #[test]
    fn stamps() {
        assert_eq!(
            s("21/Nov/2026:00:34:08 +0700").as_deref(),
            Some("2026-11-20T17:34:08.000Z")
        );
        assert_eq!(
            s("31/Dec/2026:23:59:59 -0330").as_deref(),
            Some("2027-01-01T03:29:59.000Z")
        );
        assert_eq!(
            s("01/Mar/2024:00:00:00 +0000").as_deref(),
            Some("2024-03-01T00:00:00.000Z")
        );
        assert_eq!(s("29/Feb/2023:00:00:00 +0000"), None);
        assert_eq!(
            s("29/Feb/2024:00:10:00 +0100").as_deref(),
            Some("2024-02-28T23:10:00.000Z")
        );
        assert_eq!(s("21/Nov/2026:00:34:08 GMT"), None);
    }
}
