//! `canh.collectors._lines_native`: the compiled fast path of Canh's line parsers.
//!
//! Each parser here handles the common, plain shapes of its format and gives back exactly the event
//! the Python parser (the reference) makes for the same line; any line it does not handle it hands
//! back (None) for the Python parser to read. Tests compare both on every line they parse.

mod access_line;
mod auth;
mod auth_body;
mod clf_stamp;
mod line_text;
mod shape;
mod syslog_head;
mod web;

use pyo3::prelude::*;

#[pymodule]
fn _lines_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    auth::register(m)?;
    web::register(m)?;
    Ok(())
}
