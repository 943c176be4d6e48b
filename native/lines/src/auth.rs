//! The syslog parser's fast path (collectors/syslog.py): RFC 3164 lines of sshd, sudo, pam_unix
//! (CRON and others) and plain programs to the event SyslogParser makes of them, or None.
//!
//! `Shapes(specs, programs, is_ip)` is made once: the joined head+body shape specs of syslog.py
//! (4 head kinds x the bodies of auth_body.rs), the program names syslog.PROGRAMS gives a parser of
//! its own, and addresses.is_ip. Each SyslogParser has a `SyslogFast(shapes)`; it pushes its batch
//! context with `context(...)` when that changes and calls `fast(line, position, host, observer)`.

use std::collections::HashMap;
use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::auth_body::{self, IsIp, SHAPES, V, WORDS};
use crate::line_text::{plain_ascii, position as line_position, Line};
use crate::shape::{ascii, Built};
use crate::syslog_head;

/// Value paths the Rust side fills, per body shape (checked against the specs handed over).
const BODY_PATHS: [&[&str]; SHAPES] = [
    &[],
    &[],
    &[
        "user.name",
        "system.auth.ssh.method",
        "source.ip",
        "source.port",
        "source.domain",
    ],
    &[
        "user.name",
        "system.auth.ssh.method",
        "source.ip",
        "source.port",
        "source.domain",
    ],
    &["user.name", "source.ip", "source.port", "source.domain"],
    &[
        "user.name",
        "system.auth.ssh.event",
        "source.ip",
        "source.port",
        "source.domain",
    ],
    &["user.name", "source.ip", "source.domain"],
    &["event.type", "event.action", "user.name"],
    &[
        "event.type",
        "event.action",
        "user.name",
        "system.auth.pam.by",
    ],
    &[
        "event.category",
        "event.type",
        "event.outcome",
        "user.name",
        "user.effective.name",
        "process.command_line",
        "system.auth.sudo.command",
        "system.auth.sudo.tty",
        "system.auth.sudo.pwd",
        "system.auth.sudo.error",
    ],
    &["user.name", "source.ip", "source.port", "source.domain"],
    &["source.ip"],
    &["user.name", "source.ip", "source.domain"],
];

const HEAD_PATHS: [&str; 16] = [
    "@timestamp",
    "event.id",
    "event.ingested",
    "event.original",
    "log.file.path",
    "message",
    "host.name",
    "observer.hostname",
    "log.syslog.hostname",
    "log.syslog.appname",
    "log.syslog.procid",
    "process.name",
    "process.pid",
    "log.syslog.priority",
    "log.syslog.facility.code",
    "log.syslog.severity.code",
];
const NOT_FILE: usize = 2;
const NO_PRIORITY: usize = 1;

/// The head paths of head kind `kind` (bit 1: no file path, bit 0: no priority), as syslog._HEADS.
fn head_paths(kind: usize) -> Vec<&'static str> {
    HEAD_PATHS
        .iter()
        .enumerate()
        .filter(|(i, _)| !(*i == 4 && kind & NOT_FILE != 0 || *i >= 13 && kind & NO_PRIORITY != 0))
        .map(|(_, p)| *p)
        .collect()
}

/// What every SyslogFast shares: the compiled shapes and program table.
#[pyclass(frozen, module = "canh.collectors._lines_native")]
pub struct Shapes {
    built: Vec<Built>, // kind * SHAPES + body shape
    programs: Vec<Vec<u8>>,
    words: Vec<Py<PyString>>,
    is_ip: Py<PyAny>,
}

