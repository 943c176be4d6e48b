//! One rendered record to its ECS event, as ``record_from_json`` + ``to_ecs`` in winlog.py make it.
//!
//! Each step follows the Python code it stands for, in the same order, so that the event has the
//! same keys in the same order. Where a record is unusual in a way the Python code handles by
//! its general path (a stamp in another format, a value of an unexpected type, duplicate keys),
//! `Defer` is returned and the Python mapping takes that record.

use std::borrow::Cow;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString};

use crate::json::{Doc, JStr, Val};
use crate::py::{self, dict, set};
use crate::stamp;
use crate::tables::{Caches, KeywordsKey, Path, Plan, Rule, Tables};

/// The record goes to the Python mapping (the reason is counted, for tests and benchmarks).
pub struct Defer(pub &'static str);

impl From<PyErr> for Defer {
    fn from(_: PyErr) -> Self {
        Defer("a Python error")
    }
}

type R<T> = Result<T, Defer>;

/// What a reader knows about the file it reads.
pub struct Context {
    pub source: String,
    pub source_py: Py<PyString>,
    pub source_is_file: bool,
    /// The reader's host name (None for none or ""): events without a computer name take it.
    pub host_py: Option<Py<PyString>>,
    pub ingested: Py<PyString>,
}

fn truthy(doc: &Doc<'_>, v: &Val<'_>) -> bool {
    let _ = doc;
    match v {
        Val::Null => false,
        Val::Bool(b) => *b,
        Val::Int(i) => *i != 0,
        Val::UInt(u) => *u != 0,
        Val::Str(s) => !s.is_empty(),
        Val::Arr(_, n) | Val::Obj(_, n) => *n != 0,
    }
}

/// `dict.get(key)` with JSON null read as absent (as `x is None` does).
fn get<'a>(doc: &Doc<'a>, obj: Val<'a>, key: &str) -> Option<Val<'a>> {
    match doc.get(obj, key) {
        None | Some(Val::Null) => None,
        v => v,
    }
}

fn has(doc: &Doc<'_>, obj: Val<'_>, key: &str) -> bool {
    doc.get(obj, key).is_some()
}

/// winlog's `_attrs`: the node's `#attributes` object when both are objects.
fn attrs<'a>(doc: &Doc<'a>, node: Option<Val<'a>>) -> Option<Val<'a>> {
    match node {
        Some(n @ Val::Obj(..)) => match doc.get(n, "#attributes") {
            Some(a @ Val::Obj(..)) => Some(a),
            _ => None,
        },
        _ => None,
    }
}

fn attr<'a>(doc: &Doc<'a>, attrs: Option<Val<'a>>, key: &str) -> Option<Val<'a>> {
    attrs.and_then(|a| get(doc, a, key))
}

/// A value that the Python code uses as text: a string or nothing; any other type is deferred.
fn opt_text<'a>(v: Option<Val<'a>>) -> R<Option<JStr<'a>>> {
    match v {
        None => Ok(None),
        Some(Val::Str(s)) => Ok(Some(s)),
        Some(_) => Err(Defer("a header text of another type")),
    }
}

/// winlog's `as_text` for a JSON value.
fn as_text<'a>(doc: &Doc<'a>, v: Val<'a>) -> Cow<'a, str> {
    match v {
        Val::Str(s) => s.text(),
        Val::Null => Cow::Borrowed(""),
        Val::Bool(true) => Cow::Borrowed("true"),
        Val::Bool(false) => Cow::Borrowed("false"),
        Val::Int(i) => Cow::Owned(i.to_string()),
        Val::UInt(u) => Cow::Owned(u.to_string()),
        Val::Arr(s, n) => {
            let mut out = String::new();
            for (i, item) in doc.elements_of(s, n).iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(&as_text(doc, *item));
            }
            Cow::Owned(out)
        }
        o @ Val::Obj(..) => match get(doc, o, "#text") {
            Some(t) => as_text(doc, t),
            None => Cow::Borrowed(""),
        },
    }
}

/// JSON value -> Python object, as orjson decodes it (a dict keeps a duplicate key's last value
/// at the first one's place, which is what setting the items in order does).
fn to_py<'py>(py: Python<'py>, doc: &Doc<'_>, v: Val<'_>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Val::Null => py.None().into_bound(py),
        Val::Bool(b) => PyBool::new(py, b).to_owned().into_any(),
        Val::Int(i) => int(py, i),
        Val::UInt(u) => match u.into_pyobject(py) {
            Ok(v) => v.into_any(),
            Err(never) => match never {},
        },
        Val::Str(s) => py::string(py, &s.text()).into_any(),
        Val::Arr(s, n) => {
            let list = PyList::empty(py);
            for item in doc.elements_of(s, n) {
                list.append(to_py(py, doc, *item)?)?;
            }
            list.into_any()
        }
        Val::Obj(s, n) => {
            let d = dict(py);
            for (k, item) in doc.members_of(s, n) {
                set(&d, py::string(py, &k.text()), to_py(py, doc, *item)?)?;
            }
            d.into_any()
        }
    })
}

