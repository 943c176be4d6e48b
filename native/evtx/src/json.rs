//! A small JSON reader for the records the `evtx` crate renders, into a flat tree borrowing the text.
//!
//! The mapping needs the rendered text anyway (it is `event.original`), and the crate keeps its own
//! record tree private, so the text is read back here: in place, strings unescaped only when used.
//! Anything orjson would read differently from this reader (floats, integers past 64 bits, lone
//! surrogates, raw control characters, deep nesting) is reported as `Unsupported`, and the record
//! goes to the Python mapping, which decides it exactly as before.

use std::borrow::Cow;

/// A string as it stands between its quotes; `escaped` when it holds a backslash.
#[derive(Clone, Copy, Debug)]
pub struct JStr<'a> {
    pub raw: &'a str,
    pub escaped: bool,
}

impl<'a> JStr<'a> {
    /// The string's value (borrowed unless it has escapes).
    pub fn text(&self) -> Cow<'a, str> {
        if self.escaped {
            Cow::Owned(unescape(self.raw))
        } else {
            Cow::Borrowed(self.raw)
        }
    }

    /// Equal to a plain (escape-free) key.
    #[inline]
    pub fn is(&self, key: &str) -> bool {
        !self.escaped && self.raw == key
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Val<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer past i64 (unsigned 64-bit counters: BITS transfer sizes).
    UInt(u64),
    Str(JStr<'a>),
    /// Elements `vals[start..start + len]`.
    Arr(u32, u32),
    /// Members `members[start..start + len]`, in document order (duplicates kept).
    Obj(u32, u32),
}

/// One parsed document; the root is the last value parsed.
#[derive(Default)]
pub struct Doc<'a> {
    pub vals: Vec<Val<'a>>,
    pub members: Vec<(JStr<'a>, Val<'a>)>,
    val_stack: Vec<Val<'a>>,
    mem_stack: Vec<(JStr<'a>, Val<'a>)>,
}

#[derive(Debug)]
pub struct Unsupported;

const MAX_DEPTH: u32 = 64;

impl<'a> Doc<'a> {
    pub fn clear(&mut self) {
        self.vals.clear();
        self.members.clear();
        self.val_stack.clear();
        self.mem_stack.clear();
    }

    /// Parse `text` (a whole document) and return its root value.
    pub fn parse(&mut self, text: &'a str) -> Result<Val<'a>, Unsupported> {
        self.clear();
        let mut p = Parser {
            s: text.as_bytes(),
            text,
            i: 0,
        };
        let root = p.value(self, 0)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(Unsupported);
        }
        Ok(root)
    }

    #[inline]
    pub fn members_of(&self, start: u32, len: u32) -> &[(JStr<'a>, Val<'a>)] {
        &self.members[start as usize..(start + len) as usize]
    }

    #[inline]
    pub fn elements_of(&self, start: u32, len: u32) -> &[Val<'a>] {
        &self.vals[start as usize..(start + len) as usize]
    }

    /// `obj.get(key)` as a Python dict decoded from the text answers it: the last duplicate wins.
    pub fn get(&self, obj: Val<'a>, key: &str) -> Option<Val<'a>> {
        let Val::Obj(start, len) = obj else {
            return None;
        };
        let mut found = None;
        for (k, v) in self.members_of(start, len) {
            if k.is(key) || (k.escaped && k.text() == key) {
                found = Some(*v);
            }
        }
        found
    }

    /// Whether an object has two members with the same key (then a dict keeps one: not mapped here).
    pub fn has_duplicate_keys(&self, start: u32, len: u32) -> bool {
        let members = self.members_of(start, len);
        if members.len() < 2 {
            return false;
        }
        if members.iter().any(|(k, _)| k.escaped) {
            return true; // rare; compared as text by the Python mapping
        }
        // A 256-bit filter on (length, first and last byte); a hit is checked against the keys before.
        let mut seen = [0u64; 4];
        for (i, (k, _)) in members.iter().enumerate() {
            let b = k.raw.as_bytes();
            let h = (b.len() as u32)
                .wrapping_mul(31)
                .wrapping_add(b.first().copied().unwrap_or(0) as u32 * 7)
                .wrapping_add(b.last().copied().unwrap_or(0) as u32 * 131)
                & 255;
            let (word, bit) = ((h >> 6) as usize, 1u64 << (h & 63));
            if seen[word] & bit != 0 && members[..i].iter().any(|(other, _)| other.raw == k.raw) {
                return true;
            }
            seen[word] |= bit;
        }
        false
    }
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl<'a> Parser<'a> {
    #[inline]
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\n' | b'\r' | b'\t') {
            self.i += 1;
        }
    }

