//! Proleptic Gregorian dates to days since 1970-01-01 and back (Howard Hinnant's era arithmetic),
//! shared by the native parts that read and write stamps: exact integers, no time zone tables.

/// Whether `year` has a 29 February.
pub fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days in `month` (1-12) of `year`.
pub fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date (month 1-12, day of that month; not checked).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01, as (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// The number a run of ASCII decimal digits spells, or None when any byte is not a digit.
pub fn decimal(digits: &[u8]) -> Option<i64> {
    digits.iter().try_fold(0i64, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
    })
}

/// Epoch seconds of `YYYY-MM-DDTHH:MM:SS` (19 bytes, UTC) when it names a real time as Python's
/// datetime takes it (year 1-9999, a day of that month, no leap second), else None.
pub fn iso_seconds(b: &[u8]) -> Option<i64> {
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (decimal(&b[0..4])?, decimal(&b[5..7])?, decimal(&b[8..10])?);
    let (hour, minute, second) = (
        decimal(&b[11..13])?,
        decimal(&b[14..16])?,
        decimal(&b[17..19])?,
    );
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2026, 11, 21), 20_778);
        assert_eq!(days_from_civil(1, 1, 1), -719_162);
        for days in -800_000..800_000 {
            let (y, m, d) = civil_from_days(days);
            assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn iso_seconds_reads_real_times_only() {
        assert_eq!(iso_seconds(b"1970-01-01T00:00:00"), Some(0));
        assert_eq!(iso_seconds(b"2026-11-21T00:00:01"), Some(1_795_219_201));
        assert_eq!(iso_seconds(b"0001-01-01T00:00:00"), Some(-62_135_596_800));
        for bad in [
            &b"0000-01-01T00:00:00"[..],
            b"2023-02-29T00:00:00",
            b"2026-11-21T24:00:00",
            b"2026-11-21T00:60:00",
            b"2026-11-21T00:00:60",
            b"2026-13-01T00:00:00",
            b"2026-11-21 00:00:00",
            b"2026-11-21T00:00:0x",
            b"2026-11-21T00:00:00Z",
        ] {
            assert_eq!(iso_seconds(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(decimal(b"0042"), Some(42));
        assert_eq!(decimal(b"4a"), None);
    }
}