#[pymethods]
impl Shapes {
    /// `specs[kind][shape]`: (head + body spec, head paths, body paths), as syslog.py makes them.
    #[new]
    fn new(
        py: Python<'_>,
        specs: &Bound<'_, PyList>,
        programs: Vec<String>,
        is_ip: Py<PyAny>,
    ) -> PyResult<Self> {
        if specs.len() != 4 {
            return Err(PyValueError::new_err("four head kinds"));
        }
        let mut built = Vec::new();
        for (kind, row) in specs.iter().enumerate() {
            let row = row.cast_into::<PyList>()?;
            if row.len() != SHAPES {
                return Err(PyValueError::new_err(format!("{SHAPES} body shapes")));
            }
            for (shape, item) in row.iter().enumerate() {
                let (spec, heads, bodies): (Bound<'_, PyList>, Vec<String>, Vec<String>) =
                    item.extract()?;
                if heads != head_paths(kind) || bodies != BODY_PATHS[shape] {
                    return Err(PyValueError::new_err(format!(
                        "shape {kind}/{shape}: values {heads:?} + {bodies:?} are not the ones filled here"
                    )));
                }
                let b = Built::new(py, &spec)?;
                if b.values != heads.len() + bodies.len() {
                    return Err(PyValueError::new_err("values"));
                }
                built.push(b);
            }
        }
        Ok(Shapes {
            built,
            programs: programs.into_iter().map(String::into_bytes).collect(),
            words: WORDS
                .iter()
                .map(|w| PyString::intern(py, w).unbind())
                .collect(),
            is_ip,
        })
    }
}

/// One batch's context (SyslogParser._context).
struct Batch {
    id_prefix: Vec<u8>,
    ingested: Py<PyAny>,
    path: Option<Py<PyAny>>,
    kind: usize,
    hours: Py<PyDict>,
    hour: Py<PyAny>,
}

/// The fast path of one SyslogParser.
#[pyclass(frozen, module = "canh.collectors._lines_native")]
pub struct SyslogFast {
    shapes: Py<Shapes>,
    // Taken with try_lock: a call made while another holds it (another thread, while this one is
    // in a Python callback) leaves its line to Python rather than wait holding the GIL.
    state: Mutex<State>,
}

struct State {
    batch: Option<Batch>,
    // UTC "YYYY-MM-DDTHH:" by local hour as written, "" (None here) for the zones whose hours
    // do not fall on UTC hours; the last one apart (lines come in time order).
    last: (Vec<u8>, Option<[u8; 14]>),
    seen: HashMap<Vec<u8>, Option<[u8; 14]>>,
}

struct Net<'py> {
    py: Python<'py>,
    is_ip: &'py Py<PyAny>,
    failed: Option<PyErr>,
}

impl IsIp for Net<'_> {
    fn is_ip(&mut self, text: &[u8]) -> Option<bool> {
        if !text.contains(&b':') {
            return Some(auth_body::is_ipv4(text));
        }
        if !text
            .iter()
            .all(|c| c.is_ascii_hexdigit() || *c == b':' || *c == b'.')
        {
            return Some(false);
        }
        let arg = PyString::new(self.py, std::str::from_utf8(text).ok()?);
        match self
            .is_ip
            .bind(self.py)
            .call1((arg,))
            .and_then(|r| r.is_truthy())
        {
            Ok(answer) => Some(answer),
            Err(e) => {
                self.failed = Some(e);
                None
            }
        }
    }
}

/// Owned references for the values of one event, released when dropped.
struct Values {
    v: [*mut ffi::PyObject; 32],
    n: usize,
    failed: bool, // an object could not be made (its error is set)
}

impl Values {
    fn push(&mut self, o: *mut ffi::PyObject) {
        self.v[self.n] = o;
        self.n += 1;
    }
    /// A new object that may not be None: a null is a failure to make it.
    fn made(&mut self, o: *mut ffi::PyObject) {
        self.failed |= o.is_null();
        self.push(o);
    }
    /// A borrowed object, or None (null), taken as a new reference.
    fn borrowed(&mut self, o: *mut ffi::PyObject) {
        if !o.is_null() {
            // SAFETY: a live object the caller holds; the reference taken is released on drop.
            unsafe { ffi::Py_INCREF(o) };
        }
        self.push(o);
    }
}

