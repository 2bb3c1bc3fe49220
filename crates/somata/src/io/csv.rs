//! CSV tables of `f32`: one header row of column names, then one row per record.
//!
//! [`write_f32`] writes each value with Rust's shortest round-trip formatting (`0.1`, `1e-7`,
//! `NaN`, `inf`), so [`read_f32`] gives back the same bits; a column name containing `,`, `"`
//! or a line break is quoted as RFC 4180 (`"a,b"`, `"say ""hi"""`). The file is written
//! atomically (`<path>.tmp`, fsync, rename). For a labelled data set, see
//! [`crate::data::load_csv`].
//!
//! ```
//! use somata::io::csv;
//! let dir = std::env::temp_dir().join(format!("somata-csv-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("v.csv");
//! // 2 steps × 2 columns: t (ms) and V (mV)
//! csv::write_f32(&path, &["t_ms", "V_mV"], &[0.0, -65.0, 0.1, -64.9])?;
//! assert_eq!(std::fs::read_to_string(&path)?, "t_ms,V_mV\n0,-65\n0.1,-64.9\n");
//! let t = csv::read_f32(&path)?;
//! assert_eq!((t.rows(), t.header.len()), (2, 2));
//! assert_eq!(t.data, [0.0, -65.0, 0.1, -64.9]);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::{Result, SomataError};
use std::path::Path;

/// A table read by [`read_f32`]: the column names and the values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvTable {
    /// Column names (the header row).
    pub header: Vec<String>,
    /// Values, row-major (`rows × header.len()`).
    pub data: Vec<f32>,
}

impl CsvTable {
    /// Number of data rows.
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.header.len()).unwrap_or(0)
    }
    /// The values of column `name`, if there is one.
    ///
    /// ```
    /// let t = somata::io::csv::parse_f32("a,b\n1,2\n3,4\n", "memory")?;
    /// assert_eq!(t.column("b"), Some(vec![2.0, 4.0]));
    /// # Ok::<(), somata::SomataError>(())
    /// ```
    pub fn column(&self, name: &str) -> Option<Vec<f32>> {
        let c = self.header.iter().position(|h| h == name)?;
        Some(self.data.iter().skip(c).step_by(self.header.len()).copied().collect())
    }
}

fn quote(name: &str) -> String {
    if name.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", name.replace('"', "\"\""))
    } else {
        name.to_string()
    }
}

/// The text of a CSV table: the header row `header`, then `data` (row-major, `header.len()`
/// columns). Errors: no columns, or `data.len()` not a multiple of the column count
/// ([`SomataError::ShapeMismatch`]).
///
/// ```
/// let s = somata::io::csv::to_string_f32(&["x", "y,z"], &[1.5, 2.0])?;
/// assert_eq!(s, "x,\"y,z\"\n1.5,2\n");
/// # Ok::<(), somata::SomataError>(())
/// ```
pub fn to_string_f32(header: &[&str], data: &[f32]) -> Result<String> {
    let cols = header.len();
    if cols == 0 || !data.len().is_multiple_of(cols) {
        return Err(SomataError::ShapeMismatch {
            what: "csv data (a multiple of the column count)".into(),
            expected: vec![cols],
            got: vec![data.len()],
        });
    }
    let mut s = header.iter().map(|h| quote(h)).collect::<Vec<_>>().join(",");
    s.push('\n');
    for row in data.chunks_exact(cols) {
        for (j, v) in row.iter().enumerate() {
            if j > 0 {
                s.push(',');
            }
            s.push_str(&v.to_string());
        }
        s.push('\n');
    }
    Ok(s)
}

/// Write a table (header row, then `data` row-major with `header.len()` columns) to `path`,
/// atomically.
///
/// ```no_run
/// somata::io::csv::write_f32("rates.csv", &["t_ms", "rate_hz"], &[0.0, 12.5, 1.0, 13.0])?;
/// # Ok::<(), somata::SomataError>(())
/// ```
pub fn write_f32(path: impl AsRef<Path>, header: &[&str], data: &[f32]) -> Result<()> {
    let s = to_string_f32(header, data)?;
    super::npy::write_atomic(path.as_ref(), s.as_bytes())
}

/// Read a table written by [`write_f32`] (or any CSV with one header row and numeric cells).
pub fn read_f32(path: impl AsRef<Path>) -> Result<CsvTable> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| SomataError::Io(format!("reading {}: {e}", path.display())))?;
    parse_f32(&text, &path.display().to_string())
}

/// Split one header line on commas outside double quotes.
fn split_header(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Parse CSV text; `origin` names it in errors ([`SomataError::Format`] with the line and
/// column of a bad cell or a row of the wrong width).
///
/// ```
/// let e = somata::io::csv::parse_f32("a,b\n1,x\n", "t.csv").unwrap_err();
/// assert!(e.to_string().contains("t.csv line 2, column 2"));
/// ```
pub fn parse_f32(text: &str, origin: &str) -> Result<CsvTable> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, head) = lines.next().ok_or_else(|| SomataError::Format(format!("csv {origin}: empty file (no header row)")))?;
    let header = split_header(head.trim_end_matches('\r'));
    let cols = header.len();
    let mut data = Vec::new();
    for (i, line) in lines {
        let cells: Vec<&str> = line.trim_end_matches('\r').split(',').collect();
        if cells.len() != cols {
            return Err(SomataError::Format(format!("csv {origin} line {}: {} cells, the header has {cols}", i + 1, cells.len())));
        }
        for (j, c) in cells.iter().enumerate() {
            let v: f32 = c
                .trim()
                .parse()
                .map_err(|_| SomataError::Format(format!("csv {origin} line {}, column {}: `{c}` is not a number", i + 1, j + 1)))?;
            data.push(v);
        }
    }
    Ok(CsvTable { header, data })
}
