//! The fields of a plain common/combined access line, as collectors/weblogs.py's `_ACCESS_PLAIN`
//! regex reads them, for the lines where that reading is the only one the regex can make.
//!
//! Every check that fails here makes the line someone else's (None): the Python parser then reads it
//! with its regexes as before, so a shape this code does not know is never guessed at.

/// Byte ranges into the line (start, end).
pub type Span = (usize, usize);

/// An access line cut into the regex's groups; `ref_ua` is None when the optional pair is absent.
pub struct AccessLine {
    pub ip: Span,
    pub user: Span,
    pub ts: Span,
    pub req: Span,
    /// Status code, None for "-".
    pub status: Option<u16>,
    /// Body bytes, None for "-".
    pub bytes: Option<u64>,
    pub ref_ua: Option<(Span, Span)>,
}

/// Where `byte` is at or after `from`, if anywhere.
#[inline]
fn find(s: &[u8], from: usize, byte: u8) -> Option<usize> {
    memchr::memchr(byte, &s[from..]).map(|i| from + i)
}

/// Where the quoted field starting at `from` ends: the first quote not escaped by a backslash, as
/// `[^"\\]*(?:\\.[^"\\]*)*"` finds it (its only way to match). A backslash ending the text matches nothing.
fn quoted_end(s: &[u8], from: usize, escaped: bool) -> Option<usize> {
    if !escaped {
        return find(s, from, b'"'); // no backslash in the line
    }
    let mut i = from;
    loop {
        i += memchr::memchr2(b'"', b'\\', &s[i..])?;
        if s[i] == b'"' {
            return Some(i);
        }
        if i + 1 >= s.len() {
            return None;
        }
        i += 2;
    }
}