impl Drop for Values {
    fn drop(&mut self) {
        for &o in &self.v[..self.n] {
            if !o.is_null() {
                // SAFETY: each non-null entry is an owned reference (the GIL is held where Values live).
                unsafe { ffi::Py_DECREF(o) };
            }
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// syslog._program: the name before a "(" (not at the start), lowercased, into `out`; None when
/// longer than `out` (such lines take the Python path).
fn lower_name<'o>(raw: &[u8], out: &'o mut [u8; 32]) -> Option<&'o [u8]> {
    let end = match raw.iter().position(|&c| c == b'(') {
        Some(p) if p > 0 => p,
        _ => raw.len(),
    };
    let name = out.get_mut(..end)?;
    name.copy_from_slice(&raw[..end]);
    name.make_ascii_lowercase();
    Some(name)
}

impl State {
    /// The UTC hour prefix of a local hour as written, through the Python hour table (and its
    /// `_hour_prefix` for a new one), as SyslogParser.parse looks it up.
    fn hour(&mut self, py: Python<'_>, hour: &[u8]) -> PyResult<Option<[u8; 14]>> {
        if self.last.0 == hour {
            return Ok(self.last.1);
        }
        let prefix = match self.seen.get(hour) {
            Some(p) => *p,
            None => {
                let batch = self.batch.as_ref().expect("a context");
                let key = PyString::new(py, std::str::from_utf8(hour).expect("ASCII"));
                let hours = batch.hours.bind(py);
                let text = match hours.get_item(&key)? {
                    Some(t) => t,
                    None => {
                        let t = batch.hour.bind(py).call1((&key,))?;
                        hours.set_item(&key, &t)?;
                        t
                    }
                };
                let text = text.cast_into::<PyString>()?;
                let text = text.to_str()?.as_bytes();
                let p = if text.len() == 14 {
                    Some(text.try_into().expect("14 bytes"))
                } else {
                    None
                };
                if self.seen.len() >= 10_000 {
                    self.seen.clear();
                }
                self.seen.insert(hour.to_vec(), p);
                p
            }
        };
        self.last = (hour.to_vec(), prefix);
        Ok(prefix)
    }
}

#[pymethods]
impl SyslogFast {
    #[new]
    fn new(shapes: Py<Shapes>) -> Self {
        let state = State {
            batch: None,
            last: (Vec::new(), None),
            seen: HashMap::new(),
        };
        SyslogFast {
            shapes,
            state: Mutex::new(state),
        }
    }

    /// The batch's context: event id prefix of the source, ingest stamp, log.file.path (or None),
    /// the hour table of its year, month and zone, and the function that fills it. False: the
    /// state is in use (see `state`), this context's lines are to be read in Python.
    fn context(
        &self,
        id_prefix: &str,
        ingested: Py<PyAny>,
        path: Option<Py<PyAny>>,
        hours: Py<PyDict>,
        hour: Py<PyAny>,
    ) -> bool {
        let Ok(mut st) = self.state.try_lock() else {
            return false;
        };
        let kind = if path.is_some() { 0 } else { NOT_FILE };
        st.batch = Some(Batch {
            id_prefix: id_prefix.as_bytes().to_vec(),
            ingested,
            path,
            kind,
            hours,
            hour,
        });
        st.last = (Vec::new(), None);
        st.seen.clear();
        true
    }

    /// The event of `line` (SyslogParser.parse's), or None for the Python parser to read it.
    fn fast<'py>(
        &self,
        py: Python<'py>,
        line: &Bound<'py, PyString>,
        position: &Bound<'py, PyAny>,
        host: &Bound<'py, PyAny>,
        observer: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Ok(mut st) = self.state.try_lock() else {
            return Ok(None);
        };
        if st.batch.is_none() {
            return Ok(None);
        }
        let Some(Line { text, whole }) = plain_ascii(line) else {
            return Ok(None);
        };
        let Some(offset) = line_position(position) else {
            return Ok(None);
        };
        let Some(head) = syslog_head::parse(text) else {
            return Ok(None);
        };
        let shapes = self.shapes.get();
        let mut name_buf = [0u8; 32];
        let prog_name: &[u8] = match head.prog {
            Some(p) => match lower_name(p, &mut name_buf) {
                Some(name) => name,
                None => return Ok(None),
            },
            None => b"",
        };
        if head.prog.is_some_and(|p| p.contains(&b'=')) {
            return Ok(None);
        }
        if let Some(pid) = head.pid {
            if pid.len() > 18 {
                return Ok(None);
            }
        }
        let mut net = Net {
            py,
            is_ip: &shapes.is_ip,
            failed: None,
        };
        let body = match prog_name {
            name if shapes.programs.iter().any(|p| p == name) => None,
            b"sshd" | b"sshd-session" => auth_body::sshd(head.msg, &mut net),
            b"sudo" => auth_body::sudo(head.msg, &mut net),
            b"su" => auth_body::su(head.msg, &mut net),
            b"kernel" => auth_body::kernel(head.msg),
            _ => auth_body::generic(head.msg, &mut net),
        };
        if let Some(e) = net.failed {
            return Err(e);
        }
        let Some((shape, body)) = body else {
            return Ok(None);
        };
        let Some(prefix) = st.hour(py, head.hour)? else {
            return Ok(None);
        };
        let batch = st.batch.as_ref().expect("a context");
        let kind = batch.kind + if head.pri.is_some() { 0 } else { NO_PRIORITY };
        let built = &shapes.built[kind * SHAPES + shape];