/// One EventData/UserData field: name, text, and the Python string of each.
struct Field<'a, 'py> {
    name: Cow<'a, str>,
    text: Cow<'a, str>,
    key: Bound<'py, PyString>,
    value: Bound<'py, PyString>,
    rule: Option<Rule>,
}

/// winlog's `_data_fields` (its slow path: the fast one gives the same fields), into `out`.
fn data_fields<'a, 'py>(
    py: Python<'py>,
    t: &Tables,
    c: &mut Caches,
    doc: &Doc<'a>,
    node: Val<'a>,
    out: &mut Vec<Field<'a, 'py>>,
) -> R<()> {
    let mut push = |out: &mut Vec<Field<'a, 'py>>, name: Cow<'a, str>, text: Cow<'a, str>| {
        let (key, rule) = c.name(py, t, &name);
        // Short values repeat from record to record ("-", "0x0", "%%1833", account names): shared.
        let value = if text.len() <= 12 {
            c.text(py, &text)
        } else {
            py::string(py, &text)
        };
        out.push(Field {
            name,
            text,
            key,
            value,
            rule,
        });
    };
    let Val::Obj(start, len) = node else {
        if !matches!(node, Val::Null) {
            push(out, Cow::Borrowed("param1"), as_text(doc, node));
        }
        return Ok(());
    };
    if doc.has_duplicate_keys(start, len) {
        return Err(Defer("duplicate EventData keys"));
    }
    for (key, value) in doc.members_of(start, len) {
        if key.is("#attributes") {
            continue;
        }
        if key.escaped {
            return Err(Defer("an escaped key")); // a key compared as text by the Python mapping ("Data", "#attributes")
        }
        if key.is("Data") {
            let items = match value {
                o @ Val::Obj(..) => get(doc, *o, "#text"),
                Val::Null => None,
                v => Some(*v),
            };
            match items {
                Some(Val::Arr(s, n)) => {
                    for (i, item) in doc.elements_of(s, n).iter().enumerate() {
                        push(
                            out,
                            Cow::Owned(format!("param{}", i + 1)),
                            as_text(doc, *item),
                        );
                    }
                }
                Some(v) => push(out, Cow::Borrowed("param1"), as_text(doc, v)),
                None => {}
            }
            continue;
        }
        match value {
            Val::Str(s) => push(out, Cow::Borrowed(key.raw), s.text()),
            Val::Obj(s, n) if !has(doc, *value, "#text") => {
                if doc.has_duplicate_keys(*s, *n) {
                    return Err(Defer("duplicate nested keys"));
                }
                for (sub, leaf) in doc.members_of(*s, *n) {
                    if sub.escaped {
                        return Err(Defer("an escaped nested key"));
                    }
                    if !sub.is("#attributes") {
                        push(out, Cow::Borrowed(sub.raw), as_text(doc, *leaf));
                    }
                }
            }
            v => push(out, Cow::Borrowed(key.raw), as_text(doc, *v)),
        }
    }
    Ok(())
}

/// Fields as a dict; Defer when two share a name (a dict would keep one of them).
fn fields_dict<'py>(py: Python<'py>, fields: &[Field<'_, 'py>]) -> R<Bound<'py, PyDict>> {
    let d = py::dict_for(py, fields.len() + 1);
    for f in fields {
        set(&d, &f.key, &f.value)?;
    }
    if d.len() != fields.len() {
        return Err(Defer("two fields with one name"));
    }
    Ok(d)
}

/// The ECS fields from EventData, in the order `_ecs_fields` sets them (a later set of the same
/// name keeps its place).
struct Out<'py> {
    items: Vec<(Arc<Path>, Bound<'py, PyAny>)>,
}

impl<'py> Out<'py> {
    fn pos(&self, p: &Arc<Path>) -> Option<usize> {
        self.items.iter().position(|(q, _)| Arc::ptr_eq(p, q))
    }
    fn set(&mut self, p: &Arc<Path>, v: Bound<'py, PyAny>) {
        match self.pos(p) {
            Some(i) => self.items[i].1 = v,
            None => self.items.push((p.clone(), v)),
        }
    }
    fn set_new(&mut self, p: &Arc<Path>, v: Bound<'py, PyAny>) {
        if self.pos(p).is_none() {
            self.items.push((p.clone(), v));
        }
    }
    fn text(&self, p: &Arc<Path>) -> Option<String> {
        self.pos(p).and_then(|i| {
            self.items[i]
                .1
                .cast::<PyString>()
                .ok()
                .map(|s| s.to_string())
        })
    }
}

