//! `canh.collectors._evtx_native`: EVTX records to ECS events (Python dicts) in one native step.
//!
//! `Mapper(tables)` takes winlog.py's tables once; `mapper.read(path, source, host, ingested)`
//! iterates a file chunk by chunk, as the `evtx` package's `records_json()` does, and yields:
//! - a list of events (the records that follow one another without a problem), or
//! - `("chunk", message)`: what `records_json()` would have raised there (damaged chunk or record),
//! - `("record", record_number, json_text)`: a record for the Python mapping (see ecs.rs: Defer).

mod ecs;
mod json;
mod py;
mod stamp;
mod tables;

use std::error::Error;
use std::fs::File;
use std::sync::{Mutex, PoisonError};

use evtx::err::{ChunkError, DeserializationError, EvtxError};
use evtx::{EvtxParser, IntoIterChunks, ParserSettings};
use pyo3::exceptions::{PyFileNotFoundError, PyNotImplementedError, PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::ecs::{map_record, Context};
use crate::json::Doc;
use crate::tables::{Caches, Tables};

/// An error and its causes, as the `evtx` package words what it raises ("a: b: c").
fn chain(e: &dyn Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

fn io_error(e: &std::io::Error) -> PyErr {
    match e.kind() {
        std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(e.to_string()),
        _ => PyOSError::new_err(e.to_string()),
    }
}

/// What opening a file raises: the `evtx` package's exception for the same failure (an OS error
/// when an I/O error is at its root, else a runtime error), worded the same.
fn open_error(e: EvtxError) -> PyErr {
    let text = chain(&e);
    if matches!(e, EvtxError::Unimplemented { .. }) {
        return PyNotImplementedError::new_err(text);
    }
    // An `Io` variant is transparent: its source skips the io::Error itself.
    let direct = match &e {
        EvtxError::IoError(io) | EvtxError::DeserializationError(DeserializationError::Io(io)) => {
            Some(io)
        }
        _ => None,
    };
    if let Some(io) = direct {
        return match io.kind() {
            std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(text),
            _ => PyOSError::new_err(text),
        };
    }
    let mut cause: Option<&(dyn Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(text),
                _ => PyOSError::new_err(text),
            };
        }
        cause = c.source();
    }
    PyRuntimeError::new_err(text)
}

fn context(
    py: Python<'_>,
    source: String,
    host: Option<String>,
    ingested: Bound<'_, PyString>,
) -> Context {
    Context {
        source_is_file: source.starts_with('/'),
        source_py: PyString::new(py, &source).unbind(),
        source,
        host_py: host
            .filter(|h| !h.is_empty())
            .map(|h| PyString::new(py, &h).unbind()),
        ingested: ingested.unbind(),
    }
}

/// winlog.py's tables, and the caches every reader made from this mapper shares.
#[pyclass(frozen, module = "canh.collectors._evtx_native")]
struct Mapper {
    tables: Tables,
    caches: Mutex<Caches>,
}

#[pymethods]
impl Mapper {
    #[new]
    fn new(py: Python<'_>, tables: &Bound<'_, PyDict>) -> PyResult<Self> {
        let mut caches = Caches::default();
        let tables = Tables::new(py, tables, &mut caches)?;
        Ok(Mapper {
            tables,
            caches: Mutex::new(caches),
        })
    }

    /// One record's JSON text (as the `evtx` package renders it) to its event, or None when the
    /// Python mapping is to take it: what `read` does per record, for tests.
    #[pyo3(signature = (text, source, host, ingested, position))]
    fn map_json<'py>(
        &self,
        py: Python<'py>,
        text: &str,
        source: String,
        host: Option<String>,
        ingested: Bound<'py, PyString>,
        position: u64,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let ctx = context(py, source, host, ingested);
        let mut caches = self.caches.lock().unwrap_or_else(PoisonError::into_inner);
        let mut doc = Doc::default();
        let original = PyString::new(py, text);
        Ok(match doc.parse(text) {
            Ok(root) => map_record(
                py,
                &self.tables,
                &mut caches,
                &ctx,
                &doc,
                root,
                position,
                &original,
            )
            .ok(),
            Err(_) => None,
        })
    }

    /// Iterate the records of the EVTX file at `path` (see the module docstring).
    #[pyo3(signature = (path, source, host, ingested))]
    fn read(
        slf: Py<Self>,
        path: &str,
        source: String,
        host: Option<String>,
        ingested: Bound<'_, PyString>,
    ) -> PyResult<Reader> {
        let file = File::open(path).map_err(|e| io_error(&e))?;
        let parser = EvtxParser::from_read_seek(file).map_err(open_error)?;
        let settings = ParserSettings::new().num_threads(1);
        let chunks = parser.with_configuration(settings.clone()).into_chunks();
        Ok(Reader {
            mapper: slf,
            chunks: Mutex::new(Some(chunks)),
            settings: std::sync::Arc::new(settings),
            state: Mutex::new(State::default()),
            ctx: context(ingested.py(), source, host, ingested.clone()),
        })
    }
}

/// One rendered record, or what rendering it (or its chunk) raised.
enum Item {
    Record(u64, String),
    Problem(String),
}

#[derive(Default)]
struct State {
    items: Vec<Item>,
    next: usize,
    deferred: u64,
    mapped: u64,
    reasons: std::collections::BTreeMap<&'static str, u64>,
}

#[pyclass(module = "canh.collectors._evtx_native")]
struct Reader {
    mapper: Py<Mapper>,
    chunks: Mutex<Option<IntoIterChunks<File>>>,
    settings: std::sync::Arc<ParserSettings>,
    state: Mutex<State>,
    ctx: Context,
}

