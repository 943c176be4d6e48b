//! The line as the parsers here read it: an exact, printable-ASCII `str`, trailing `\r\n` cut.
//!
//! Anything else (non-ASCII text, control characters, a `str` subclass) is Python's: there, `\s`,
//! `\S` and `\d` of the reference patterns take more than ' ' and 0-9, and NFC may change the text.

use pyo3::ffi;
use pyo3::prelude::*;

/// A plain line: its text without the trailing `\r`/`\n`, and whether that is the whole `str`
/// (then the event's `event.original` can be the line object itself).
pub struct Line<'a> {
    pub text: &'a [u8],
    pub whole: bool,
}

/// The line's text, or None when the line is not plain ASCII text.
pub fn plain_ascii<'a>(line: &'a Bound<'_, PyAny>) -> Option<Line<'a>> {
    let o = line.as_ptr();
    // SAFETY: the GIL is held (the Bound proves it); PyUnicode_DATA of an exact, ready, ASCII str
    // is its length in bytes, alive as long as the borrowed line.
    let whole: &[u8] = unsafe {
        if ffi::PyUnicode_CheckExact(o) == 0 || ffi::PyUnicode_IS_ASCII(o) == 0 {
            return None;
        }
        std::slice::from_raw_parts(
            ffi::PyUnicode_DATA(o) as *const u8,
            ffi::PyUnicode_GET_LENGTH(o) as usize,
        )
    };
    let mut n = whole.len();
    while n > 0 && (whole[n - 1] == b'\n' || whole[n - 1] == b'\r') {
        n -= 1;
    }
    let text = &whole[..n];
    // Branch-free per 32-byte chunk, so it vectorises.
    let printable = text.chunks(32).all(|c| {
        !c.iter()
            .fold(false, |bad, &b| bad | (b < 0x20) | (b == 0x7f))
    });
    printable.then_some(Line {
        text,
        whole: n == whole.len(),
    })
}

/// A line's byte offset (an exact int from 0 to 2**64-1), or None for Python to handle.
pub fn position(position: &Bound<'_, PyAny>) -> Option<u64> {
    // SAFETY: a type check of a live object under the GIL.
    if unsafe { ffi::PyLong_CheckExact(position.as_ptr()) } == 0 {
        return None;
    }
    position.extract::<u64>().ok()
}