/// winlog's `_int`: plain decimal and 0x-hex numbers here, anything else asked of it.
fn int_value<'py>(py: Python<'py>, t: &Tables, text: &str) -> R<Option<Bound<'py, PyAny>>> {
    let b = text.as_bytes();
    let fast = if b.len() > 2 && (b[..2] == *b"0x" || b[..2] == *b"0X") {
        let digits = &text[2..];
        if digits.len() <= 15 && digits.bytes().all(|c| c.is_ascii_hexdigit()) {
            i64::from_str_radix(digits, 16).ok()
        } else {
            None
        }
    } else {
        let digits = text.strip_prefix('-').unwrap_or(text);
        if !digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|c| c.is_ascii_digit()) {
            text.parse::<i64>().ok()
        } else {
            None
        }
    };
    if let Some(n) = fast {
        return Ok(Some(int(py, n)));
    }
    let r = t.int_fn.bind(py).call1((text,))?;
    Ok(if r.is_none() { None } else { Some(r) })
}

fn ipv4(text: &str) -> bool {
    let mut parts = 0;
    for octet in text.split('.') {
        parts += 1;
        let b = octet.as_bytes();
        if b.is_empty()
            || b.len() > 3
            || !b.iter().all(u8::is_ascii_digit)
            || (b.len() > 1 && b[0] == b'0')
        {
            return false;
        }
        if octet.parse::<u16>().map_or(true, |n| n > 255) {
            return false;
        }
    }
    parts == 4
}

/// winlog's `_ip`: IPv4 here, IPv6 (text with a colon) asked of it.
fn ip_value<'py>(
    py: Python<'py>,
    t: &Tables,
    c: &mut Caches,
    text: &str,
) -> R<Option<Bound<'py, PyAny>>> {
    if text == "NULL" {
        return Ok(None);
    }
    let mut s = text;
    if s.starts_with("::ffff:") && s.contains('.') {
        s = &s[7..];
    }
    if !s.contains(':') {
        if ipv4(s) {
            return Ok(Some(py::string(py, s).into_any()));
        }
        let head = s.split('%').next().unwrap_or("");
        return Ok(if head.len() != s.len() && ipv4(head) {
            Some(py::string(py, head).into_any())
        } else {
            None
        });
    }
    if let Some(v) = c.ips.get(text) {
        let v = v.bind(py).clone();
        return Ok(if v.is_none() { None } else { Some(v) });
    }
    let r = t.ip_fn.bind(py).call1((text,))?;
    if c.ips.len() > 4096 {
        c.ips.clear();
    }
    c.ips.insert(text.to_owned(), r.clone().unbind());
    Ok(if r.is_none() { None } else { Some(r) })
}

fn basename(path: &str) -> &str {
    let tail = path.rsplit('\\').next().unwrap_or(path);
    tail.rsplit('/').next().unwrap_or(tail)
}

/// Python's `str.strip()` for ASCII text.
fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| {
        matches!(
            c,
            ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\x1c'..='\x1f'
        )
    })
}

fn int<'py>(py: Python<'py>, n: i64) -> Bound<'py, PyAny> {
    match n.into_pyobject(py) {
        Ok(v) => v.into_any(),
        Err(never) => match never {},
    }
}

fn pystr<'py>(py: Python<'py>, s: &str) -> Bound<'py, PyAny> {
    py::string(py, s).into_any()
}

fn field<'b, 'a, 'py>(data: &'b [Field<'a, 'py>], name: &str) -> Option<&'b Field<'a, 'py>> {
    data.iter().find(|f| f.name == name)
}

