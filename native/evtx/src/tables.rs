//! The mapping's tables, handed over once by `canh.collectors.winlog.native_tables()`, and the
//! caches filled from its functions (plans per channel and event id, keyword names per mask).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

/// FxHash: the maps here are keyed by short field names, where SipHash's cost shows.
#[derive(Default, Clone, Copy)]
pub struct Fx(u64);

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            h = (h.rotate_left(5) ^ u64::from_le_bytes(c.try_into().unwrap())).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
        self.0 = h;
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// A dotted ECS name split once into interned Python keys. Paths are interned too, so two
/// `Arc<Path>` name the same field exactly when they are the same pointer.
pub struct Path {
    pub parts: Vec<Py<PyString>>,
}

#[derive(Default)]
pub struct Paths {
    map: FxMap<String, Arc<Path>>,
}

impl Paths {
    pub fn get(&mut self, py: Python<'_>, dotted: &str) -> Arc<Path> {
        if let Some(p) = self.map.get(dotted) {
            return p.clone();
        }
        let parts = dotted
            .split('.')
            .map(|part| PyString::intern(py, part).unbind())
            .collect();
        let p = Arc::new(Path { parts });
        self.map.insert(dotted.to_owned(), p.clone());
        p
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }
}

/// What an EventData field gives (winlog's `_KIND`: 0 string, 1 number, 2 address, 3 case by case).
#[derive(Clone)]
pub enum Rule {
    Always(Arc<Path>),
    Int(Arc<Path>),
    Ip(Arc<Path>),
    Pe,
    Hash,
    Protocol,
    Initiated,
    Signature,
    Signed,
    User,
    LogonType,
    LogonId,
}

/// ECS (category, type, action) of an event.
pub type Kind = (Vec<Py<PyAny>>, Vec<Py<PyAny>>, Py<PyAny>);

/// What a (channel, event id) decides: winlog's `_Plan`, asked once per pair.
pub struct Plan {
    pub dataset: Py<PyString>,
    pub module: Py<PyString>,
    pub kind: Option<Kind>,
    pub sysmon: bool,
    pub security: bool,
    pub failure: bool,
    /// EventData name -> ECS path, for the PE fields of Sysmon 1, 6 and 7.
    pub pe: Option<FxMap<String, Arc<Path>>>,
    pub hash_prefix: String,
    pub logon: bool,
}

/// Keyword names for one Keywords value, and the outcome they imply.
pub struct Keywords {
    pub names: Option<Vec<Py<PyAny>>>,
    pub outcome: Option<Py<PyAny>>,
}

pub enum KeywordsKey<'a> {
    Text(&'a str),
    Int(i64),
}

/// Names and keys built once: the paths the mapping writes besides the table ones.
pub struct Fixed {
    pub process_name: Arc<Path>,
    pub parent_name: Arc<Path>,
    pub process_executable: Arc<Path>,
    pub parent_executable: Arc<Path>,
    pub file_path: Arc<Path>,
    pub file_name: Arc<Path>,
    pub user_name: Arc<Path>,
    pub user_domain: Arc<Path>,
    pub user_id: Arc<Path>,
    pub target_name: Arc<Path>,
    pub target_domain: Arc<Path>,
    pub target_id: Arc<Path>,
    pub transport: Arc<Path>,
    pub direction: Arc<Path>,
    pub subject_name: Arc<Path>,
    pub signed: Arc<Path>,
    pub logon_type: Arc<Path>,
    pub logon_id: Arc<Path>,
}

/// Everything a reader needs that outlives one file.
pub struct Tables {
    pub rules: FxMap<String, Rule>,
    pub levels: Py<PyDict>,
    pub logon_types: Py<PyDict>,
    pub plan_fn: Py<PyAny>,
    pub keywords_fn: Py<PyAny>,
    pub int_fn: Py<PyAny>,
    pub ip_fn: Py<PyAny>,
    pub ecs_version: Py<PyString>,
    pub failure: Py<PyString>,
    pub fixed: Fixed,
    pub k: Keys,
}

