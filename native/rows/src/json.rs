//! Python objects to JSON text exactly as `orjson.dumps(obj, default=str)` writes them.
//!
//! Only what this writer can prove it writes the same way is written: exact dicts with str keys,
//! lists and tuples, str without lone surrogates, ints within orjson's 64-bit range, bools, None
//! and floats in the range orjson writes as plain decimals. Anything else is a [`Defer`]: the
//! record goes to the Python encoder, which gives orjson's text, or its error, itself.

use std::fmt::Write as _;
use std::ptr::addr_of_mut;

use pyo3::ffi;

/// Why a record is left to the Python encoder.
pub type Defer = &'static str;

/// Deeper than this is left to orjson (its own limit is 255, an error).
const MAX_DEPTH: u32 = 128;

/// For each ASCII byte: 0 written as is, b'u' written `\u00XX`, else the letter after `\`.
static ESCAPE: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

#[inline]
pub unsafe fn is_type(o: *mut ffi::PyObject, t: *mut ffi::PyTypeObject) -> bool {
    ffi::Py_TYPE(o) == t
}

#[inline]
pub unsafe fn is_str(o: *mut ffi::PyObject) -> bool {
    is_type(o, addr_of_mut!(ffi::PyUnicode_Type))
}

#[inline]
pub unsafe fn is_dict(o: *mut ffi::PyObject) -> bool {
    is_type(o, addr_of_mut!(ffi::PyDict_Type))
}

#[inline]
pub unsafe fn is_list(o: *mut ffi::PyObject) -> bool {
    is_type(o, addr_of_mut!(ffi::PyList_Type))
}

/// The bytes of an ASCII str (exact type, ready), else None.
#[inline]
pub unsafe fn ascii<'a>(o: *mut ffi::PyObject) -> Option<&'a [u8]> {
    if ffi::PyUnicode_IS_READY(o) == 0 || ffi::PyUnicode_IS_ASCII(o) == 0 {
        return None;
    }
    let n = ffi::PyUnicode_GET_LENGTH(o) as usize;
    Some(std::slice::from_raw_parts(
        ffi::PyUnicode_DATA(o) as *const u8,
        n,
    ))
}

/// The head of CPython 3.11's dict keys object (Include/internal/pycore_dict.h, `_dictkeysobject`):
/// the index table follows it, then the entries.
#[repr(C)]
struct DictKeys311 {
    refcnt: ffi::Py_ssize_t,
    log2_size: u8,
    log2_index_bytes: u8,
    /// 0 general (entries of hash, key, value), 1 str keys (key, value), 2 split (values elsewhere).
    kind: u8,
    version: u32,
    usable: ffi::Py_ssize_t,
    nentries: ffi::Py_ssize_t,
}

/// A shared str's JSON text (with its quotes), kept with a reference to the str so that its
/// address names it as long as the slot does.
#[derive(Clone, Copy)]
struct Slot {
    str: *mut ffi::PyObject,
    len: u8,
    text: [u8; SLOT_TEXT],
}

const SLOT_TEXT: usize = 40;
const SLOTS: usize = 512;

/// A str's slot: its address's bits above the allocator's 16-byte alignment, folded so that
/// strs allocated 8 KB apart do not take the same slot.
#[inline]
fn slot_of(o: *mut ffi::PyObject) -> usize {
    let a = o as usize >> 4;
    (a ^ (a >> 9) ^ (a >> 18)) % SLOTS
}

/// Writes ASCII byte `c` at `base + at` as orjson writes it (itself, a two-character escape or
/// `\u00XX`) and gives the position after it.
///
/// # Safety
/// `base + at` must have room for 6 bytes.
#[inline(always)]
unsafe fn put_ascii(base: *mut u8, at: usize, c: u8) -> usize {
    let e = ESCAPE[c as usize];
    if e == 0 {
        *base.add(at) = c;
        at + 1
    } else if e == b'u' {
        let text = [
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[(c >> 4) as usize],
            HEX[(c & 15) as usize],
        ];
        std::ptr::copy_nonoverlapping(text.as_ptr(), base.add(at), 6);
        at + 6
    } else {
        *base.add(at) = b'\\';
        *base.add(at + 1) = e;
        at + 2
    }
}