/// winlog's `_ecs_fields`.
fn ecs_fields<'py>(
    py: Python<'py>,
    t: &Tables,
    c: &mut Caches,
    data: &[Field<'_, 'py>],
    plan: &Plan,
) -> R<Out<'py>> {
    let f = &t.fixed;
    let mut out = Out {
        items: Vec::with_capacity(16),
    };
    for fl in data {
        let Some(rule) = &fl.rule else { continue };
        let value = &*fl.text;
        if value.is_empty() || value == "-" {
            continue;
        }
        match rule {
            Rule::Always(p) => out.set_new(p, fl.value.clone().into_any()),
            Rule::Int(p) => {
                if let Some(n) = int_value(py, t, value)? {
                    out.set_new(p, n);
                }
            }
            Rule::Ip(p) => {
                if let Some(ip) = ip_value(py, t, c, value)? {
                    out.set(p, ip);
                }
            }
            Rule::Pe => {
                if let Some(pe) = &plan.pe {
                    if let Some(p) = pe.get(&*fl.name) {
                        out.set(p, fl.value.clone().into_any());
                    }
                }
            }
            Rule::Hash => {
                if !value.is_ascii() {
                    return Err(Defer("non-ASCII hashes"));
                }
                for part in value.split(',') {
                    if let Some((algo, digest)) = part.split_once('=') {
                        if !digest.is_empty() {
                            let name = format!(
                                "{}.hash.{}",
                                plan.hash_prefix,
                                py_strip(algo).to_ascii_lowercase()
                            );
                            if c.paths.len() > 8192 {
                                return Err(Defer("too many hash names")); // algorithm names come from the input
                            }
                            let p = c.paths.get(py, &name);
                            out.set(&p, pystr(py, &py_strip(digest).to_ascii_lowercase()));
                        }
                    }
                }
            }
            Rule::Protocol => {
                if plan.sysmon {
                    if !value.is_ascii() {
                        return Err(Defer("non-ASCII protocol"));
                    }
                    out.set(&f.transport, pystr(py, &value.to_ascii_lowercase()));
                }
            }
            Rule::Initiated => {
                if plan.sysmon {
                    // No non-ASCII text lowers to "true", so an ASCII comparison decides it.
                    let egress = value.eq_ignore_ascii_case("true");
                    out.set(
                        &f.direction,
                        pystr(py, if egress { "egress" } else { "ingress" }),
                    );
                }
            }
            Rule::Signature => out.set(&f.subject_name, fl.value.clone().into_any()),
            Rule::Signed => {
                let signed = value.eq_ignore_ascii_case("true");
                out.set(&f.signed, PyBool::new(py, signed).to_owned().into_any());
            }
            Rule::User => match value.rfind('\\') {
                Some(i) => {
                    out.set(&f.user_name, pystr(py, &value[i + 1..]));
                    out.set(&f.user_domain, pystr(py, &value[..i]));
                }
                None => out.set(&f.user_name, fl.value.clone().into_any()),
            },
            Rule::LogonType => {
                if let Some(n) = int_value(py, t, value)? {
                    let name = match t.logon_types.bind(py).get_item(&n)? {
                        Some(name) => name,
                        None => n.str()?.into_any(),
                    };
                    out.set(&f.logon_type, name);
                }
            }
            Rule::LogonId => out.set_new(&f.logon_id, fl.value.clone().into_any()),
        }
    }
    if let Some(exe) = out.text(&f.process_executable) {
        out.set(&f.process_name, pystr(py, basename(&exe)));
    }
    if let Some(exe) = out.text(&f.parent_executable) {
        out.set(&f.parent_name, pystr(py, basename(&exe)));
    }
    let subject = field(data, "SubjectUserName");
    let target = field(data, "TargetUserName");
    if plan.security || subject.is_some() || target.is_some() {
        security_users(data, plan.logon, subject, target, f, &mut out);
    }
    if out.pos(&f.file_path).is_some() && out.pos(&f.file_name).is_none() {
        let path = out.text(&f.file_path).unwrap_or_default();
        out.set(&f.file_name, pystr(py, basename(&path)));
    }
    Ok(out)
}

fn usable(f: Option<&Field<'_, '_>>) -> bool {
    f.is_some_and(|f| !f.text.is_empty() && f.text != "-")
}

fn maybe<'py>(out: &mut Out<'py>, p: &Arc<Path>, f: Option<&Field<'_, 'py>>) {
    if let Some(f) = f {
        if usable(Some(f)) {
            out.set(p, f.value.clone().into_any());
        }
    }
}

/// `data.get(a) or data.get(b)`.
fn either<'b, 'a, 'py>(data: &'b [Field<'a, 'py>], a: &str, b: &str) -> Option<&'b Field<'a, 'py>> {
    match field(data, a) {
        Some(f) if !f.text.is_empty() => Some(f),
        _ => field(data, b),
    }
}