/// Render every record of the next chunk (or say why it could not be read), as records_json does.
fn next_chunk(
    chunks: &mut IntoIterChunks<File>,
    settings: &std::sync::Arc<ParserSettings>,
) -> Option<Vec<Item>> {
    let chunk = chunks.next()?;
    let mut data = match chunk {
        Err(e) => {
            return Some(vec![Item::Problem(match &e {
                EvtxError::FailedToParseChunk { source, .. } => match &**source {
                    ChunkError::FailedToSeekToChunk(io) => io.to_string(),
                    _ => chain(&e),
                },
                _ => chain(&e),
            })])
        }
        Ok(data) => data,
    };
    let first = data.header.first_event_record_id;
    let last = data.header.last_event_record_id;
    let mut chunk = match data.parse(settings.clone()) {
        Err(e) => {
            return Some(vec![Item::Problem(format!(
                "Failed to parse chunk containing record IDs {first}..{last}: {}",
                chain(&e)
            ))])
        }
        Ok(chunk) => chunk,
    };
    let items = chunk
        .iter()
        .map(|record| {
            let record = match record {
                Ok(r) => r,
                Err(e) => return Item::Problem(chain(&e)),
            };
            let record_id = record.event_record_id;
            match record.into_json() {
                Ok(r) => Item::Record(r.event_record_id, r.data),
                Err(source) => {
                    let e = EvtxError::FailedToParseRecord {
                        record_id,
                        source: Box::new(source),
                    };
                    Item::Problem(chain(&e))
                }
            }
        })
        .collect();
    Some(items)
}

#[pymethods]
impl Reader {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.next >= state.items.len() {
            let mut guard = self.chunks.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(chunks) = guard.as_mut() else {
                return Ok(None);
            };
            let settings = &self.settings;
            // Parsing and rendering need no Python objects: other threads run meanwhile.
            let next = py.detach(|| next_chunk(chunks, settings));
            match next {
                None => {
                    *guard = None; // the file is closed as soon as it is read
                    return Ok(None);
                }
                Some(items) => {
                    state.items = items;
                    state.next = 0;
                }
            }
        }
        let mapper = self.mapper.get();
        let mut caches = mapper.caches.lock().unwrap_or_else(PoisonError::into_inner);
        let tables = &mapper.tables;
        let items = std::mem::take(&mut state.items);
        let mut next = state.next;
        let run = PyList::empty(py);
        let mut doc = Doc::default();
        let mut single: Option<Bound<'py, PyAny>> = None;
        while next < items.len() {
            let (rid, text) = match &items[next] {
                Item::Problem(message) => {
                    if run.len() == 0 {
                        next += 1;
                        let t = PyTuple::new(
                            py,
                            [PyString::new(py, "chunk"), PyString::new(py, message)],
                        )?;
                        single = Some(t.into_any());
                    }
                    break;
                }
                Item::Record(rid, text) => (*rid, text.as_str()),
            };
            let original = PyString::new(py, text);
            let mapped = match doc.parse(text) {
                Ok(root) => map_record(
                    py,
                    tables,
                    &mut caches,
                    &self.ctx,
                    &doc,
                    root,
                    rid,
                    &original,
                ),
                Err(_) => Err(ecs::Defer("JSON this reader does not read")),
            };
            match mapped {
                Ok(ev) => {
                    run.append(ev)?;
                    state.mapped += 1;
                    next += 1;
                }
                Err(ecs::Defer(reason)) => {
                    if run.len() == 0 {
                        next += 1;
                        state.deferred += 1;
                        *state.reasons.entry(reason).or_default() += 1;
                        let rid = rid.into_pyobject(py)?.into_any();
                        let t = PyTuple::new(
                            py,
                            [
                                PyString::new(py, "record").into_any(),
                                rid,
                                original.into_any(),
                            ],
                        )?;
                        single = Some(t.into_any());
                    }
                    break; // a record for the Python mapping comes on its own
                }
            }
        }
        if next < items.len() {
            state.items = items;
            state.next = next;
        } else {
            state.next = 0;
        }
        Ok(Some(single.unwrap_or_else(|| run.into_any())))
    }

    /// Records mapped here, and records handed to the Python mapping, so far.
    #[getter]
    fn counts(&self) -> (u64, u64) {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        (state.mapped, state.deferred)
    }

    /// Why records were handed to the Python mapping: reason -> count.
    #[getter]
    fn deferred(&self) -> std::collections::BTreeMap<&'static str, u64> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.reasons.clone()
    }
}

#[pymodule]
fn _evtx_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Mapper>()?;
    m.add_class::<Reader>()?;
    m.add_function(wrap_pyfunction!(copy_event, m)?)?;
    Ok(())
}

fn copy_any<'py>(py: Python<'py>, v: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(d) = v.cast::<PyDict>() {
        let out = PyDict::new(py);
        for (k, x) in d.iter() {
            out.set_item(k, copy_any(py, &x)?)?;
        }
        return Ok(out.into_any());
    }
    if let Ok(l) = v.cast::<PyList>() {
        let out = PyList::empty(py);
        for x in l.iter() {
            out.append(copy_any(py, &x)?)?;
        }
        return Ok(out.into_any());
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(PyString::new(py, s.to_str()?).into_any());
    }
    Ok(v.clone())
}

/// A copy of an event with new dicts, lists and strings (keys and numbers shared): what building
/// its objects costs at least, for bench/ingest_evtx.py.
#[pyfunction]
fn copy_event<'py>(py: Python<'py>, event: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    copy_any(py, event)
}
