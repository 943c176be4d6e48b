//! `canh.store._rows_native`: the embedded store's event row encoder, compiled.
//!
//! Gives, for a batch of events, exactly the flat column values `canh.store.sqlite_rows` gives
//! (the reference); a record it cannot encode the same way it hands back to the Python encoder.

mod json;
mod stamp;

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

use crate::json::{ascii, is_dict, is_list, is_str, is_type, Defer, Writer};

/// Values per event row: id, time, ingest time, six indexed fields, the document.
const WIDTH: usize = 10;

/// Owned references, released unless handed to a list.
struct Owned(Vec<*mut ffi::PyObject>);

impl Drop for Owned {
    fn drop(&mut self) {
        for &o in &self.0 {
            // SAFETY: every pointer here is a reference this encoder owns.
            unsafe { ffi::Py_DECREF(o) };
        }
    }
}

/// The keys an event row reads, made once per batch.
struct Keys<'py> {
    event: Bound<'py, PyString>,
    id: Bound<'py, PyString>,
    ingested: Bound<'py, PyString>,
    timestamp: Bound<'py, PyString>,
    dataset: Bound<'py, PyString>,
    action: Bound<'py, PyString>,
    host: Bound<'py, PyString>,
    source: Bound<'py, PyString>,
    destination: Bound<'py, PyString>,
    user: Bound<'py, PyString>,
    name: Bound<'py, PyString>,
    ip: Bound<'py, PyString>,
}

impl<'py> Keys<'py> {
    fn new(py: Python<'py>) -> Self {
        let k = |s: &str| PyString::intern(py, s);
        Keys {
            event: k("event"),
            id: k("id"),
            ingested: k("ingested"),
            timestamp: k("@timestamp"),
            dataset: k("dataset"),
            action: k("action"),
            host: k("host"),
            source: k("source"),
            destination: k("destination"),
            user: k("user"),
            name: k("name"),
            ip: k("ip"),
        }
    }
}

/// `d.get(k)`, borrowed; null when absent. PyDict_GetItem would save and restore the error state
/// at every call; an error here needs a key of another type with its own `__eq__`, and any such key
/// hands the record back anyway (the document writer takes exact str keys only).
#[inline]
unsafe fn get(d: *mut ffi::PyObject, k: &Bound<'_, PyString>) -> *mut ffi::PyObject {
    let v = ffi::PyDict_GetItemWithError(d, k.as_ptr());
    if v.is_null() && !ffi::PyErr_Occurred().is_null() {
        ffi::PyErr_Clear();
    }
    v
}

/// `outer.get(key).get(field)` as the Python encoder reads a column: null when `outer` is no dict.
#[inline]
unsafe fn nested(
    rec: *mut ffi::PyObject,
    key: &Bound<'_, PyString>,
    field: &Bound<'_, PyString>,
) -> *mut ffi::PyObject {
    let outer = get(rec, key);
    if outer.is_null() || !is_dict(outer) {
        return std::ptr::null_mut();
    }
    get(outer, field)
}

/// A stamp's epoch ms as `sqlite_rows.epoch_ms` gives it, when it is absent, None, empty or
/// canonical; any other value is the Python encoder's to read.
#[inline]
unsafe fn stamp_ms(o: *mut ffi::PyObject, default: i64) -> Result<i64, Defer> {
    if o.is_null() || o == ffi::Py_None() {
        return Ok(default);
    }
    if !is_str(o) {
        return Err("stamp type");
    }
    match ascii(o) {
        Some([]) => Ok(default),
        Some(b) => stamp::canonical_ms(b).ok_or("stamp not canonical"),
        None => Err("stamp not canonical"),
    }
}

