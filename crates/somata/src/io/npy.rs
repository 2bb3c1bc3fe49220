//! NumPy `.npy` files: write `float32` arrays, read `float32`/`float64` ones.
//!
//! [`write_f32`] writes format version 1.0: the magic `\x93NUMPY`, version `1 0`, a
//! little-endian `u16` header length, the header dict
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (rows, cols), }` padded with spaces to a
//! 64-byte boundary and ending in `\n`, then the data in C (row-major) order. `numpy.load` reads
//! it. The file is written atomically: `<path>.tmp` in the same directory, fsync, rename, so a
//! reader never sees half a file.
//!
//! [`read`] accepts versions 1.0, 2.0 and 3.0, dtypes `<f4` and `<f8` (also `float32`/`float64`
//! spelled with `=` on this little-endian target), C order, any shape (1-D and 2-D are the
//! common ones). Everything else is a [`SomataError::Format`] naming the file and the problem:
//! bad magic, unsupported version, unsupported dtype (e.g. `>f4`, `<i8`), Fortran order, a
//! malformed header, a truncated file (fewer data bytes than the shape needs) or trailing bytes.
//!
//! ```
//! use somata::io::npy;
//! let dir = std::env::temp_dir().join(format!("somata-npy-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("v.npy");
//! npy::write_f32(&path, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?; // 2 rows × 3 columns
//! let a = npy::read(&path)?;
//! assert_eq!(a.shape, [2, 3]);
//! assert_eq!(a.to_f32(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::{Result, SomataError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The `.npy` magic string.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The element type of an array read from a `.npy` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// `<f4`, IEEE 754 single precision.
    F32,
    /// `<f8`, IEEE 754 double precision.
    F64,
}

/// The values of an array read from a `.npy` file, in its own dtype.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    /// `float32` values.
    F32(Vec<f32>),
    /// `float64` values.
    F64(Vec<f64>),
}

/// An array read from a `.npy` file: shape and C-order values.
///
/// ```
/// use somata::io::npy::{self, Dtype};
/// let bytes = npy::to_bytes_f32(&[0.5, -1.0], &[2])?;
/// let a = npy::from_bytes(&bytes, "memory")?;
/// assert_eq!((a.dtype(), a.shape.as_slice(), a.len()), (Dtype::F32, &[2usize][..], 2));
/// assert_eq!(a.to_f64(), [0.5, -1.0]);
/// # Ok::<(), somata::SomataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The shape (`[]` for a scalar, `[n]`, `[rows, cols]`, ...).
    pub shape: Vec<usize>,
    /// The values in C (row-major) order.
    pub data: NpyData,
}

impl NpyArray {
    /// The dtype of the file.
    pub fn dtype(&self) -> Dtype {
        match self.data {
            NpyData::F32(_) => Dtype::F32,
            NpyData::F64(_) => Dtype::F64,
        }
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.data {
            NpyData::F32(v) => v.len(),
            NpyData::F64(v) => v.len(),
        }
    }
    /// True if the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The values as `f32` (a `float64` file is rounded to nearest).
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            NpyData::F32(v) => v.clone(),
            NpyData::F64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }
    /// The values as `f64` (exact for both dtypes).
    pub fn to_f64(&self) -> Vec<f64> {
        match &self.data {
            NpyData::F32(v) => v.iter().map(|&x| x as f64).collect(),
            NpyData::F64(v) => v.clone(),
        }
    }
    /// `(rows, cols)` of a 2-D array; a 1-D array of `n` is `(n, 1)`. Other ranks: a
    /// [`SomataError::ShapeMismatch`].
    pub fn rows_cols(&self) -> Result<(usize, usize)> {
        match self.shape.as_slice() {
            [n] => Ok((*n, 1)),
            [r, c] => Ok((*r, *c)),
            s => Err(SomataError::ShapeMismatch { what: "npy array (1-D or 2-D expected)".into(), expected: vec![0, 0], got: s.to_vec() }),
        }
    }
}