    fn value(&mut self, doc: &mut Doc<'a>, depth: u32) -> Result<Val<'a>, Unsupported> {
        self.ws();
        let Some(&c) = self.s.get(self.i) else {
            return Err(Unsupported);
        };
        match c {
            b'"' => Ok(Val::Str(self.string()?)),
            b'{' => {
                if depth >= MAX_DEPTH {
                    return Err(Unsupported);
                }
                self.i += 1;
                let mark = doc.mem_stack.len();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        if self.s.get(self.i) != Some(&b'"') {
                            return Err(Unsupported);
                        }
                        let key = self.string()?;
                        self.ws();
                        if self.s.get(self.i) != Some(&b':') {
                            return Err(Unsupported);
                        }
                        self.i += 1;
                        let v = self.value(doc, depth + 1)?;
                        doc.mem_stack.push((key, v));
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(Unsupported),
                        }
                    }
                }
                let start = doc.members.len() as u32;
                let n = (doc.mem_stack.len() - mark) as u32;
                doc.members.extend(doc.mem_stack.drain(mark..));
                Ok(Val::Obj(start, n))
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return Err(Unsupported);
                }
                self.i += 1;
                let mark = doc.val_stack.len();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                } else {
                    loop {
                        let v = self.value(doc, depth + 1)?;
                        doc.val_stack.push(v);
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(Unsupported),
                        }
                    }
                }
                let start = doc.vals.len() as u32;
                let n = (doc.val_stack.len() - mark) as u32;
                doc.vals.extend(doc.val_stack.drain(mark..));
                Ok(Val::Arr(start, n))
            }
            b't' => self.word(b"true", Val::Bool(true)),
            b'f' => self.word(b"false", Val::Bool(false)),
            b'n' => self.word(b"null", Val::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(Unsupported),
        }
    }

    fn word(&mut self, w: &[u8], v: Val<'a>) -> Result<Val<'a>, Unsupported> {
        if self.s[self.i..].starts_with(w) {
            self.i += w.len();
            Ok(v)
        } else {
            Err(Unsupported)
        }
    }

    fn number(&mut self) -> Result<Val<'a>, Unsupported> {
        let start = self.i;
        if self.s[self.i] == b'-' {
            self.i += 1;
        }
        let digits = self.i;
        while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        let n = self.i - digits;
        // Fractions and exponents are floats in Python (not mapped here); a leading zero is invalid.
        if n == 0 || (n > 1 && self.s[digits] == b'0') {
            return Err(Unsupported);
        }
        if matches!(self.s.get(self.i), Some(b'.' | b'e' | b'E')) {
            return Err(Unsupported);
        }
        let text = &self.text[start..self.i];
        match text.parse::<i64>() {
            Ok(v) => Ok(Val::Int(v)),
            Err(_) => text.parse::<u64>().map(Val::UInt).map_err(|_| Unsupported),
        }
    }

    fn string(&mut self) -> Result<JStr<'a>, Unsupported> {
        self.i += 1; // the opening quote
        let start = self.i;
        let mut escaped = false;
        loop {
            self.i = find_special(self.s, self.i);
            match self.s.get(self.i) {
                Some(b'"') => break,
                Some(b'\\') => {}
                _ => return Err(Unsupported), // a raw control character (not JSON), or no closing quote
            }
            escaped = true;
            self.i += 1;
            match self.s.get(self.i) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                Some(b'u') => {
                    let unit = self.hex4(self.i + 1)?;
                    self.i += 5;
                    if (0xDC00..0xE000).contains(&unit) {
                        return Err(Unsupported); // a lone low surrogate: orjson refuses the document
                    }
                    if (0xD800..0xDC00).contains(&unit) {
                        if self.s.get(self.i) != Some(&b'\\')
                            || self.s.get(self.i + 1) != Some(&b'u')
                        {
                            return Err(Unsupported);
                        }
                        let low = self.hex4(self.i + 2)?;
                        if !(0xDC00..0xE000).contains(&low) {
                            return Err(Unsupported);
                        }
                        self.i += 6;
                    }
                }
                _ => return Err(Unsupported),
            }
        }
        let raw = &self.text[start..self.i];
        self.i += 1; // the closing quote
        Ok(JStr { raw, escaped })
    }

    fn hex4(&self, at: usize) -> Result<u32, Unsupported> {
        let digits = self.s.get(at..at + 4).ok_or(Unsupported)?;
        let mut v = 0u32;
        for &d in digits {
            v = v * 16 + (d as char).to_digit(16).ok_or(Unsupported)?;
        }
        Ok(v)
    }
}