/// One document's text, reused from record to record.
pub struct Writer {
    pub buf: Vec<u8>,
    /// Whether everything written so far is ASCII (then the str is made without a UTF-8 decode).
    pub ascii: bool,
    /// Shared strs (the keys, mostly: the same few dozen in every event) by address.
    slots: Box<[Slot; SLOTS]>,
    /// Whether dicts have CPython 3.11's layout (read in place) or are walked with PyDict_Next.
    pub dicts_311: bool,
}

impl Default for Writer {
    fn default() -> Self {
        let empty = Slot {
            str: std::ptr::null_mut(),
            len: 0,
            text: [0; SLOT_TEXT],
        };
        Writer {
            buf: Vec::with_capacity(4096),
            ascii: true,
            slots: Box::new([empty; SLOTS]),
            dicts_311: false,
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        for slot in self.slots.iter() {
            if !slot.str.is_null() {
                // SAFETY: the slot holds a reference (taken in `string`); the writer lives inside
                // one call with the GIL held.
                unsafe { ffi::Py_DECREF(slot.str) };
            }
        }
    }
}

impl Writer {
    pub fn clear(&mut self) {
        self.buf.clear();
        self.ascii = true;
    }

    #[inline]
    fn escaped_ascii(&mut self, s: &[u8]) {
        let buf = &mut self.buf;
        // The text is copied and checked eight bytes at a time (most strings need no escape), and
        // escaped byte by byte only when it must be.
        buf.reserve(s.len() + 2);
        let start = buf.len();
        let n = s.len();
        let mut special = 0u64;
        // SAFETY: `reserve` made room for n + 2 bytes past `start`, and every write is inside them; every
        // read is inside `s`; the length is set only over bytes written.
        unsafe {
            let dst = buf.as_mut_ptr().add(start);
            *dst = b'"';
            let mut i = 0;
            while i + 8 <= n {
                let w = std::ptr::read_unaligned(s.as_ptr().add(i) as *const u64);
                std::ptr::write_unaligned(dst.add(1 + i) as *mut u64, w);
                special |= needs_escape(w);
                i += 8;
            }
            if i < n {
                // The last bytes: read and written again as words overlapping what is already
                // copied (the same bytes), so no read goes past the string.
                let p = s.as_ptr();
                if n >= 8 {
                    let w = std::ptr::read_unaligned(p.add(n - 8) as *const u64);
                    std::ptr::write_unaligned(dst.add(1 + n - 8) as *mut u64, w);
                    special |= needs_escape(w);
                } else if n >= 4 {
                    let lo = std::ptr::read_unaligned(p as *const u32);
                    let hi = std::ptr::read_unaligned(p.add(n - 4) as *const u32);
                    std::ptr::write_unaligned(dst.add(1) as *mut u32, lo);
                    std::ptr::write_unaligned(dst.add(1 + n - 4) as *mut u32, hi);
                    special |= needs_escape(u64::from(lo) | (u64::from(hi) << 32));
                } else {
                    let (a, b, c) = (*p, *p.add(n / 2), *p.add(n - 1));
                    *dst.add(1) = a;
                    *dst.add(1 + n / 2) = b;
                    *dst.add(n) = c;
                    special |=
                        needs_escape(u64::from_le_bytes([a, b, c, b'a', b'a', b'a', b'a', b'a']));
                }
            }
            if special == 0 {
                *dst.add(1 + n) = b'"';
                buf.set_len(start + n + 2);
                return;
            }
        }
        self.escaped_bytes(s, start);
    }