/// Caches (filled as records are read, bounded like the Python ones).
#[derive(Default)]
pub struct Caches {
    pub paths: Paths,
    /// Plans by channel (None: a record without one) and event id.
    pub plans: FxMap<String, FxMap<i64, Arc<Plan>>>,
    pub plans_unnamed: FxMap<i64, Arc<Plan>>,
    pub keywords_text: FxMap<String, Arc<Keywords>>,
    pub keywords_int: FxMap<i64, Arc<Keywords>>,
    /// Header texts (computer, channel, provider, ...) as Python strings: a log repeats them.
    pub texts: FxMap<String, Py<PyString>>,
    /// The last log identity and its id prefix (records of a file share one or two).
    pub last_log: (String, String),
    /// EventData/UserData names as Python strings, with the rule each one has.
    pub names: FxMap<String, (Py<PyString>, Option<Rule>)>,
    pub ips: FxMap<String, Py<PyAny>>,
    pub prefixes: FxMap<String, String>,
}

macro_rules! keys {
    ($($field:ident = $text:expr),* $(,)?) => {
        /// Interned keys of the event's fixed fields.
        pub struct Keys { $(pub $field: Py<PyString>,)* }
        impl Keys {
            fn new(py: Python<'_>) -> Keys {
                Keys { $($field: PyString::intern(py, $text).unbind(),)* }
            }
        }
    };
}

keys!(
    timestamp = "@timestamp",
    ecs = "ecs",
    version = "version",
    event = "event",
    id = "id",
    kind = "kind",
    dataset = "dataset",
    module = "module",
    ingested = "ingested",
    original = "original",
    log = "log",
    file = "file",
    path = "path",
    host = "host",
    name = "name",
    code = "code",
    provider = "provider",
    winlog = "winlog",
    channel = "channel",
    event_id = "event_id",
    api = "api",
    provider_name = "provider_name",
    provider_guid = "provider_guid",
    computer_name = "computer_name",
    record_id = "record_id",
    task = "task",
    opcode = "opcode",
    process = "process",
    pid = "pid",
    thread = "thread",
    user = "user",
    identifier = "identifier",
    activity_id = "activity_id",
    related_activity_id = "related_activity_id",
    keywords = "keywords",
    event_data = "event_data",
    user_data = "user_data",
    xml_name = "xml_name",
    level = "level",
    category = "category",
    type_ = "type",
    action = "action",
    outcome = "outcome",
    event_kind = "event",
    wineventlog = "wineventlog",
);

fn str_map(d: &Bound<'_, PyDict>) -> PyResult<Vec<(String, String)>> {
    d.iter()
        .map(|(k, v)| Ok((k.extract::<String>()?, v.extract::<String>()?)))
        .collect()
}