        let mut stamp = [0u8; 24];
        stamp[..14].copy_from_slice(&prefix);
        stamp[14..19].copy_from_slice(head.mmss);
        stamp[19..].copy_from_slice(b".000Z");
        let mut eid_buf = [0u8; 48];
        let p = batch.id_prefix.len();
        let Some(eid) = eid_buf.get_mut(..p + 16) else {
            return Ok(None);
        };
        eid[..p].copy_from_slice(&batch.id_prefix);
        for k in 0..16 {
            eid[p + k] = HEX[((offset >> ((15 - k) * 4)) & 15) as usize];
        }

        let mut vals = Values {
            v: [std::ptr::null_mut(); 32],
            n: 0,
            failed: false,
        };
        // SAFETY: the GIL is held; every object made is checked for null below and owned by vals.
        unsafe {
            vals.made(ascii(&stamp));
            vals.made(ascii(eid));
            vals.borrowed(batch.ingested.as_ptr());
            if whole {
                vals.borrowed(line.as_ptr());
            } else {
                vals.made(ascii(text));
            }
            if let Some(p) = &batch.path {
                vals.borrowed(p.as_ptr());
            }
            vals.made(ascii(head.msg));
            let host_at = vals.n;
            match head.host {
                Some(h) => vals.made(ascii(h)),
                None => {
                    let h = host.as_ptr();
                    let given = h != ffi::Py_None() && ffi::PyObject_IsTrue(h) == 1;
                    vals.borrowed(if given { h } else { std::ptr::null_mut() });
                }
            }
            let o = observer.as_ptr();
            vals.borrowed(if o == ffi::Py_None() {
                std::ptr::null_mut()
            } else {
                o
            });
            if head.host.is_some() {
                vals.borrowed(vals.v[host_at]);
            } else {
                vals.push(std::ptr::null_mut());
            }
            let app_at = vals.n;
            match head.prog {
                Some(p) => vals.made(ascii(p)),
                None => vals.push(std::ptr::null_mut()),
            }
            match head.pid {
                Some(p) => vals.made(ascii(p)),
                None => vals.push(std::ptr::null_mut()),
            }
            match head.prog {
                Some(p) if p == prog_name => vals.borrowed(vals.v[app_at]),
                Some(_) if !prog_name.is_empty() => vals.made(ascii(prog_name)),
                _ => vals.push(std::ptr::null_mut()),
            }
            match head.pid {
                Some(p) => vals.made(ffi::PyLong_FromLongLong(auth_body_int(p))),
                None => vals.push(std::ptr::null_mut()),
            }
            if let Some(p) = head.pri {
                let p = auth_body_int(p);
                vals.made(ffi::PyLong_FromLongLong(p));
                vals.made(ffi::PyLong_FromLongLong(p >> 3));
                vals.made(ffi::PyLong_FromLongLong(p & 7));
            }
            for v in body.values() {
                let o = match *v {
                    V::Null => std::ptr::null_mut(),
                    V::Str(s) => ascii(s),
                    V::Int(i) => ffi::PyLong_FromLongLong(i),
                    V::Word(w) => {
                        let o = shapes.words[w as usize].as_ptr();
                        ffi::Py_INCREF(o);
                        o
                    }
                    V::List(w) => {
                        let list = ffi::PyList_New(1);
                        if !list.is_null() {
                            let o = shapes.words[w as usize].as_ptr();
                            ffi::Py_INCREF(o);
                            ffi::PyList_SET_ITEM(list, 0, o);
                        }
                        list
                    }
                };
                if matches!(v, V::Null) {
                    vals.push(o);
                } else {
                    vals.made(o);
                }
            }
            if vals.n != built.values || vals.failed {
                return Err(PyErr::fetch(py));
            }
            let ev = built.build(&vals.v[..vals.n]);
            if ev.is_null() {
                return Err(PyErr::fetch(py));
            }
            Ok(Some(Bound::from_owned_ptr(py, ev)))
        }
    }
}

fn auth_body_int(digits: &[u8]) -> i64 {
    digits.iter().fold(0i64, |n, &c| n * 10 + (c - b'0') as i64)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Shapes>()?;
    m.add_class::<SyslogFast>()?;
    Ok(())
}