    /// ASCII or Latin-1 text (a str of 1-byte code points) from `start`, with its escapes: event.original of
    /// an EVTX record is JSON text, full of quotes, and names products with (R). The text between
    /// them goes eight bytes at a time, the lowest flagged byte of a word being exactly the first
    /// to escape or encode; written through a pointer within room for the longest form of each byte.
    fn escaped_bytes(&mut self, s: &[u8], start: usize) {
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let n = s.len();
        let buf = &mut self.buf;
        buf.reserve(6 * n + 2);
        // SAFETY: a word written at `at` may run up to 7 bytes past what is kept, and at most 6
        // bytes per input byte plus the two quotes are kept: all within the 6n + 2 reserved past
        // `start` (a word is written only when 8 input bytes remain, so 6 more are still to come
        // for each of them). Reads stay inside `s`; the length is set over what was kept.
        unsafe {
            let base = buf.as_mut_ptr().add(start);
            *base = b'"';
            let p = s.as_ptr();
            let (mut i, mut at) = (0, 1);
            while i < n {
                if i + 8 <= n {
                    let w = std::ptr::read_unaligned(p.add(i) as *const u64);
                    std::ptr::write_unaligned(base.add(at) as *mut u64, w);
                    let m = needs_escape(w) | (w & HIGH);
                    if m == 0 {
                        i += 8;
                        at += 8;
                        continue;
                    }
                    let k = (m.trailing_zeros() / 8) as usize;
                    i += k;
                    at += k;
                }
                let c = *p.add(i);
                if c >= 0x80 {
                    *base.add(at) = 0xC0 | (c >> 6);
                    *base.add(at + 1) = 0x80 | (c & 0x3F);
                    at += 2;
                    i += 1;
                    continue;
                }
                at = put_ascii(base, at, c);
                i += 1;
            }
            *base.add(at) = b'"';
            buf.set_len(start + at + 1);
        }
    }

    /// A str's JSON text; Err for a lone surrogate (orjson refuses it) or a str not ready.
    #[inline(always)]
    pub unsafe fn string(&mut self, o: *mut ffi::PyObject) -> Result<(), Defer> {
        if ffi::PyUnicode_IS_READY(o) == 0 {
            return Err("str not ready");
        }
        let n = ffi::PyUnicode_GET_LENGTH(o) as usize;
        let data = ffi::PyUnicode_DATA(o);
        if ffi::PyUnicode_IS_ASCII(o) != 0 {
            let text = std::slice::from_raw_parts(data as *const u8, n);
            // Interned strs, and strs shared by several objects (a parser's constants: "sshd",
            // "system.auth"), are worth a slot; a str held once (a message, an address) is not.
            let shared = (*(o as *mut ffi::PyASCIIObject)).interned() != 0 || (*o).ob_refcnt > 2;
            if !shared || n + 2 > SLOT_TEXT {
                self.escaped_ascii(text);
                return Ok(());
            }
            let slot = &mut self.slots[slot_of(o)];
            let buf = &mut self.buf;
            if slot.str == o {
                buf.reserve(SLOT_TEXT);
                let at = buf.len();
                // SAFETY: room for SLOT_TEXT bytes at `at`; only the slot's `len` are kept.
                std::ptr::copy_nonoverlapping(
                    slot.text.as_ptr(),
                    buf.as_mut_ptr().add(at),
                    SLOT_TEXT,
                );
                buf.set_len(at + slot.len as usize);
                return Ok(());
            }
            let at = buf.len();
            self.escaped_ascii(text);
            let written = &self.buf[at..];
            if written.len() <= SLOT_TEXT {
                let slot = &mut self.slots[slot_of(o)];
                ffi::Py_INCREF(o);
                if !slot.str.is_null() {
                    ffi::Py_DECREF(slot.str);
                }
                slot.str = o;
                slot.len = written.len() as u8;
                slot.text[..written.len()].copy_from_slice(written);
            }
            return Ok(());
        }
        self.ascii = false;
        match ffi::PyUnicode_KIND(o) {
            1 => {
                let start = self.buf.len();
                self.escaped_bytes(std::slice::from_raw_parts(data as *const u8, n), start);
                Ok(())
            }
            2 => self.wide(
                n,
                std::slice::from_raw_parts(data as *const u16, n)
                    .iter()
                    .map(|&c| c as u32),
            ),
            4 => self.wide(
                n,
                std::slice::from_raw_parts(data as *const u32, n)
                    .iter()
                    .copied(),
            ),
            _ => Err("str kind"),
        }
    }

