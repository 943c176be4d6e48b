//! `WebAccess`: the plain common/combined access lines of collectors/weblogs.py's WebLogParser, to
//! exactly the event it builds (same keys in the same order, same value types).
//!
//! WebLogParser pushes what a batch's lines share (`context`) and then calls `parse(line, position)`
//! for each line; None means "not a line this handles" and the Python parser reads it as before.

use crate::access_line::{self, Span};
use crate::clf_stamp::utc_stamp;
use crate::line_text::{plain_ascii, position as line_position, Line};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;
use std::ptr;

extern "C" {
    // CPython's own sizing for a dict about to get `minused` keys (BUILD_MAP uses it): growing an
    // event's dicts key by key rehashes them at 6 and 11 keys.
    fn _PyDict_NewPresized(minused: ffi::Py_ssize_t) -> *mut ffi::PyObject;
}

/// An owned reference, released on drop (a raw pointer keeps the per-field cost at the C calls).
struct Owned(*mut ffi::PyObject);

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: the pointer is a new reference this value owns (never NULL: see `owned`).
        unsafe { ffi::Py_DECREF(self.0) }
    }
}

/// A new reference or the pending Python error.
fn owned(py: Python<'_>, p: *mut ffi::PyObject) -> PyResult<Owned> {
    if p.is_null() {
        Err(PyErr::fetch(py))
    } else {
        Ok(Owned(p))
    }
}

fn dict(py: Python<'_>, n: usize) -> PyResult<Owned> {
    // SAFETY: returns a new reference or NULL with an exception set.
    owned(py, unsafe { _PyDict_NewPresized(n as ffi::Py_ssize_t) })
}

/// `d[k] = v` (the dict takes its own reference to both).
fn set(py: Python<'_>, d: &Owned, k: &Py<PyString>, v: *mut ffi::PyObject) -> PyResult<()> {
    // SAFETY: d is a dict, k and v live objects.
    if unsafe { ffi::PyDict_SetItem(d.0, k.as_ptr(), v) } == 0 {
        Ok(())
    } else {
        Err(PyErr::fetch(py))
    }
}

/// A new str of ASCII bytes, copied in without the UTF-8 decoder.
fn ascii(py: Python<'_>, s: &[u8]) -> PyResult<Owned> {
    // SAFETY: PyUnicode_New(n, 127) makes a compact ASCII string with room for n bytes; the bytes
    // copied are ASCII (the line was checked), so the string is valid.
    unsafe {
        let o = owned(py, ffi::PyUnicode_New(s.len() as ffi::Py_ssize_t, 127))?;
        ptr::copy_nonoverlapping(s.as_ptr(), ffi::PyUnicode_DATA(o.0) as *mut u8, s.len());
        Ok(o)
    }
}

fn int(py: Python<'_>, n: u64) -> PyResult<Owned> {
    // SAFETY: returns a new reference or NULL with an exception set.
    owned(py, unsafe { ffi::PyLong_FromUnsignedLongLong(n) })
}

/// `[item]`, a new list for every event (the Python events do not share theirs).
fn list1(py: Python<'_>, item: &Py<PyString>) -> PyResult<Owned> {
    // SAFETY: PyList_New(1) has one empty slot, which PyList_SET_ITEM fills with a new reference.
    unsafe {
        let l = owned(py, ffi::PyList_New(1))?;
        ffi::Py_INCREF(item.as_ptr());
        ffi::PyList_SET_ITEM(l.0, 0, item.as_ptr());
        Ok(l)
    }
}

