//! The RFC 3164 header of a printable-ASCII line, read as collectors/syslog.py's `_RFC3164` pattern
//! reads it (that pattern backtracks only where it cannot change the result, so one pass does).

/// A header as written: `<pri>`, "Nov 21 07" (the hour table's key), "mm:ss", host, program, pid,
/// then the message body.
pub struct Head<'a> {
    pub pri: Option<&'a [u8]>,
    pub hour: &'a [u8],
    pub mmss: &'a [u8],
    pub host: Option<&'a [u8]>,
    pub prog: Option<&'a [u8]>,
    pub pid: Option<&'a [u8]>,
    pub msg: &'a [u8],
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

#[inline]
fn digit(b: &[u8], i: usize) -> bool {
    b.get(i).is_some_and(u8::is_ascii_digit)
}

/// `[^\s:\[]`, for text already known to be printable ASCII (no whitespace but the space).
#[inline]
fn name_char(c: u8) -> bool {
    c != b' ' && c != b':' && c != b'['
}

fn run(b: &[u8], from: usize, keep: impl Fn(u8) -> bool) -> usize {
    let mut i = from;
    while i < b.len() && keep(b[i]) {
        i += 1;
    }
    i
}

/// The header of `b` (printable ASCII), or None when `_RFC3164` would not match it, its month is
/// not a month name, or its minutes and seconds are not the plain 00-59 the Python parser's fast
/// stamp takes (those take the Python path).
pub fn parse(b: &[u8]) -> Option<Head<'_>> {
    let mut i = 0;
    let mut pri = None;
    if b.first() == Some(&b'<') {
        let end = run(b, 1, |c| c.is_ascii_digit());
        if end == 1 || end > 4 || b.get(end) != Some(&b'>') {
            return None;
        }
        pri = Some(&b[1..end]);
        i = end + 1;
    }
    let start = i;
    let month = b.get(i..i + 3)?;
    if !MONTHS.iter().any(|m| m.as_slice() == month) {
        return None;
    }
    i += 3;
    let spaces = run(b, i, |c| c == b' ');
    if spaces == i {
        return None;
    }
    i = spaces;
    let day = run(b, i, |c| c.is_ascii_digit());
    if day == i || day > i + 2 || b.get(day) != Some(&b' ') {
        return None;
    }
    i = day + 1;
    if !(digit(b, i) && digit(b, i + 1) && b.get(i + 2) == Some(&b':')) {
        return None;
    }
    let hour = &b[start..i + 2];
    i += 3;
    let mmss = b.get(i..i + 5)?;
    let digits = mmss
        .iter()
        .enumerate()
        .all(|(k, c)| k == 2 || c.is_ascii_digit());
    if !digits || mmss[2] != b':' || mmss[0] > b'5' || mmss[3] > b'5' {
        return None;
    }
    i += 5;
    if b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    // Host: a name followed by a space; otherwise the program comes right after the stamp.
    let mut host = None;
    let end = run(b, i, name_char);
    if end > i && b.get(end) == Some(&b' ') {
        host = Some(&b[i..end]);
        i = end + 1;
    }
    let end = run(b, i, name_char);
    let prog = if end > i { Some(&b[i..end]) } else { None };
    i = end;
    let mut pid = None;
    if b.get(i) == Some(&b'[') {
        let end = run(b, i + 1, |c| c.is_ascii_digit());
        if end > i + 1 && b.get(end) == Some(&b']') {
            pid = Some(&b[i + 1..end]);
            i = end + 1;
        }
    }
    if b.get(i) == Some(&b':') {
        i += 1;
    }
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    Some(Head {
        pri,
        hour,
        mmss,
        host,
        prog,
        pid,
        msg: &b[i..],
    })
}