/// winlog's `_security_users`.
fn security_users<'py>(
    data: &[Field<'_, 'py>],
    logon: bool,
    subject: Option<&Field<'_, 'py>>,
    target: Option<&Field<'_, 'py>>,
    f: &crate::tables::Fixed,
    out: &mut Out<'py>,
) {
    if logon && usable(target) {
        out.set(&f.user_name, target.unwrap().value.clone().into_any());
        maybe(out, &f.user_domain, field(data, "TargetDomainName"));
        maybe(out, &f.user_id, either(data, "TargetUserSid", "TargetSid"));
        return;
    }
    if usable(subject) {
        out.set(&f.user_name, subject.unwrap().value.clone().into_any());
        maybe(out, &f.user_domain, field(data, "SubjectDomainName"));
        maybe(out, &f.user_id, field(data, "SubjectUserSid"));
    }
    if usable(target) {
        out.set(&f.target_name, target.unwrap().value.clone().into_any());
        maybe(out, &f.target_domain, field(data, "TargetDomainName"));
        maybe(
            out,
            &f.target_id,
            either(data, "TargetUserSid", "TargetSid"),
        );
    }
}

/// `_put_all`: each dotted name set in the event, objects made on the way.
fn put_all<'py>(py: Python<'py>, ev: &Bound<'py, PyDict>, out: Out<'py>) -> PyResult<()> {
    for (path, value) in out.items {
        let (last, parents) = path.parts.split_last().expect("a path has a name");
        let mut node = ev.clone();
        for part in parents {
            let part = part.bind(py);
            node = match py::get(&node, part) {
                Some(child) if child.is_exact_instance_of::<PyDict>() => {
                    child.cast_into::<PyDict>()?
                }
                _ => {
                    let child = dict(py);
                    set(&node, part, &child)?;
                    child
                }
            };
        }
        set(&node, last, value)?;
    }
    Ok(())
}

/// `str(value)` for the header's task and opcode (numbers or text; other types deferred).
fn header_text<'py>(py: Python<'py>, c: &mut Caches, v: Val<'_>) -> R<Bound<'py, PyAny>> {
    match v {
        Val::Int(i) => Ok(c.text(py, &i.to_string()).into_any()),
        Val::Str(s) => Ok(c.text(py, &s.text()).into_any()),
        _ => Err(Defer("a task or opcode of another type")),
    }
}

/// The header fields of `<System>` (the last of a repeated key, as a dict keeps it).
#[derive(Default)]
struct System<'a> {
    event_id: Option<Val<'a>>,
    provider: Option<Val<'a>>,
    execution: Option<Val<'a>>,
    correlation: Option<Val<'a>>,
    record_id: Option<Val<'a>>,
    channel: Option<Val<'a>>,
    computer: Option<Val<'a>>,
    time_created: Option<Val<'a>>,
    level: Option<Val<'a>>,
    task: Option<Val<'a>>,
    opcode: Option<Val<'a>>,
    version: Option<Val<'a>>,
    keywords: Option<Val<'a>>,
    security: Option<Val<'a>>,
}

/// JSON null as absent, as `.get(key)` followed by `is None` reads it.
fn present(v: Option<Val<'_>>) -> Option<Val<'_>> {
    v.filter(|v| !matches!(v, Val::Null))
}

fn system_fields<'a>(doc: &Doc<'a>, start: u32, len: u32) -> R<System<'a>> {
    let mut s = System::default();
    for (key, value) in doc.members_of(start, len) {
        if key.escaped {
            return Err(Defer("an escaped System key"));
        }
        let slot = match key.raw {
            "EventID" => &mut s.event_id,
            "Provider" => &mut s.provider,
            "Execution" => &mut s.execution,
            "Correlation" => &mut s.correlation,
            "EventRecordID" => &mut s.record_id,
            "Channel" => &mut s.channel,
            "Computer" => &mut s.computer,
            "TimeCreated" => &mut s.time_created,
            "Level" => &mut s.level,
            "Task" => &mut s.task,
            "Opcode" => &mut s.opcode,
            "Version" => &mut s.version,
            "Keywords" => &mut s.keywords,
            "Security" => &mut s.security,
            _ => continue,
        };
        *slot = Some(*value);
    }
    Ok(s)
}