fn fmt_err(origin: &str, msg: impl std::fmt::Display) -> SomataError {
    SomataError::Format(format!("npy {origin}: {msg}"))
}

/// The bytes of a version-1.0 `.npy` file of `float32` `data` with `shape` (C order).
/// Errors: `data.len()` differs from the product of `shape` ([`SomataError::ShapeMismatch`]).
///
/// ```
/// let b = somata::io::npy::to_bytes_f32(&[1.0; 6], &[2, 3])?;
/// assert_eq!(&b[..6], b"\x93NUMPY");
/// assert_eq!(b.len(), 128 + 24); // 64-byte aligned header, then 6 × 4 bytes
/// assert!(std::str::from_utf8(&b[10..128]).unwrap().contains("'shape': (2, 3)"));
/// # Ok::<(), somata::SomataError>(())
/// ```
pub fn to_bytes_f32(data: &[f32], shape: &[usize]) -> Result<Vec<u8>> {
    let want: usize = shape.iter().product();
    if want != data.len() {
        return Err(SomataError::ShapeMismatch {
            what: "npy data (product of the shape)".into(),
            expected: shape.to_vec(),
            got: vec![data.len()],
        });
    }
    let dims = match shape {
        [n] => format!("({n},)"),
        s => format!("({})", s.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}");
    // total = magic 6 + version 2 + len 2 + header (incl. '\n'), a multiple of 64
    let total = (10 + header.len() + 1).div_ceil(64) * 64;
    while 10 + header.len() + 1 < total {
        header.push(' ');
    }
    header.push('\n');
    let hlen = u16::try_from(header.len()).map_err(|_| fmt_err("writer", "shape too long for a version 1.0 header"))?;
    let mut out = Vec::with_capacity(total + 4 * data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&hlen.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// Write `float32` `data` of `shape` (C order; `[rows, cols]` for a table) to `path` as a
/// version-1.0 `.npy` file, atomically (`<path>.tmp`, fsync, rename).
///
/// ```no_run
/// // 1000 steps × 100 neurons of spikes, for numpy.load("spikes.npy")
/// let spikes = vec![0.0f32; 1000 * 100];
/// somata::io::npy::write_f32("spikes.npy", &spikes, &[1000, 100])?;
/// # Ok::<(), somata::SomataError>(())
/// ```
pub fn write_f32(path: impl AsRef<Path>, data: &[f32], shape: &[usize]) -> Result<()> {
    let bytes = to_bytes_f32(data, shape)?;
    write_atomic(path.as_ref(), &bytes)
}

/// Read a `.npy` file (`<f4` or `<f8`, C order, versions 1–3).
pub fn read(path: impl AsRef<Path>) -> Result<NpyArray> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| SomataError::Io(format!("reading {}: {e}", path.display())))?;
    from_bytes(&bytes, &path.display().to_string())
}

/// Parse the bytes of a `.npy` file; `origin` names it in error messages.
///
/// ```
/// use somata::io::npy;
/// let err = npy::from_bytes(b"PK\x03\x04not npy", "x.npy").unwrap_err();
/// assert!(err.to_string().contains("bad magic"));
/// ```
pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<NpyArray> {
    if bytes.len() < 6 || &bytes[..6] != MAGIC {
        return Err(fmt_err(origin, "bad magic (not a .npy file: it must start with \\x93NUMPY)"));
    }
    if bytes.len() < 10 {
        return Err(fmt_err(origin, "truncated header"));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (hlen, start): (usize, usize) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(fmt_err(origin, "truncated header"));
            }
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        _ => return Err(fmt_err(origin, format!("unsupported format version {major}.{minor} (1.0, 2.0 and 3.0 are read)"))),
    };
    let end = start.checked_add(hlen).filter(|&e| e <= bytes.len()).ok_or_else(|| fmt_err(origin, "truncated header"))?;
    let header = std::str::from_utf8(&bytes[start..end]).map_err(|_| fmt_err(origin, "header is not text"))?;
    let descr = dict_value(header, "descr").ok_or_else(|| fmt_err(origin, format!("malformed header, no 'descr': {}", header.trim())))?;
    let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"');
    let dtype = match descr {
        "<f4" | "=f4" | "f4" => Dtype::F32,
        "<f8" | "=f8" | "f8" => Dtype::F64,
        d => return Err(fmt_err(origin, format!("unsupported dtype '{d}' (little-endian float32 '<f4' or float64 '<f8' are read)"))),
    };
    let fortran = dict_value(header, "fortran_order")
        .ok_or_else(|| fmt_err(origin, format!("malformed header, no 'fortran_order': {}", header.trim())))?;
    match fortran.trim() {
        "False" => {}
        "True" => return Err(fmt_err(origin, "fortran order is not supported (save a C-order array: numpy.ascontiguousarray)")),
        v => return Err(fmt_err(origin, format!("malformed header, fortran_order = {v}"))),
    }
    let shape_txt =
        dict_value(header, "shape").ok_or_else(|| fmt_err(origin, format!("malformed header, no 'shape': {}", header.trim())))?;
    let shape = parse_shape(shape_txt).ok_or_else(|| fmt_err(origin, format!("malformed shape {}", shape_txt.trim())))?;
    let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or_else(|| fmt_err(origin, "shape too large"))?;
    let size = match dtype {
        Dtype::F32 => 4,
        Dtype::F64 => 8,
    };
    let body = &bytes[end..];
    let need = count.checked_mul(size).ok_or_else(|| fmt_err(origin, "shape too large"))?;
    if body.len() < need {
        return Err(fmt_err(origin, format!("truncated: shape {shape:?} needs {need} data bytes, the file has {}", body.len())));
    }
    if body.len() > need {
        return Err(fmt_err(origin, format!("{} trailing bytes after the data of shape {shape:?}", body.len() - need)));
    }
    let data = match dtype {
        Dtype::F32 => NpyData::F32(body.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
        Dtype::F64 => {
            NpyData::F64(body.chunks_exact(8).map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect())
        }
    };
    Ok(NpyArray { shape, data })
}

/// The text after `'key':` in a Python dict literal, up to the next top-level `,` or `}`.
pub(crate) fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let pats = [format!("'{key}'"), format!("\"{key}\"")];
    let at = pats.iter().find_map(|p| header.find(p.as_str()).map(|i| i + p.len()))?;
    let rest = header[at..].trim_start().strip_prefix(':')?;
    let mut depth = 0i32;
    for (i, c) in rest.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(&rest[..i]),
            _ => {}
        }
    }
    None
}

/// `(2, 3)`, `(5,)`, `()` → the dimensions.
fn parse_shape(s: &str) -> Option<Vec<usize>> {
    let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    inner.split(',').map(str::trim).filter(|t| !t.is_empty()).map(|t| t.trim_end_matches('L').parse().ok()).collect()
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Write `bytes` to `path` atomically: `<path>.tmp` in the same directory, fsync, rename
/// (the temporary file is removed if a step fails).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.file_name().is_none() {
        return Err(SomataError::Io(format!("path `{}` names no file", path.display())));
    }
    let tmp = tmp_path(path);
    let io = |what: &str, p: &Path, e: std::io::Error| SomataError::Io(format!("{what} {}: {e}", p.display()));
    let write = || -> Result<()> {
        let mut f = std::fs::File::create(&tmp).map_err(|e| io("creating", &tmp, e))?;
        f.write_all(bytes).map_err(|e| io("writing", &tmp, e))?;
        f.sync_all().map_err(|e| io("syncing", &tmp, e))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| io(&format!("renaming {} over", tmp.display()), path, e))
    };
    let r = write();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}