/// The index of the first quote, backslash or control character at or after `i` (or the end),
/// eight bytes at a time.
#[inline]
fn find_special(s: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while i + 8 <= s.len() {
        let w = u64::from_le_bytes(s[i..i + 8].try_into().expect("eight bytes"));
        let quote = w ^ (ONES * b'"' as u64);
        let slash = w ^ (ONES * b'\\' as u64);
        // Each term's lowest set high bit marks the first byte it looks for (later ones may be false).
        let hit = ((quote.wrapping_sub(ONES) & !quote)
            | (slash.wrapping_sub(ONES) & !slash)
            | (w.wrapping_sub(ONES * 0x20) & !w))
            & HIGH;
        if hit != 0 {
            return i + (hit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < s.len() && !matches!(s[i], b'"' | b'\\' | 0..=0x1f) {
        i += 1;
    }
    i
}

/// The value of a string already checked by the parser (escapes valid, surrogates paired).
fn unescape(raw: &str) -> String {
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < b.len() {
        let Some(off) = memchr::memchr(b'\\', &b[i..]) else {
            out.push_str(&raw[i..]);
            break;
        };
        out.push_str(&raw[i..i + off]);
        i += off + 1;
        let c = b[i];
        i += 1;
        match c {
            b'n' => out.push('\n'),
            b't' => out.push('\t'),
            b'r' => out.push('\r'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'u' => {
                let hi = u32::from_str_radix(&raw[i..i + 4], 16).unwrap_or(0xFFFD);
                i += 4;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    let lo = u32::from_str_radix(&raw[i + 2..i + 6], 16).unwrap_or(0xDC00);
                    i += 6;
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            other => out.push(other as char), // '"', '\\', '/'
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_values_and_unescapes() {
        let mut doc = Doc::default();
        let root = doc
            .parse(r#"{"a":[1,-2,"x\\y\u00e9\ud83d\ude00"],"b":{"c":null,"d":true}}"#)
            .unwrap();
        let Some(Val::Arr(s, n)) = doc.get(root, "a") else {
            panic!()
        };
        let items = doc.elements_of(s, n);
        assert!(matches!(items[1], Val::Int(-2)));
        let Val::Str(t) = items[2] else { panic!() };
        assert_eq!(t.text(), "x\\y\u{e9}\u{1F600}");
        assert!(matches!(
            doc.get(doc.get(root, "b").unwrap(), "d"),
            Some(Val::Bool(true))
        ));
        let Val::Arr(s, _) = doc.parse("[18446744073709551615]").unwrap() else {
            panic!()
        };
        assert!(matches!(doc.vals[s as usize], Val::UInt(u64::MAX)));
    }

    #[test]
    fn refuses_what_orjson_reads_otherwise() {
        let mut doc = Doc::default();
        for bad in [
            r#"{"a":1.5}"#,
            r#"{"a":1e3}"#,
            r#"["\ud800"]"#,
            "[\"\u{1}\"]",
            "[01]",
            "[99999999999999999999]",
            "[-9223372036854775809]",
        ] {
            assert!(doc.parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn finds_the_first_special_byte() {
        for text in [
            "",
            "abc",
            "abcdefgh",
            "abcdefghij\"",
            "\\x",
            "0123456\u{1}89",
            "é\"",
            "aaaaaaaaaaaaaaa\\",
        ] {
            let want = text
                .bytes()
                .position(|c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(text.len());
            assert_eq!(find_special(text.as_bytes(), 0), want, "{text:?}");
        }
    }

    #[test]
    fn duplicate_keys_found() {
        let mut doc = Doc::default();
        let Val::Obj(s, n) = doc.parse(r#"{"ab":1,"cd":2,"ab":3}"#).unwrap() else {
            panic!()
        };
        assert!(doc.has_duplicate_keys(s, n));
        assert!(matches!(doc.get(Val::Obj(s, n), "ab"), Some(Val::Int(3))));
        let Val::Obj(s, n) = doc.parse(r#"{"ab":1,"ba":2}"#).unwrap() else {
            panic!()
        };
        assert!(!doc.has_duplicate_keys(s, n));
    }
}