/// An indexed column reduced as `sqlite_rows.scalar` reduces it (borrowed; null for NULL), for the
/// types whose reduction needs no Python call.
#[inline]
unsafe fn scalar(mut o: *mut ffi::PyObject) -> Result<*mut ffi::PyObject, Defer> {
    while !o.is_null() && is_list(o) {
        o = if ffi::PyList_GET_SIZE(o) > 0 {
            ffi::PyList_GET_ITEM(o, 0)
        } else {
            std::ptr::null_mut()
        };
    }
    if o.is_null() || o == ffi::Py_None() || is_dict(o) {
        return Ok(std::ptr::null_mut());
    }
    let plain = [
        std::ptr::addr_of_mut!(ffi::PyUnicode_Type),
        std::ptr::addr_of_mut!(ffi::PyLong_Type),
        std::ptr::addr_of_mut!(ffi::PyFloat_Type),
        std::ptr::addr_of_mut!(ffi::PyBool_Type),
        std::ptr::addr_of_mut!(ffi::PyBytes_Type),
    ];
    if plain.iter().any(|&t| is_type(o, t)) {
        Ok(o)
    } else {
        Err("column type")
    }
}

/// One batch's state: the document writer and the last ingest stamp read.
struct Batch<'py> {
    py: Python<'py>,
    keys: Keys<'py>,
    writer: Writer,
    now_ms: i64,
    checked: bool,
    null: *mut ffi::PyObject,
    dotted: *mut ffi::PyObject,
    /// The last `event.ingested` read: a batch usually shares one stamp object.
    ingested: Option<LastStamp<'py>>,
}

/// A stamp object's address (null: absent), a reference to it held so that the address stays
/// its own, and its ms as an int.
type LastStamp<'py> = (
    *mut ffi::PyObject,
    Option<Bound<'py, PyAny>>,
    Bound<'py, PyAny>,
);

impl<'py> Batch<'py> {
    /// The ingest stamp's ms as an int (borrowed from the batch), or why the record is Python's.
    unsafe fn ingested_ms(
        &mut self,
        ing: *mut ffi::PyObject,
    ) -> PyResult<Result<*mut ffi::PyObject, Defer>> {
        if let Some((last, _, ms)) = &self.ingested {
            if *last == ing {
                return Ok(Ok(ms.as_ptr()));
            }
        }
        let ms = match stamp_ms(ing, self.now_ms) {
            Ok(ms) => ms,
            Err(why) => return Ok(Err(why)),
        };
        let ms = Bound::from_owned_ptr_or_err(self.py, ffi::PyLong_FromLongLong(ms))?;
        let held = (!ing.is_null()).then(|| Bound::from_borrowed_ptr(self.py, ing));
        let ptr = ms.as_ptr();
        self.ingested = Some((ing, held, ms));
        Ok(Ok(ptr))
    }

    /// The document as a str: ASCII text is copied in without the UTF-8 decoder.
    unsafe fn document(&self) -> PyResult<*mut ffi::PyObject> {
        let buf = &self.writer.buf;
        let o = if self.writer.ascii {
            let o = ffi::PyUnicode_New(buf.len() as ffi::Py_ssize_t, 127);
            if !o.is_null() {
                // SAFETY: a compact ASCII str with room for buf.len() bytes; the text is ASCII.
                std::ptr::copy_nonoverlapping(
                    buf.as_ptr(),
                    ffi::PyUnicode_DATA(o) as *mut u8,
                    buf.len(),
                );
            }
            o
        } else {
            ffi::PyUnicode_DecodeUTF8(
                buf.as_ptr().cast(),
                buf.len() as ffi::Py_ssize_t,
                std::ptr::null(),
            )
        };
        if o.is_null() {
            Err(PyErr::fetch(self.py))
        } else {
            Ok(o)
        }
    }