/// The dict keys and constant values, interned once.
struct Names {
    timestamp: Py<PyString>,
    ecs: Py<PyString>,
    version: Py<PyString>,
    event: Py<PyString>,
    id: Py<PyString>,
    kind: Py<PyString>,
    dataset: Py<PyString>,
    module: Py<PyString>,
    ingested: Py<PyString>,
    original: Py<PyString>,
    category: Py<PyString>,
    type_: Py<PyString>,
    action: Py<PyString>,
    outcome: Py<PyString>,
    log: Py<PyString>,
    file: Py<PyString>,
    path: Py<PyString>,
    host: Py<PyString>,
    name: Py<PyString>,
    observer: Py<PyString>,
    hostname: Py<PyString>,
    source: Py<PyString>,
    ip: Py<PyString>,
    domain: Py<PyString>,
    user: Py<PyString>,
    http: Py<PyString>,
    response: Py<PyString>,
    status_code: Py<PyString>,
    body: Py<PyString>,
    bytes: Py<PyString>,
    request: Py<PyString>,
    referrer: Py<PyString>,
    method: Py<PyString>,
    user_agent: Py<PyString>,
    url: Py<PyString>,
    query: Py<PyString>,
    extension: Py<PyString>,
    web: Py<PyString>,
    access: Py<PyString>,
    success: Py<PyString>,
    failure: Py<PyString>,
    /// The commonest methods and versions, shared by the events rather than made for each.
    common: [(&'static [u8], Py<PyString>); 6],
}

impl Names {
    fn new(py: Python<'_>) -> Self {
        let n = |s: &str| PyString::intern(py, s).unbind();
        Names {
            timestamp: n("@timestamp"),
            ecs: n("ecs"),
            version: n("version"),
            event: n("event"),
            id: n("id"),
            kind: n("kind"),
            dataset: n("dataset"),
            module: n("module"),
            ingested: n("ingested"),
            original: n("original"),
            category: n("category"),
            type_: n("type"),
            action: n("action"),
            outcome: n("outcome"),
            log: n("log"),
            file: n("file"),
            path: n("path"),
            host: n("host"),
            name: n("name"),
            observer: n("observer"),
            hostname: n("hostname"),
            source: n("source"),
            ip: n("ip"),
            domain: n("domain"),
            user: n("user"),
            http: n("http"),
            response: n("response"),
            status_code: n("status_code"),
            body: n("body"),
            bytes: n("bytes"),
            request: n("request"),
            referrer: n("referrer"),
            method: n("method"),
            user_agent: n("user_agent"),
            url: n("url"),
            query: n("query"),
            extension: n("extension"),
            web: n("web"),
            access: n("access"),
            success: n("success"),
            failure: n("failure"),
            common: [&b"GET"[..], b"POST", b"HEAD", b"1.1", b"1.0", b"2.0"]
                .map(|t: &'static [u8]| (t, n(std::str::from_utf8(t).unwrap_or_default()))),
        }
    }
}

/// What the lines of one batch share (WebLogParser._context's state).
struct Context {
    prefix: [u8; 16],
    ingested: Py<PyAny>,
    path: Option<Py<PyAny>>,
    host: Option<Py<PyAny>>,
    observer: Option<Py<PyAny>>,
    dataset: Py<PyString>,
    module: Py<PyString>,
}

/// The access line fast path of one WebLogParser.
#[pyclass(module = "canh.collectors._lines_native")]
pub struct WebAccess {
    names: Names,
    ecs_version: Py<PyString>,
    ctx: Option<Context>,
    /// The last whole-hour-offset stamp's "dd/Mon/yyyy:HH", " +hhmm" and UTC "yyyy-mm-ddTHH:":
    /// lines come in time order, and within that hour minutes and seconds are copied as written.
    last_hour: ([u8; 14], [u8; 6], [u8; 14]),
}

#[pymethods]
impl WebAccess {
    /// `ecs_version`: canh.events.ECS_VERSION, the events' ecs.version.
    #[new]
    fn new(py: Python<'_>, ecs_version: Bound<'_, PyString>) -> Self {
        WebAccess {
            names: Names::new(py),
            ecs_version: ecs_version.unbind(),
            ctx: None,
            last_hour: ([0; 14], [0; 6], [0; 14]),
        }
    }

    /// The batch's event id prefix, event.ingested, log.file.path (None: none), host.name (None:
    /// none), observer.hostname (None: none) and vendor (nginx/apache).
    /// Any other prefix than id_prefix's 16 characters leaves every line to Python.
    #[pyo3(signature = (prefix, ingested, path, host, observer, vendor))]
    #[allow(clippy::too_many_arguments)]
    fn context(
        &mut self,
        py: Python<'_>,
        prefix: &str,
        ingested: Bound<'_, PyAny>,
        path: Option<Bound<'_, PyAny>>,
        host: Option<Bound<'_, PyAny>>,
        observer: Option<Bound<'_, PyAny>>,
        vendor: &str,
    ) {
        let Ok(prefix) = <[u8; 16]>::try_from(prefix.as_bytes()) else {
            self.ctx = None;
            return;
        };
        self.ctx = Some(Context {
            prefix,
            ingested: ingested.unbind(),
            path: path.map(Bound::unbind),
            host: host.map(Bound::unbind),
            observer: observer.map(Bound::unbind),
            dataset: PyString::intern(py, &format!("{vendor}.access")).unbind(),
            module: PyString::intern(py, vendor).unbind(),
        });
    }

    /// Handle no line until the next `context`.
    fn clear(&mut self) {
        self.ctx = None;
    }

    /// The event of an access line at byte `position`, or None for a line left to Python.
    fn parse<'py>(
        &mut self,
        py: Python<'py>,
        line: &Bound<'py, PyAny>,
        position: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(ctx) = &self.ctx else {
            return Ok(None);
        };
        let line_ptr = line.as_ptr();
        let Some(Line { text: s, whole }) = plain_ascii(line) else {
            return Ok(None);
        };
        if s.is_empty() {
            return Ok(None);
        }
        let Some(pos) = line_position(position) else {
            return Ok(None);
        };
        let escaped = memchr::memchr(b'\\', s).is_some();
        let Some(a) = access_line::split(s, escaped) else {
            return Ok(None);
        };
        let Some(stamp) = stamp(&mut self.last_hour, &s[a.ts.0..a.ts.1]) else {
            return Ok(None);
        };
        let ip = &s[a.ip.0..a.ip.1];
        let is_address = if memchr::memchr(b':', ip).is_some() {
            access_line::is_ipv6(ip)
        } else {
            access_line::is_ipv4(ip)
        };
        let text = if whole {
            // SAFETY: a new reference to the line itself.
            unsafe {
                ffi::Py_INCREF(line_ptr);
                Owned(line_ptr)
            }
        } else {
            ascii(py, s)?
        };
        self.event(py, ctx, s, &a, &stamp, pos, is_address, text, escaped)
            .map(Some)
    }
}

impl WebAccess {
    /// The event as `_access_build(vendor, log_file)` makes it.
    #[allow(clippy::too_many_arguments)]
    fn event<'py>(
        &self,
        py: Python<'py>,
        ctx: &Context,
        s: &[u8],
        a: &access_line::AccessLine,
        stamp: &[u8; 24],
        pos: u64,
        is_address: bool,
        text: Owned,
        escaped: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = &self.names;
        let sub = |span: Span| ascii(py, &s[span.0..span.1]);
        // "x" or None for "", "-": user, referrer, user agent
        let given = |span: Span| given_text(py, &s[span.0..span.1]);
        // the same for a quoted field, read with its \" as " (weblogs._unescape)
        let given_quoted =
            |span: Span| given_text(py, &access_line::unescape(&s[span.0..span.1], escaped));
        let ev = dict(py, 11)?;
        set(py, &ev, &k.timestamp, ascii(py, stamp)?.0)?;
        let ecs = dict(py, 1)?;
        set(py, &ecs, &k.version, self.ecs_version.as_ptr())?;
        set(py, &ev, &k.ecs, ecs.0)?;

        let event = dict(py, 10)?;
        // prefix + position.to_bytes(8, "big").hex(); the prefix is 16 hex digits (checked in context)
        let mut id = [0u8; 32];
        id[..16].copy_from_slice(&ctx.prefix);
        for (i, byte) in pos.to_be_bytes().into_iter().enumerate() {
            id[16 + 2 * i] = b"0123456789abcdef"[(byte >> 4) as usize];
            id[17 + 2 * i] = b"0123456789abcdef"[(byte & 15) as usize];
        }
        set(py, &event, &k.id, ascii(py, &id)?.0)?;
        set(py, &event, &k.kind, k.event.as_ptr())?;
        set(py, &event, &k.dataset, ctx.dataset.as_ptr())?;
        set(py, &event, &k.module, ctx.module.as_ptr())?;
        set(py, &event, &k.ingested, ctx.ingested.as_ptr())?;
        set(py, &event, &k.original, text.0)?;
        set(py, &event, &k.category, list1(py, &k.web)?.0)?;
        set(py, &event, &k.type_, list1(py, &k.access)?.0)?;
        set(py, &event, &k.action, k.access.as_ptr())?;
        if let Some(status) = a.status {
            set(
                py,
                &event,
                &k.outcome,
                if status < 400 {
                    k.success.as_ptr()
                } else {
                    k.failure.as_ptr()
                },
            )?;
        }
        set(py, &ev, &k.event, event.0)?;

        if let Some(path) = &ctx.path {
            let file = dict(py, 1)?;
            set(py, &file, &k.path, path.as_ptr())?;
            let log = dict(py, 1)?;
            set(py, &log, &k.file, file.0)?;
            set(py, &ev, &k.log, log.0)?;
        }
        for (key, inner, value) in [
            (&k.host, &k.name, &ctx.host),
            (&k.observer, &k.hostname, &ctx.observer),
        ] {
            if let Some(value) = value {
                let d = dict(py, 1)?;
                set(py, &d, inner, value.as_ptr())?;
                set(py, &ev, key, d.0)?;
            }
        }
        let source = dict(py, 1)?;
        set(
            py,
            &source,
            if is_address { &k.ip } else { &k.domain },
            sub(a.ip)?.0,
        )?;
        set(py, &ev, &k.source, source.0)?;
        if let Some(user) = given(a.user)? {
            let d = dict(py, 1)?;
            set(py, &d, &k.name, user.0)?;
            set(py, &ev, &k.user, d.0)?;
        }

        let req_text = access_line::unescape(&s[a.req.0..a.req.1], escaped);
        let req: &[u8] = &req_text;
        let r = access_line::split_request(req);
        let rsub = |span: Option<Span>| span.map(|(x, y)| ascii(py, &req[x..y])).transpose();
        let rcommon = |span: Option<Span>| {
            span.map(
                |(x, y)| match k.common.iter().find(|(t, _)| *t == &req[x..y]) {
                    // SAFETY: a new reference to a string the names keep alive.
                    Some((_, v)) => unsafe {
                        ffi::Py_INCREF(v.as_ptr());
                        Ok(Owned(v.as_ptr()))
                    },
                    None => ascii(py, &req[x..y]),
                },
            )
            .transpose()
        };
        let http = dict(py, 3)?;
        if a.status.is_some() || a.bytes.is_some() {
            let response = dict(py, 2)?;
            if let Some(status) = a.status {
                set(py, &response, &k.status_code, int(py, status as u64)?.0)?;
            }
            if let Some(bytes) = a.bytes {
                let body = dict(py, 1)?;
                set(py, &body, &k.bytes, int(py, bytes)?.0)?;
                set(py, &response, &k.body, body.0)?;
            }
            set(py, &http, &k.response, response.0)?;
        }
        let (referrer, agent) = match a.ref_ua {
            Some((r, u)) => (given_quoted(r)?, given_quoted(u)?),
            None => (None, None),
        };
        let method = rcommon(r.method)?;
        if referrer.is_some() || method.is_some() {
            let request = dict(py, 2)?;
            if let Some(v) = &referrer {
                set(py, &request, &k.referrer, v.0)?;
            }
            if let Some(v) = &method {
                set(py, &request, &k.method, v.0)?;
            }
            set(py, &http, &k.request, request.0)?;
        }
        if let Some(v) = rcommon(r.version)? {
            set(py, &http, &k.version, v.0)?;
        }
        // SAFETY: http is a dict.
        if unsafe { ffi::PyDict_Size(http.0) } > 0 {
            set(py, &ev, &k.http, http.0)?;
        }
        if let Some(v) = agent {
            let d = dict(py, 1)?;
            set(py, &d, &k.original, v.0)?;
            set(py, &ev, &k.user_agent, d.0)?;
        }
        if r.original.is_some() {
            let url = dict(py, 4)?;
            let extension = r.extension.map(|(x, y)| req[x..y].to_ascii_lowercase());
            for (key, value) in [
                (&k.original, rsub(r.original)?),
                (&k.path, rsub(r.path)?),
                (&k.query, rsub(r.query)?),
            ] {
                if let Some(v) = value {
                    set(py, &url, key, v.0)?;
                }
            }
            if let Some(ext) = extension {
                set(py, &url, &k.extension, ascii(py, &ext)?.0)?;
            }
            set(py, &ev, &k.url, url.0)?;
        }
        // SAFETY: ev is a new reference this function owns; it is handed over.
        let out = unsafe { Bound::from_owned_ptr(py, ev.0) };
        std::mem::forget(ev);
        Ok(out)
    }
}

/// utc_stamp, through the last hour's UTC prefix when the stamp is of that hour.
fn stamp(last_hour: &mut ([u8; 14], [u8; 6], [u8; 14]), ts: &[u8]) -> Option<[u8; 24]> {
    let (hour, offset, prefix) = *last_hour;
    let two = |i: usize| ts[i].is_ascii_digit() && ts[i + 1].is_ascii_digit() && ts[i] < b'6';
    if ts.len() == 26
        && ts[..14] == hour
        && ts[20..] == offset
        && ts[14] == b':'
        && ts[17] == b':'
        && two(15)
        && two(18)
    {
        let mut out = *b"0000-00-00T00:00:00.000Z";
        out[..14].copy_from_slice(&prefix);
        out[14..19].copy_from_slice(&ts[15..20]);
        return Some(out);
    }
    let out = utc_stamp(ts)?;
    if &ts[24..26] == b"00" {
        // A whole-hour offset leaves minutes and seconds as written.
        let mut key = (hour, offset, prefix);
        key.0.copy_from_slice(&ts[..14]);
        key.1.copy_from_slice(&ts[20..]);
        key.2.copy_from_slice(&out[..14]);
        *last_hour = key;
    }
    Some(out)
}

/// `v` as a str, or None for "" and "-" (user, referrer, user agent).
fn given_text(py: Python<'_>, v: &[u8]) -> PyResult<Option<Owned>> {
    if v.is_empty() || v == b"-" {
        Ok(None)
    } else {
        ascii(py, v).map(Some)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<WebAccess>()
}