impl Tables {
    /// Read winlog's tables (see ``native_tables()`` there for what each entry is).
    pub fn new(py: Python<'_>, t: &Bound<'_, PyDict>, caches: &mut Caches) -> PyResult<Tables> {
        let item = |name: &str| -> PyResult<Bound<'_, PyAny>> {
            t.get_item(name)?
                .ok_or_else(|| PyValueError::new_err(format!("native_tables: {name} missing")))
        };
        let dict =
            |name: &str| -> PyResult<Bound<'_, PyDict>> { Ok(item(name)?.cast_into::<PyDict>()?) };
        let paths = &mut caches.paths;
        let mut rules: FxMap<String, Rule> = FxMap::default();
        for (name, target) in str_map(&dict("always")?)? {
            rules.insert(name, Rule::Always(paths.get(py, &target)));
        }
        for (name, target) in str_map(&dict("ints")?)? {
            rules.insert(name, Rule::Int(paths.get(py, &target)));
        }
        for (name, target) in str_map(&dict("ips")?)? {
            rules.insert(name, Rule::Ip(paths.get(py, &target)));
        }
        for (name, _) in str_map(&dict("pe")?)? {
            rules.insert(name, Rule::Pe);
        }
        // The fields handled case by case: each must be one this reader knows, or the Python
        // mapping (which would handle it) and this one would differ.
        let special: Vec<String> = item("special")?.extract()?;
        for name in special {
            let rule = match name.as_str() {
                "Hashes" | "Hash" => Rule::Hash,
                "Protocol" => Rule::Protocol,
                "Initiated" => Rule::Initiated,
                "Signature" => Rule::Signature,
                "Signed" => Rule::Signed,
                "User" => Rule::User,
                "LogonType" => Rule::LogonType,
                "SubjectLogonId" | "TargetLogonId" => Rule::LogonId,
                other => {
                    return Err(PyValueError::new_err(format!(
                        "native_tables: no rule for {other}"
                    )))
                }
            };
            rules.insert(name, rule);
        }
        // The same precedence as winlog's _KIND: special and PE names over the plain tables.
        let kinds = dict("kind")?;
        for (name, kind) in kinds.iter() {
            let name: String = name.extract()?;
            let kind: i64 = kind.extract()?;
            let ok = matches!(
                (kind, rules.get(&name)),
                (0, Some(Rule::Always(_)))
                    | (1, Some(Rule::Int(_)))
                    | (2, Some(Rule::Ip(_)))
                    | (3, Some(_))
            );
            if !ok {
                return Err(PyValueError::new_err(format!(
                    "native_tables: {name} has kind {kind}"
                )));
            }
        }
        if kinds.len() != rules.len() {
            return Err(PyValueError::new_err(
                "native_tables: kind and rule tables differ",
            ));
        }
        let mut p = |s: &str| paths.get(py, s);
        let fixed = Fixed {
            process_name: p("process.name"),
            parent_name: p("process.parent.name"),
            process_executable: p("process.executable"),
            parent_executable: p("process.parent.executable"),
            file_path: p("file.path"),
            file_name: p("file.name"),
            user_name: p("user.name"),
            user_domain: p("user.domain"),
            user_id: p("user.id"),
            target_name: p("user.target.name"),
            target_domain: p("user.target.domain"),
            target_id: p("user.target.id"),
            transport: p("network.transport"),
            direction: p("network.direction"),
            subject_name: p("file.code_signature.subject_name"),
            signed: p("file.code_signature.signed"),
            logon_type: p("winlog.logon.type"),
            logon_id: p("winlog.logon.id"),
        };
        Ok(Tables {
            rules,
            levels: dict("levels")?.unbind(),
            logon_types: dict("logon_types")?.unbind(),
            plan_fn: item("plan")?.unbind(),
            keywords_fn: item("keywords")?.unbind(),
            int_fn: item("to_int")?.unbind(),
            ip_fn: item("to_ip")?.unbind(),
            ecs_version: item("ecs_version")?.cast_into::<PyString>()?.unbind(),
            failure: PyString::intern(py, "failure").unbind(),
            fixed,
            k: Keys::new(py),
        })
    }
}

fn list_items(v: &Bound<'_, PyAny>) -> PyResult<Vec<Py<PyAny>>> {
    Ok(v.cast::<PyList>()?.iter().map(|x| x.unbind()).collect())
}