/// The event for one record, or Defer.
#[allow(clippy::too_many_arguments)]
pub fn map_record<'py>(
    py: Python<'py>,
    t: &Tables,
    c: &mut Caches,
    ctx: &Context,
    doc: &Doc<'_>,
    root: Val<'_>,
    header_rid: u64,
    original: &Bound<'py, PyString>,
) -> R<Bound<'py, PyDict>> {
    let k = &t.k;
    // ---- record_from_json ----
    let event = match doc.get(root, "Event") {
        Some(e @ Val::Obj(..)) => e,
        _ => return Err(Defer("no Event object")),
    };
    let Val::Obj(es, en) = event else {
        unreachable!()
    };
    let (mut system, mut user_data_node, mut event_data_node) = (None, None, None);
    for (key, value) in doc.members_of(es, en) {
        if key.escaped {
            return Err(Defer("an escaped Event key"));
        }
        match key.raw {
            "System" => system = Some(*value),
            "UserData" => user_data_node = Some(*value),
            "EventData" => event_data_node = Some(*value),
            // merged into EventData by dict.update: left to the Python mapping
            "ProcessingErrorData" => return Err(Defer("ProcessingErrorData")),
            _ => {}
        }
    }
    let Some(Val::Obj(ss, sn)) = system else {
        return Err(Defer("no System object"));
    };
    let sys = system_fields(doc, ss, sn)?;
    let event_id = match sys.event_id {
        Some(Val::Int(i)) => i,
        Some(node @ Val::Obj(..)) => {
            let qualifiers = attr(doc, attrs(doc, Some(node)), "Qualifiers");
            let Some(Val::Int(i)) = doc.get(node, "#text") else {
                return Err(Defer("EventID text"));
            };
            if qualifiers.is_some_and(|q| truthy(doc, &q)) {
                // Classic event ids carry qualifiers in the high word; Winlogbeat reports the low 16 bits.
                i & 0xFFFF
            } else {
                i
            }
        }
        _ => return Err(Defer("EventID of another type")),
    };
    let provider_attrs = attrs(doc, sys.provider);
    let execution = attrs(doc, sys.execution);
    let correlation = attrs(doc, sys.correlation);
    let record_id = match present(sys.record_id) {
        None => None,
        Some(Val::Int(i)) => Some(i),
        Some(_) => return Err(Defer("EventRecordID of another type")),
    };
    let mut data: Vec<Field<'_, 'py>> = Vec::with_capacity(24);
    let mut user_data: Option<Vec<Field<'_, 'py>>> = None;
    let mut user_data_name: Option<&str> = None;
    if let Some(Val::Obj(s, n)) = user_data_node {
        if doc.has_duplicate_keys(s, n) {
            return Err(Defer("duplicate UserData keys"));
        }
        for (name, payload) in doc.members_of(s, n) {
            if !name.is("#attributes") {
                user_data_name = Some(name.raw);
                let mut fields = Vec::new();
                data_fields(py, t, c, doc, *payload, &mut fields)?;
                user_data = Some(fields);
                break;
            }
        }
    }
    if let Some(ed) = present(event_data_node) {
        data_fields(py, t, c, doc, ed, &mut data)?;
    }
    let channel = opt_text(present(sys.channel))?;
    let name = attr(doc, provider_attrs, "Name");
    let provider = match name {
        Some(n) if truthy(doc, &n) => opt_text(Some(n))?,
        _ => match attr(doc, provider_attrs, "EventSourceName") {
            Some(v) if !truthy(doc, &v) => None,
            v => opt_text(v)?,
        },
    };
    let computer = opt_text(present(sys.computer))?;
    let time = opt_text(attr(doc, attrs(doc, sys.time_created), "SystemTime"))?;
    let provider_guid = attr(doc, provider_attrs, "Guid");
    let level = present(sys.level);
    let task = present(sys.task);
    let opcode = present(sys.opcode);
    let version = present(sys.version);
    let keywords = present(sys.keywords);
    let pid = attr(doc, execution, "ProcessID");
    let thread_id = attr(doc, execution, "ThreadID");
    let user_sid = attr(doc, attrs(doc, sys.security), "UserID");
    let activity_id = attr(doc, correlation, "ActivityID");
    let related_activity_id = attr(doc, correlation, "RelatedActivityID");

    let channel_text = channel.map(|s| s.text());
    let provider_text = provider.map(|s| s.text()).filter(|s| !s.is_empty());
    let computer_text = computer.map(|s| s.text()).filter(|s| !s.is_empty());

    // ---- to_ecs ----
    let time_text = time.map(|s| s.text());
    let (timestamp, seconds) = match &time_text {
        None => (None, 0),
        Some(text) => (
            Some(stamp::stamp(text).ok_or(Defer("a stamp of another shape"))?),
            stamp::epoch_seconds(text).ok_or(Defer("a stamp that is no date"))?,
        ),
    };
    let id_text = match record_id {
        Some(rid) => {
            let computer = computer_text.as_deref().unwrap_or("");
            let log = channel_text
                .as_deref()
                .filter(|s| !s.is_empty())
                .or(provider_text.as_deref())
                .unwrap_or("");
            let mut id = log_prefix(c, computer, log);
            if (0..1i64 << 31).contains(&seconds) && (0..1i64 << 32).contains(&rid) {
                id.push_str(&stamp::hex(&(((seconds << 32) | rid) as u64).to_be_bytes()));
            } else {
                id.push_str(&stamp::blake8_hex(format!("{seconds}:{rid}").as_bytes()));
            }
            id
        }
        None => prefix(c, &ctx.source) + &stamp::hex(&header_rid.to_be_bytes()),
    };
    let plan = c.plan(py, t, channel_text.as_deref(), event_id)?;

    let ev = py::dict_for(py, 10);
    match timestamp {
        Some(ts) => set(&ev, &k.timestamp, py::string(py, &ts))?,
        None => set(&ev, &k.timestamp, &ctx.ingested)?,
    }
    let ecs = dict(py);
    set(&ecs, &k.version, &t.ecs_version)?;
    set(&ev, &k.ecs, ecs)?;
    let e = py::dict_for(py, 12);
    set(&e, &k.id, py::string(py, &id_text))?;
    set(&e, &k.kind, &k.event_kind)?;
    set(&e, &k.dataset, &plan.dataset)?;
    set(&e, &k.module, &plan.module)?;
    set(&e, &k.ingested, &ctx.ingested)?;
    set(&ev, &k.event, &e)?;
    let log_file = |ev: &Bound<'py, PyDict>| -> PyResult<()> {
        let file = dict(py);
        set(&file, &k.path, &ctx.source_py)?;
        let log = dict(py);
        set(&log, &k.file, file)?;
        set(ev, &k.log, log)
    };
    if record_id.is_none() && ctx.source_is_file {
        log_file(&ev)?; // new_event's log.file.path, for a record named by the file
    }
    set(&e, &k.original, original)?;
    if let Some(cn) = &computer_text {
        let h = dict(py);
        set(&h, &k.name, c.text(py, cn))?;
        set(&ev, &k.host, h)?;
    } else if let Some(host) = &ctx.host_py {
        let h = dict(py);
        set(&h, &k.name, host)?;
        set(&ev, &k.host, h)?;
    }
    if ctx.source_is_file {
        log_file(&ev)?;
    }
    set(&e, &k.code, py::string(py, &event_id.to_string()))?;
    let provider_py = provider_text.as_deref().map(|p| c.text(py, p));
    if let Some(p) = &provider_py {
        set(&e, &k.provider, p)?;
    }
    let w = py::dict_for(py, 16);
    match &channel_text {
        Some(ch) => set(&w, &k.channel, c.text(py, ch))?,
        None => set(&w, &k.channel, py.None())?,
    }
    set(&w, &k.event_id, int(py, event_id))?;
    set(&w, &k.api, &k.wineventlog)?;
    if let Some(p) = &provider_py {
        set(&w, &k.provider_name, p)?;
    }
    if let Some(g) = provider_guid.filter(|g| truthy(doc, g)) {
        set(&w, &k.provider_guid, to_py_text(py, c, doc, g)?)?;
    }
    if let Some(cn) = &computer_text {
        set(&w, &k.computer_name, c.text(py, cn))?;
    }
    if let Some(rid) = record_id {
        set(&w, &k.record_id, int(py, rid))?;
    }
    if let Some(v) = task {
        set(&w, &k.task, header_text(py, c, v)?)?;
    }
    if let Some(v) = opcode {
        set(&w, &k.opcode, header_text(py, c, v)?)?;
    }
    if let Some(v) = version {
        set(&w, &k.version, to_py(py, doc, v)?)?;
    }
    if let Some(v) = pid {
        let p = dict(py);
        set(&p, &k.pid, to_py(py, doc, v)?)?;
        if let Some(tid) = thread_id.filter(|x| truthy(doc, x)) {
            let th = dict(py);
            set(&th, &k.id, to_py(py, doc, tid)?)?;
            set(&p, &k.thread, th)?;
        }
        set(&w, &k.process, p)?;
    }
    let user_sid = user_sid.filter(|x| truthy(doc, x));
    let sid_py = match user_sid {
        Some(sid) => Some(to_py_text(py, c, doc, sid)?),
        None => None,
    };
    if let Some(sid) = &sid_py {
        let u = dict(py);
        set(&u, &k.identifier, sid)?;
        set(&w, &k.user, u)?;
    }
    if let Some(a) = activity_id.filter(|x| truthy(doc, x)) {
        set(&w, &k.activity_id, to_py(py, doc, a)?)?;
    }
    if let Some(a) = related_activity_id.filter(|x| truthy(doc, x)) {
        set(&w, &k.related_activity_id, to_py(py, doc, a)?)?;
    }
    let mut outcome: Option<Bound<'py, PyAny>> = None;
    let kw_text;
    let kw_key = match keywords {
        None => None,
        Some(Val::Str(s)) if s.is_empty() => None,
        Some(Val::Str(s)) => {
            kw_text = s.text();
            Some(KeywordsKey::Text(&kw_text))
        }
        Some(Val::Int(i)) => Some(KeywordsKey::Int(i)),
        Some(_) => return Err(Defer("Keywords of another type")),
    };
    if let Some(key) = kw_key {
        let kw = c.keywords(py, t, key)?;
        if let Some(names) = kw.names.as_ref().filter(|n| !n.is_empty()) {
            set(
                &w,
                &k.keywords,
                PyList::new(py, names.iter().map(|n| n.bind(py)))?,
            )?;
        }
        outcome = kw.outcome.as_ref().map(|o| o.bind(py).clone());
    }
    if !data.is_empty() {
        set(&w, &k.event_data, fields_dict(py, &data)?)?;
    }
    if let Some(ud) = &user_data {
        let d = fields_dict(py, ud)?;
        if let Some(name) = user_data_name.filter(|n| !n.is_empty()) {
            set(&d, &k.xml_name, c.text(py, name))?;
        }
        set(&w, &k.user_data, d)?;
    }
    set(&ev, &k.winlog, w)?;
    if let Some(level) = level {
        let text: Bound<'py, PyAny> = match level {
            Val::Int(i) => match py::get(t.levels.bind(py), int(py, i)) {
                Some(name) => name,
                None => py::string(py, &i.to_string()).into_any(),
            },
            Val::Str(s) => c.text(py, &s.text()).into_any(),
            _ => return Err(Defer("Level of another type")),
        };
        let log = match py::get(&ev, &k.log) {
            Some(l) => l
                .cast_into::<PyDict>()
                .map_err(|_| Defer("log of another type"))?,
            None => {
                let l = dict(py);
                set(&ev, &k.log, &l)?;
                l
            }
        };
        set(&log, &k.level, text)?;
    }
    if let Some((category, type_, action)) = &plan.kind {
        set(
            &e,
            &k.category,
            PyList::new(py, category.iter().map(|x| x.bind(py)))?,
        )?;
        set(
            &e,
            &k.type_,
            PyList::new(py, type_.iter().map(|x| x.bind(py)))?,
        )?;
        set(&e, &k.action, action)?;
    }
    if plan.failure {
        outcome = Some(t.failure.bind(py).clone().into_any());
    }
    if let Some(o) = outcome.filter(|o| truthy_py(o).unwrap_or(true)) {
        set(&e, &k.outcome, o)?;
    }
    // UserData stands in for EventData when a record has only that (log cleared, some services).
    if !data.is_empty() {
        put_all(py, &ev, ecs_fields(py, t, c, &data, &plan)?)?;
    } else if let Some(ud) = user_data.as_ref().filter(|u| !u.is_empty()) {
        put_all(py, &ev, ecs_fields(py, t, c, ud, &plan)?)?;
    }
    if let Some(sid) = &sid_py {
        if py::get(&ev, &k.user).is_none() {
            let u = dict(py);
            set(&u, &k.id, sid)?;
            set(&ev, &k.user, u)?;
        }
    }
    Ok(ev)
}