    /// One event's row into `out`, or why it is the Python encoder's.
    unsafe fn row(
        &mut self,
        rec: *mut ffi::PyObject,
        out: &mut Owned,
    ) -> PyResult<Result<(), Defer>> {
        macro_rules! or_defer {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(why) => return Ok(Err(why)),
                }
            };
        }
        if !is_dict(rec) {
            return Ok(Err("record type"));
        }
        let ev = get(rec, &self.keys.event);
        if ev.is_null() || !is_dict(ev) {
            return Ok(Err("no event object"));
        }
        let rid = get(ev, &self.keys.id);
        if rid.is_null() || !is_str(rid) || ffi::PyUnicode_GET_LENGTH(rid) == 0 {
            return Ok(Err("event.id not a str"));
        }
        let ing_ms = or_defer!(self.ingested_ms(get(ev, &self.keys.ingested))?);
        let ts = or_defer!(stamp_ms(get(rec, &self.keys.timestamp), self.now_ms));
        let k = &self.keys;
        let mut columns = [
            nested(rec, &k.host, &k.name),
            get(ev, &k.dataset),
            get(ev, &k.action),
            nested(rec, &k.source, &k.ip),
            nested(rec, &k.destination, &k.ip),
            nested(rec, &k.user, &k.name),
        ];
        if self.checked {
            for c in &mut columns {
                *c = or_defer!(scalar(*c));
            }
        }
        self.writer.clear();
        or_defer!(self.writer.object(rec, 0, self.dotted));
        let doc = self.document()?;
        let ts = ffi::PyLong_FromLongLong(ts);
        if ts.is_null() {
            ffi::Py_DECREF(doc);
            return Err(PyErr::fetch(self.py));
        }
        out.0.reserve(WIDTH);
        ffi::Py_INCREF(rid);
        ffi::Py_INCREF(ing_ms);
        out.0.extend([rid, ts, ing_ms]);
        for c in columns {
            let v = if c.is_null() { self.null } else { c };
            ffi::Py_INCREF(v);
            out.0.push(v);
        }
        out.0.push(doc);
        Ok(Ok(()))
    }
}

/// `encode_events(recs, now_ms, checked, null, dotted, fallback)`: the events' flat row values as
/// `sqlite_rows._encode_events` gives them. A record this encoder cannot give exactly the same
/// values for is passed to `fallback(rec, reason)`, which returns its values (a list; empty when
/// it failed), and they take its place in the batch's order.
#[pyfunction]
fn encode_events<'py>(
    py: Python<'py>,
    recs: &Bound<'py, PyList>,
    now_ms: i64,
    checked: bool,
    null: &Bound<'py, PyAny>,
    dotted: &Bound<'py, PyAny>,
    fallback: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let mut batch = Batch {
        py,
        keys: Keys::new(py),
        writer: Writer::default(),
        now_ms,
        checked,
        null: null.as_ptr(),
        dotted: dotted.as_ptr(),
        ingested: None,
    };
    let version = py.version_info();
    batch.writer.dicts_311 = (version.major, version.minor) == (3, 11);
    // SAFETY: every object is used under the GIL, borrowed from a dict or list that no Python
    // code runs against between the read and its use (the fallback runs between records).
    unsafe {
        if ffi::PyFrozenSet_Check(batch.dotted) == 0 {
            return Err(PyTypeError::new_err("dotted must be a frozenset"));
        }
        let mut out = Owned(Vec::with_capacity(recs.len() * WIDTH));
        let mut i = 0;
        while i < recs.len() {
            let rec = recs.get_item(i)?;
            if let Err(why) = batch.row(rec.as_ptr(), &mut out)? {
                let values = fallback.call1((&rec, why))?;
                let values = values.cast::<PyList>()?;
                for v in values.iter() {
                    out.0.push(v.into_ptr());
                }
            }
            i += 1;
        }
        let list = ffi::PyList_New(out.0.len() as ffi::Py_ssize_t);
        if list.is_null() {
            return Err(PyErr::fetch(py));
        }
        for (j, o) in out.0.drain(..).enumerate() {
            ffi::PyList_SET_ITEM(list, j as ffi::Py_ssize_t, o);
        }
        Ok(Bound::from_owned_ptr(py, list).cast_into_unchecked())
    }
}

#[pymodule]
fn _rows_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(encode_events, m)?)?;
    Ok(())
}