/// `\"` to `"`, as weblogs._unescape reads a quoted field (other escapes are kept as written);
/// `escaped`: the line holds a backslash at all (else the field is returned as it is, unscanned).
pub fn unescape(v: &[u8], escaped: bool) -> std::borrow::Cow<'_, [u8]> {
    if !escaped || memchr::memchr(b'\\', v).is_none() {
        return std::borrow::Cow::Borrowed(v);
    }
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'\\' && v.get(i + 1) == Some(&b'"') {
            out.push(b'"');
            i += 2;
        } else {
            out.push(v[i]);
            i += 1;
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The groups of `s` (ASCII, no control characters, already cut of its line end; `escaped`: it
/// holds a backslash).
///
/// The regex's `(?P<user>.*?) \[` is lazy: it takes the first " [" after the ident for which the rest
/// matches. Only that first one is tried here; a line whose rest fails there (a user name holding
/// " [") is left to the regex. Everything after that point is forced (each field runs to the first
/// byte that may end it), so the groups found are the regex's.
pub fn split(s: &[u8], escaped: bool) -> Option<AccessLine> {
    // ip and ident: \S+ then a space (no other whitespace is in the line)
    let ip_end = find(s, 0, b' ')?;
    if ip_end == 0 {
        return None;
    }
    let ident_start = ip_end + 1;
    let ident_end = find(s, ident_start, b' ')?;
    // A real ident is almost never given: anything else may be a vhost in front, which the Python
    // parser tries first.
    if &s[ident_start..ident_end] != b"-" {
        return None;
    }
    let user_start = ident_end + 1;
    let user_end = memchr::memmem::find(&s[user_start..], b" [")? + user_start;
    // ts: [^\]]+ then "] \""
    let ts_start = user_end + 2;
    let ts_end = find(s, ts_start, b']')?;
    if ts_end == ts_start || s.get(ts_end + 1..ts_end + 3) != Some(b" \"") {
        return None;
    }
    // req: [^"]* then "\" "
    let req_start = ts_end + 3;
    let req_end = quoted_end(s, req_start, escaped)?;
    if s.get(req_end + 1) != Some(&b' ') {
        return None;
    }
    // status: \d{3}|- then a space
    let mut p = req_end + 2;
    let status = match s.get(p..p + 4) {
        Some([a, b, c, b' ']) if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            p += 4;
            Some((*a - b'0') as u16 * 100 + (*b - b'0') as u16 * 10 + (*c - b'0') as u16)
        }
        _ if s.get(p..p + 2) == Some(b"- ") => {
            p += 2;
            None
        }
        _ => return None,
    };
    // bytes: \d+|-
    let bytes = if s.get(p).is_some_and(u8::is_ascii_digit) {
        let start = p;
        while s.get(p).is_some_and(u8::is_ascii_digit) {
            p += 1;
        }
        if p - start > 18 {
            return None; // past u64: rare enough for Python's int
        }
        Some(
            s[start..p]
                .iter()
                .fold(0u64, |n, d| n * 10 + (d - b'0') as u64),
        )
    } else if s.get(p) == Some(&b'-') {
        p += 1;
        None
    } else {
        return None;
    };
    // (?: "ref" "ua")? and then anything: match() does not anchor the end
    let ref_ua = (|| {
        if s.get(p..p + 2) != Some(b" \"") {
            return None;
        }
        let ref_start = p + 2;
        let ref_end = quoted_end(s, ref_start, escaped)?;
        if s.get(ref_end + 1..ref_end + 3) != Some(b" \"") {
            return None;
        }
        let ua_start = ref_end + 3;
        let ua_end = quoted_end(s, ua_start, escaped)?;
        Some(((ref_start, ref_end), (ua_start, ua_end)))
    })();
    Some(AccessLine {
        ip: (0, ip_end),
        user: (user_start, user_end),
        ts: (ts_start, ts_end),
        req: (req_start, req_end),
        status,
        bytes,
        ref_ua,
    })
}

/// addresses.is_ip for a text without ":": a dotted IPv4 address, octets 0-255 without leading zeros.
pub fn is_ipv4(s: &[u8]) -> bool {
    let mut octets = 0;
    for part in s.split(|&b| b == b'.') {
        octets += 1;
        let ok = match part {
            [d] => d.is_ascii_digit(),
            [a, b] => (b'1'..=b'9').contains(a) && b.is_ascii_digit(),
            [a, b, c] => {
                (b'1'..=b'2').contains(a)
                    && b.is_ascii_digit()
                    && c.is_ascii_digit()
                    && (*a == b'1' || (*b, *c) <= (b'5', b'5'))
            }
            _ => false,
        };
        if !ok || octets > 4 {
            return false;
        }
    }
    octets == 4
}

/// addresses.is_ip for a text with ":": hex digits, ":" and "." only, and an address to Python
/// 3.11's ipaddress.IPv6Address (its rules, step by step: parts, a dotted IPv4 tail, one "::").
pub fn is_ipv6(s: &[u8]) -> bool {
    if s.is_empty()
        || !s
            .iter()
            .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    {
        return false;
    }
    // Up to 9 parts (8 hextets and the empty one of a "::"); an IPv4 tail stands for two hextets.
    let mut parts: [&[u8]; 10] = [b""; 10];
    let mut n = 0;
    for part in s.split(|&b| b == b':') {
        if n == 10 {
            return false;
        }
        parts[n] = part;
        n += 1;
    }
    if n < 3 {
        return false;
    }
    if memchr::memchr(b'.', parts[n - 1]).is_some() {
        if !is_ipv4(parts[n - 1]) || n + 1 > 9 {
            return false;
        }
        parts[n - 1] = b"0";
        parts[n] = b"0";
        n += 1;
    }
    if n > 9 {
        return false;
    }
    let mut skip = None;
    for (i, part) in parts.iter().enumerate().take(n - 1).skip(1) {
        if part.is_empty() {
            if skip.is_some() {
                return false;
            }
            skip = Some(i);
        }
    }
    let (hi, lo) = match skip {
        Some(k) => {
            let (mut hi, mut lo) = (k, n - k - 1);
            if parts[0].is_empty() {
                hi -= 1;
                if hi != 0 {
                    return false;
                }
            }
            if parts[n - 1].is_empty() {
                lo -= 1;
                if lo != 0 {
                    return false;
                }
            }
            if hi + lo >= 8 {
                return false;
            }
            (hi, lo)
        }
        None => {
            if n != 8 || parts[0].is_empty() || parts[n - 1].is_empty() {
                return false;
            }
            (n, 0)
        }
    };
    let hextet = |p: &[u8]| !p.is_empty() && p.len() <= 4 && p.iter().all(u8::is_ascii_hexdigit);
    parts[..hi].iter().all(|p| hextet(p)) && parts[n - lo..n].iter().all(|p| hextet(p))
}

/// What weblogs._split_request gives for a request line: method, url.original, url.path, url.query,
/// http.version, url.extension (None where there is none). Spans into the request; the extension
/// is to be lower-cased.
pub struct Request {
    pub method: Option<Span>,
    pub original: Option<Span>,
    pub path: Option<Span>,
    pub query: Option<Span>,
    pub version: Option<Span>,
    pub extension: Option<Span>,
}

/// `GET /a/b.php?x=1 HTTP/1.1` split as `_split_request` does (spans relative to `req`).
pub fn split_request(req: &[u8]) -> Request {
    let none = Request {
        method: None,
        original: None,
        path: None,
        query: None,
        version: None,
        extension: None,
    };
    // req.split(" "): empty parts count
    let mut spaces = [0usize; 3];
    let mut count = 0;
    for at in memchr::memchr_iter(b' ', req).take(3) {
        spaces[count] = at;
        count += 1;
    }
    let (method, target, version) = match spaces[..count] {
        [a, b] if req[b + 1..].starts_with(b"HTTP/") => {
            ((0, a), (a + 1, b), Some((b + 6, req.len())))
        }
        [a] if is_upper(&req[..a]) => ((0, a), (a + 1, req.len()), None),
        _ => {
            // junk a scanner sent: kept whole as url.original, "-" and "" as nothing
            if req.is_empty() || req == b"-" {
                return none;
            }
            return Request {
                original: Some((0, req.len())),
                ..none
            };
        }
    };
    let (t0, t1) = target;
    let path_end = memchr::memchr(b'?', &req[t0..t1]).map_or(t1, |i| t0 + i);
    let query = if path_end + 1 < t1 {
        Some((path_end + 1, t1))
    } else {
        None
    };
    let path = &req[t0..path_end];
    let slash = memchr::memrchr(b'/', path).map_or(-1, |i| i as isize);
    let dot = memchr::memrchr(b'.', path).map_or(-1, |i| i as isize);
    let extension = if dot > slash + 1 && dot < path.len() as isize - 1 {
        Some((t0 + dot as usize + 1, path_end))
    } else {
        None
    };
    Request {
        method: Some(method),
        original: Some(target),
        path: Some((t0, path_end)),
        query,
        version,
        extension,
    }
}

/// str.isupper for ASCII: some upper-case letter and no lower-case one.
fn is_upper(s: &[u8]) -> bool {
    s.iter().any(u8::is_ascii_uppercase) && !s.iter().any(u8::is_ascii_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4() {
        for good in ["0.0.0.0", "1.2.3.4", "255.255.255.255", "10.199.249.100"] {
            assert!(is_ipv4(good.as_bytes()), "{good}");
        }
        for bad in [
            "01.2.3.4",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.",
            "",
            "a.b.c.d",
            "300.1.1.1",
            "1.2.3.260",
        ] {
            assert!(!is_ipv4(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn ipv6() {
        for good in [
            "::1",
            "::",
            "1::",
            "fe80::1",
            "2402:800:63b5:26::49",
            "::ffff:1.2.3.4",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:1.2.3.4",
        ] {
            assert!(is_ipv6(good.as_bytes()), "{good}");
        }
        for bad in [
            "1:2",
            ":1::",
            "1:::2",
            "1::2::3",
            "12345::",
            "1:2:3:4:5:6:7:8:9",
            "::01.2.3.4",
            "1:2:3:4:5:6:7::8:9",
            ":",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::g",
        ] {
            assert!(!is_ipv6(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn quoted() {
        let s = br#"a\"b\\" x"#;
        assert_eq!(quoted_end(s, 0, true), Some(6));
        assert_eq!(quoted_end(b"ab\\", 0, true), None);
        assert_eq!(&*unescape(br#"a\"b\\c\""#, true), br#"a"b\\c""#);
        assert_eq!(&*unescape(br#"a\"b"#, false), br#"a\"b"#);
    }

    #[test]
    fn request() {
        let r = split_request(b"GET /a/b.PHP?x=1 HTTP/1.1");
        assert_eq!(r.method, Some((0, 3)));
        assert_eq!(r.path, Some((4, 12)));
        assert_eq!(r.query, Some((13, 16)));
        assert_eq!(r.extension, Some((9, 12)));
        assert_eq!(r.version, Some((22, 25)));
        let r = split_request(b"GET /.env?");
        assert_eq!((r.query, r.extension, r.version), (None, None, None));
        assert!(split_request(b"-").original.is_none());
    }
}
