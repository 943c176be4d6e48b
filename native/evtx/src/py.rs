//! The few CPython calls the mapping makes per field, without pyo3's generic conversions.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// Anything that is a Python object.
pub trait Obj {
    fn ptr(&self) -> *mut ffi::PyObject;
}

impl<T> Obj for Bound<'_, T> {
    #[inline]
    fn ptr(&self) -> *mut ffi::PyObject {
        self.as_ptr()
    }
}

impl<T> Obj for Py<T> {
    #[inline]
    fn ptr(&self) -> *mut ffi::PyObject {
        self.as_ptr()
    }
}

impl<T: Obj + ?Sized> Obj for &T {
    #[inline]
    fn ptr(&self) -> *mut ffi::PyObject {
        (**self).ptr()
    }
}

/// `d[k] = v`.
#[inline]
pub fn set(d: &Bound<'_, PyDict>, k: impl Obj, v: impl Obj) -> PyResult<()> {
    // SAFETY: all three are live objects (borrowed for the call); PyDict_SetItem takes its own references.
    if unsafe { ffi::PyDict_SetItem(d.as_ptr(), k.ptr(), v.ptr()) } == 0 {
        Ok(())
    } else {
        Err(PyErr::fetch(d.py()))
    }
}

/// `d.get(k)`, borrowed from the dict.
#[inline]
pub fn get<'py>(d: &Bound<'py, PyDict>, k: impl Obj) -> Option<Bound<'py, PyAny>> {
    // SAFETY: PyDict_GetItem returns a borrowed reference (or NULL), which is taken as a new one here.
    unsafe {
        let v = ffi::PyDict_GetItem(d.as_ptr(), k.ptr());
        if v.is_null() {
            None
        } else {
            Some(Bound::from_borrowed_ptr(d.py(), v))
        }
    }
}

/// A new str; ASCII text is copied in without going through the UTF-8 decoder.
#[inline]
pub fn string<'py>(py: Python<'py>, s: &str) -> Bound<'py, PyString> {
    if s.is_ascii() && !s.is_empty() {
        // SAFETY: PyUnicode_New(n, 127) makes a compact ASCII string with room for n bytes (and
        // the NUL it writes itself); the text is ASCII, so the copy fills it validly.
        unsafe {
            let o = ffi::PyUnicode_New(s.len() as ffi::Py_ssize_t, 127);
            if !o.is_null() {
                std::ptr::copy_nonoverlapping(
                    s.as_ptr(),
                    ffi::PyUnicode_DATA(o) as *mut u8,
                    s.len(),
                );
                return Bound::from_owned_ptr(py, o).cast_into_unchecked();
            }
            ffi::PyErr_Clear();
        }
    }
    PyString::new(py, s)
}

/// A new dict.
#[inline]
pub fn dict(py: Python<'_>) -> Bound<'_, PyDict> {
    PyDict::new(py)
}

extern "C" {
    // CPython's own sizing for a dict about to get `minused` keys (exported since 3.x, used by
    // BUILD_MAP): growing a dict key by key rehashes it at 6 and 11 keys.
    fn _PyDict_NewPresized(minused: ffi::Py_ssize_t) -> *mut ffi::PyObject;
}

/// A new dict with room for `n` keys.
#[inline]
pub fn dict_for(py: Python<'_>, n: usize) -> Bound<'_, PyDict> {
    // SAFETY: returns a new reference to an empty dict, or NULL with an exception set.
    unsafe {
        let d = _PyDict_NewPresized(n as ffi::Py_ssize_t);
        if d.is_null() {
            ffi::PyErr_Clear();
            return PyDict::new(py);
        }
        Bound::from_owned_ptr(py, d).cast_into_unchecked()
    }
}