    /// A str of 1-, 2- or 4-byte code points as UTF-8 with orjson's escapes.
    fn wide(&mut self, n: usize, chars: impl Iterator<Item = u32>) -> Result<(), Defer> {
        let buf = &mut self.buf;
        let start = buf.len();
        buf.reserve(6 * n + 2);
        // SAFETY: at most 6 bytes per code point and the two quotes are written past `start`,
        // within the room reserved; the length is set over what was written.
        unsafe {
            let base = buf.as_mut_ptr().add(start);
            *base = b'"';
            let mut at = 1;
            for c in chars {
                if c < 0x80 {
                    at = put_ascii(base, at, c as u8);
                } else if c < 0x800 {
                    *base.add(at) = 0xC0 | (c >> 6) as u8;
                    *base.add(at + 1) = 0x80 | (c & 0x3F) as u8;
                    at += 2;
                } else if c < 0x10000 {
                    if (0xD800..0xE000).contains(&c) {
                        return Err("lone surrogate");
                    }
                    *base.add(at) = 0xE0 | (c >> 12) as u8;
                    *base.add(at + 1) = 0x80 | ((c >> 6) & 0x3F) as u8;
                    *base.add(at + 2) = 0x80 | (c & 0x3F) as u8;
                    at += 3;
                } else {
                    *base.add(at) = 0xF0 | (c >> 18) as u8;
                    *base.add(at + 1) = 0x80 | ((c >> 12) & 0x3F) as u8;
                    *base.add(at + 2) = 0x80 | ((c >> 6) & 0x3F) as u8;
                    *base.add(at + 3) = 0x80 | (c & 0x3F) as u8;
                    at += 4;
                }
            }
            *base.add(at) = b'"';
            buf.set_len(start + at + 1);
        }
        Ok(())
    }

    /// Any value's JSON text.
    pub unsafe fn value(&mut self, o: *mut ffi::PyObject, depth: u32) -> Result<(), Defer> {
        let t = ffi::Py_TYPE(o);
        if t == addr_of_mut!(ffi::PyUnicode_Type) {
            self.string(o)
        } else if t == addr_of_mut!(ffi::PyDict_Type) {
            self.object(o, depth, std::ptr::null_mut())
        } else if t == addr_of_mut!(ffi::PyLong_Type) {
            self.int(o)
        } else if o == ffi::Py_None() {
            self.buf.extend_from_slice(b"null");
            Ok(())
        } else if t == addr_of_mut!(ffi::PyBool_Type) {
            self.buf.extend_from_slice(if o == ffi::Py_True() {
                b"true"
            } else {
                b"false"
            });
            Ok(())
        } else if t == addr_of_mut!(ffi::PyList_Type) {
            let n = ffi::PyList_GET_SIZE(o);
            self.array(depth, (0..n).map(|i| ffi::PyList_GET_ITEM(o, i)))
        } else if t == addr_of_mut!(ffi::PyTuple_Type) {
            let n = ffi::PyTuple_GET_SIZE(o);
            self.array(depth, (0..n).map(|i| ffi::PyTuple_GET_ITEM(o, i)))
        } else if t == addr_of_mut!(ffi::PyFloat_Type) {
            self.float(ffi::PyFloat_AS_DOUBLE(o))
        } else {
            Err("value type")
        }
    }

    unsafe fn array(
        &mut self,
        depth: u32,
        items: impl Iterator<Item = *mut ffi::PyObject>,
    ) -> Result<(), Defer> {
        if depth >= MAX_DEPTH {
            return Err("nesting depth");
        }
        self.buf.push(b'[');
        let mut first = true;
        for item in items {
            if !first {
                self.buf.push(b',');
            }
            first = false;
            self.value(item, depth + 1)?;
        }
        self.buf.push(b']');
        Ok(())
    }

    /// A dict's members in its order. At the top, a dotted key in `dotted` (sqlite_rows._DOTTED_COLUMNS,
    /// a frozenset; null below the top) is refused: the Python encoder reads it before the nested field.
    pub unsafe fn object(
        &mut self,
        o: *mut ffi::PyObject,
        depth: u32,
        dotted: *mut ffi::PyObject,
    ) -> Result<(), Defer> {
        if depth >= MAX_DEPTH {
            return Err("nesting depth");
        }
        self.buf.push(b'{');
        let mut first = true;
        let d = o as *mut ffi::PyDictObject;
        let keys = (*d).ma_keys as *const DictKeys311;
        if self.dicts_311 && (*d).ma_values.is_null() && (*keys).kind <= 1 {
            // A combined table: its entries in order, a removed one with a null value (as
            // PyDict_Next reads them, without a call per member).
            let (stride, key_at) = if (*keys).kind == 0 { (3, 1) } else { (2, 0) };
            let entries = (keys as *const u8)
                .add(std::mem::size_of::<DictKeys311>() + (1usize << (*keys).log2_index_bytes))
                as *const *mut ffi::PyObject;
            for i in 0..(*keys).nentries as usize {
                let e = entries.add(i * stride + key_at);
                let (k, v) = (*e, *e.add(1));
                if !v.is_null() {
                    self.member(k, v, &mut first, depth, dotted)?;
                }
            }
        } else {
            let (mut pos, mut k, mut v) = (0, std::ptr::null_mut(), std::ptr::null_mut());
            while ffi::PyDict_Next(o, &mut pos, &mut k, &mut v) != 0 {
                self.member(k, v, &mut first, depth, dotted)?;
            }
        }
        self.buf.push(b'}');
        Ok(())
    }

