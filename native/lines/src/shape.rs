//! Events built from the Python parsers' own `Shape` specs (canh.events), so the compiled path makes
//! the same nested dicts, in the same key order, as the shape's compiled Python builder.
//!
//! A spec is `[(dotted path, tag, constant)]` in spec order, tag 0 a constant, 1 VALUE, 2 OPTIONAL.
//! Building follows `_compile_shape`: objects in first-seen order, a None OPTIONAL leaves its key
//! out, an object left empty by that is left out too (only all-OPTIONAL objects can be).

use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

extern "C" {
    // CPython's sizing for a dict about to get `minused` keys (what BUILD_MAP uses).
    fn _PyDict_NewPresized(minused: ffi::Py_ssize_t) -> *mut ffi::PyObject;
}

enum Node {
    Const(Py<PyAny>),
    /// A list constant: a new list (of the same items) in every event, as the Python literal makes.
    List(Vec<Py<PyAny>>),
    Slot {
        index: usize,
        optional: bool,
    },
    Obj(Obj),
}

/// An object: its keys in order and what each holds.
struct Obj {
    children: Vec<(Py<PyString>, Node)>,
}

/// One compiled shape: its tree and how many values it takes.
pub struct Built {
    root: Obj,
    pub values: usize,
}

fn insert(
    py: Python<'_>,
    node: &mut Vec<(Py<PyString>, Node)>,
    parts: &[&str],
    leaf: Node,
) -> PyResult<()> {
    let (first, rest) = parts.split_first().expect("a path has a part");
    let at = node
        .iter()
        .position(|(k, _)| k.bind(py).to_str().map(|s| s == *first).unwrap_or(false));
    if rest.is_empty() {
        if at.is_some() {
            return Err(PyValueError::new_err(format!("{first}: set twice")));
        }
        node.push((PyString::intern(py, first).unbind(), leaf));
        return Ok(());
    }
    let index = match at {
        Some(i) => i,
        None => {
            let obj = Obj {
                children: Vec::new(),
            };
            node.push((PyString::intern(py, first).unbind(), Node::Obj(obj)));
            node.len() - 1
        }
    };
    match &mut node[index].1 {
        Node::Obj(obj) => insert(py, &mut obj.children, rest, leaf),
        _ => Err(PyValueError::new_err(format!(
            "{first}: a value, not an object"
        ))),
    }
}

impl Built {
    /// The tree of a spec (a list of `(path, tag, constant)` tuples).
    pub fn new(py: Python<'_>, spec: &Bound<'_, PyList>) -> PyResult<Built> {
        let mut children = Vec::new();
        let mut values = 0;
        for item in spec.iter() {
            let item = item.cast_into::<PyTuple>()?;
            let path: String = item.get_item(0)?.extract()?;
            let tag: u8 = item.get_item(1)?.extract()?;
            let constant = item.get_item(2)?;
            let leaf = match tag {
                0 => match constant.cast::<PyList>() {
                    Ok(list) => Node::List(list.iter().map(|v| v.unbind()).collect()),
                    Err(_) => Node::Const(constant.unbind()),
                },
                1 | 2 => {
                    values += 1;
                    Node::Slot {
                        index: values - 1,
                        optional: tag == 2,
                    }
                }
                _ => return Err(PyValueError::new_err("tag: 0, 1 or 2")),
            };
            let parts: Vec<&str> = path.split('.').collect();
            insert(py, &mut children, &parts, leaf)?;
        }
        Ok(Built {
            root: Obj { children },
            values,
        })
    }

    /// The event of `vals` (owned references, null for None; one per slot), or null with an error set.
    ///
    /// # Safety
    /// The GIL is held and `vals` has `self.values` entries, each null or a live object.
    #[inline]
    pub unsafe fn build(&self, vals: &[*mut ffi::PyObject]) -> *mut ffi::PyObject {
        build(&self.root, vals)
    }
}

unsafe fn build(obj: &Obj, vals: &[*mut ffi::PyObject]) -> *mut ffi::PyObject {
    // Keys inserted one by one into a dict sized for them, as BUILD_MAP does: copying a template
    // dict and replacing its values measured slower (a replacement costs an insertion's lookup).
    let d = _PyDict_NewPresized(obj.children.len() as ffi::Py_ssize_t);
    if d.is_null() {
        return d;
    }
    for (key, child) in &obj.children {
        let (value, owned) = match child {
            Node::Const(v) => (v.as_ptr(), false),
            Node::Slot { index, optional } => {
                let v = vals[*index];
                if v.is_null() {
                    if *optional {
                        continue;
                    }
                    (ffi::Py_None(), false)
                } else {
                    (v, false)
                }
            }
            Node::List(items) => {
                let list = ffi::PyList_New(items.len() as ffi::Py_ssize_t);
                if list.is_null() {
                    ffi::Py_DECREF(d);
                    return list;
                }
                for (i, item) in items.iter().enumerate() {
                    ffi::Py_INCREF(item.as_ptr());
                    ffi::PyList_SET_ITEM(list, i as ffi::Py_ssize_t, item.as_ptr());
                }
                (list, true)
            }
            Node::Obj(sub) => {
                let v = build(sub, vals);
                if v.is_null() {
                    ffi::Py_DECREF(d);
                    return v;
                }
                if ffi::PyDict_Size(v) == 0 {
                    ffi::Py_DECREF(v);
                    continue;
                }
                (v, true)
            }
        };
        let failed = ffi::PyDict_SetItem(d, key.as_ptr(), value) != 0;
        if owned {
            ffi::Py_DECREF(value);
        }
        if failed {
            ffi::Py_DECREF(d);
            return std::ptr::null_mut();
        }
    }
    d
}

/// A new str of ASCII bytes (the caller checked them), copied in without the UTF-8 decoder; null
/// with an error set when out of memory.
///
/// # Safety
/// The GIL is held and `s` is ASCII.
#[inline]
pub unsafe fn ascii(s: &[u8]) -> *mut ffi::PyObject {
    let o = ffi::PyUnicode_New(s.len() as ffi::Py_ssize_t, 127);
    if !o.is_null() && !s.is_empty() {
        std::ptr::copy_nonoverlapping(s.as_ptr(), ffi::PyUnicode_DATA(o) as *mut u8, s.len());
    }
    o
}