impl Caches {
    /// The plan for (channel, event id), from winlog's ``_plan`` the first time.
    pub fn plan(
        &mut self,
        py: Python<'_>,
        t: &Tables,
        channel: Option<&str>,
        eid: i64,
    ) -> PyResult<Arc<Plan>> {
        let hit = match channel {
            Some(ch) => self.plans.get(ch).and_then(|m| m.get(&eid)),
            None => self.plans_unnamed.get(&eid),
        };
        if let Some(p) = hit {
            return Ok(p.clone());
        }
        let r = t.plan_fn.bind(py).call1((channel, eid))?;
        let r = r.cast::<PyTuple>()?;
        let kind = r.get_item(2)?;
        let kind = if kind.is_none() {
            None
        } else {
            let k = kind.cast::<PyTuple>()?;
            Some((
                list_items(&k.get_item(0)?)?,
                list_items(&k.get_item(1)?)?,
                k.get_item(2)?.unbind(),
            ))
        };
        let pe_obj = r.get_item(6)?;
        let pe = if pe_obj.is_none() {
            None
        } else {
            let mut m = FxMap::default();
            for (name, target) in str_map(pe_obj.cast::<PyDict>()?)? {
                m.insert(name, self.paths.get(py, &target));
            }
            Some(m)
        };
        let plan = Arc::new(Plan {
            dataset: r.get_item(0)?.cast_into::<PyString>()?.unbind(),
            module: r.get_item(1)?.cast_into::<PyString>()?.unbind(),
            kind,
            sysmon: r.get_item(3)?.extract()?,
            security: r.get_item(4)?.extract()?,
            failure: r.get_item(5)?.extract()?,
            pe,
            hash_prefix: r.get_item(7)?.extract()?,
            logon: r.get_item(8)?.extract()?,
        });
        if self.plans.len() > 4096 {
            self.plans.clear(); // channel names come from the input
        }
        match channel {
            Some(ch) => self
                .plans
                .entry(ch.to_owned())
                .or_default()
                .insert(eid, plan.clone()),
            None => self.plans_unnamed.insert(eid, plan.clone()),
        };
        Ok(plan)
    }

    /// Keyword names for a Keywords value, from winlog's ``_keywords`` the first time.
    pub fn keywords(
        &mut self,
        py: Python<'_>,
        t: &Tables,
        key: KeywordsKey<'_>,
    ) -> PyResult<Arc<Keywords>> {
        let hit = match key {
            KeywordsKey::Text(s) => self.keywords_text.get(s),
            KeywordsKey::Int(i) => self.keywords_int.get(&i),
        };
        if let Some(k) = hit {
            return Ok(k.clone());
        }
        let r = match key {
            KeywordsKey::Text(s) => t.keywords_fn.bind(py).call1((s,))?,
            KeywordsKey::Int(i) => t.keywords_fn.bind(py).call1((i,))?,
        };
        let r = r.cast::<PyTuple>()?;
        let names = r.get_item(0)?;
        let outcome = r.get_item(1)?;
        let k = Arc::new(Keywords {
            names: if names.is_none() {
                None
            } else {
                Some(list_items(&names)?)
            },
            outcome: if outcome.is_none() {
                None
            } else {
                Some(outcome.unbind())
            },
        });
        if self.keywords_text.len() + self.keywords_int.len() > 1024 {
            self.keywords_text.clear();
            self.keywords_int.clear();
        }
        match key {
            KeywordsKey::Text(s) => self.keywords_text.insert(s.to_owned(), k.clone()),
            KeywordsKey::Int(i) => self.keywords_int.insert(i, k.clone()),
        };
        Ok(k)
    }

    /// A header text as a Python string, shared by the records that repeat it.
    #[inline]
    pub fn text<'py>(&mut self, py: Python<'py>, s: &str) -> Bound<'py, PyString> {
        if let Some(v) = self.texts.get(s) {
            return v.bind(py).clone();
        }
        let v = crate::py::string(py, s);
        if self.texts.len() > 16_384 {
            self.texts.clear(); // texts come from the input
        }
        self.texts.insert(s.to_owned(), v.clone().unbind());
        v
    }

    /// An EventData name as a Python string, and its rule.
    #[inline]
    pub fn name<'py>(
        &mut self,
        py: Python<'py>,
        t: &Tables,
        name: &str,
    ) -> (Bound<'py, PyString>, Option<Rule>) {
        if let Some((s, rule)) = self.names.get(name) {
            return (s.bind(py).clone(), rule.clone());
        }
        let s = PyString::intern(py, name);
        let rule = t.rules.get(name).cloned();
        if self.names.len() > 65_536 {
            self.names.clear(); // names come from the input
        }
        self.names
            .insert(name.to_owned(), (s.clone().unbind(), rule.clone()));
        (s, rule)
    }
}