    #[inline(always)]
    unsafe fn member(
        &mut self,
        k: *mut ffi::PyObject,
        v: *mut ffi::PyObject,
        first: &mut bool,
        depth: u32,
        dotted: *mut ffi::PyObject,
    ) -> Result<(), Defer> {
        if !is_str(k) {
            return Err("key type");
        }
        if !*first {
            self.buf.push(b',');
        }
        *first = false;
        if !dotted.is_null() && dotted_key(k) {
            match ffi::PySet_Contains(dotted, k) {
                0 => {}
                1 => return Err("dotted column key"),
                _ => {
                    ffi::PyErr_Clear();
                    return Err("dotted column key");
                }
            }
        }
        self.string(k)?;
        self.buf.push(b':');
        self.value(v, depth + 1)
    }

    unsafe fn int(&mut self, o: *mut ffi::PyObject) -> Result<(), Defer> {
        let mut overflow = 0;
        let v = ffi::PyLong_AsLongLongAndOverflow(o, &mut overflow);
        if overflow == 0 {
            if v == -1 && !ffi::PyErr_Occurred().is_null() {
                ffi::PyErr_Clear();
                return Err("int");
            }
            push_int(&mut self.buf, v.unsigned_abs(), v < 0);
            return Ok(());
        }
        if overflow > 0 {
            let u = ffi::PyLong_AsUnsignedLongLong(o);
            if u != u64::MAX || ffi::PyErr_Occurred().is_null() {
                push_int(&mut self.buf, u, false);
                return Ok(());
            }
            ffi::PyErr_Clear();
        }
        Err("int beyond 64 bits")
    }

    /// orjson writes NaN and infinities as null, and finite floats as their shortest round-trip
    /// digits: plainly from 1e-5 up to 1e16 (with `.0` when whole), in exponent form outside, which
    /// is left to orjson. Rust's `{}` gives the shortest digits too, always plainly, closest to the
    /// value; two shortest-digit writers can differ only when two candidates are equally close,
    /// which needs 16 or more significant digits (a candidate step no wider than the float's ulp,
    /// about 2.2e-16 of it): those floats are left to orjson as well.
    fn float(&mut self, x: f64) -> Result<(), Defer> {
        if !x.is_finite() {
            self.buf.extend_from_slice(b"null");
            return Ok(());
        }
        let a = x.abs();
        if x != 0.0 && !(1e-5..1e16).contains(&a) {
            return Err("float in exponent form");
        }
        let mut text = String::with_capacity(24);
        let _ = write!(text, "{x}");
        let digits = text.trim_start_matches('-').trim_start_matches(['0', '.']);
        let significant = digits
            .trim_end_matches(['0', '.'])
            .bytes()
            .filter(u8::is_ascii_digit)
            .count();
        if significant >= 16 {
            return Err("float of 16+ digits");
        }
        self.buf.extend_from_slice(text.as_bytes());
        if !text.contains('.') {
            self.buf.extend_from_slice(b".0");
        }
        Ok(())
    }
}

/// Whether a key may be dotted (has a '.'; any key not ASCII is asked of the set).
#[inline]
unsafe fn dotted_key(k: *mut ffi::PyObject) -> bool {
    match ascii(k) {
        Some(key) => key.contains(&b'.'),
        None => true,
    }
}

/// Non-zero when a word of ASCII bytes holds one JSON escapes: a control character, '"' or '\\'.
/// Each test is exact about whether some byte matches (SWAR "has less than" / "has zero byte").
#[inline]
fn needs_escape(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    let q = w ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q;
    let b = w ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b;
    (control | quote | backslash) & HIGH
}

fn push_int(buf: &mut Vec<u8>, mut n: u64, negative: bool) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        buf.push(b'-');
    }
    buf.extend_from_slice(&digits[i..]);
}