/// A header value passed on as it is: text through the shared strings, other types as decoded.
fn to_py_text<'py>(
    py: Python<'py>,
    c: &mut Caches,
    doc: &Doc<'_>,
    v: Val<'_>,
) -> PyResult<Bound<'py, PyAny>> {
    match v {
        Val::Str(s) => Ok(c.text(py, &s.text()).into_any()),
        other => to_py(py, doc, other),
    }
}

/// The id prefix of a log named by computer and channel (one or two per file: the last is kept).
fn log_prefix(c: &mut Caches, computer: &str, channel: &str) -> String {
    let (last, prefix_text) = &c.last_log;
    let name_len = "winlog://".len() + computer.len() + 1 + channel.len();
    if last.len() == name_len
        && last.starts_with("winlog://")
        && last[9..].starts_with(computer)
        && last.as_bytes()[9 + computer.len()] == b'/'
        && last.ends_with(channel)
    {
        return prefix_text.clone();
    }
    let log = format!("winlog://{computer}/{channel}");
    let p = prefix(c, &log);
    c.last_log = (log, p.clone());
    p
}

fn truthy_py(v: &Bound<'_, PyAny>) -> PyResult<bool> {
    v.is_truthy()
}

/// The 16 hex digits naming a source (canh.events._source_prefix), kept per source.
fn prefix(c: &mut Caches, source: &str) -> String {
    if let Some(p) = c.prefixes.get(source) {
        return p.clone();
    }
    let p = stamp::blake8_hex(source.as_bytes());
    if c.prefixes.len() >= 4096 {
        c.prefixes.clear();
    }
    c.prefixes.insert(source.to_owned(), p.clone());
    p
}
