//! `.npy` files written while a run goes: rows are appended, and each [`NpyStream::flush`]
//! rewrites the header with the rows written so far, so a file is valid after every flush — a
//! run that is stopped or killed leaves files that `numpy.load` reads, holding what was
//! recorded up to the last flush (numpy reads the rows the header names and ignores bytes a
//! killed process appended after them).
//!
//! ```
//! use somata::io::npy_stream::{read_i64_pairs, NpyStream};
//! let path = std::env::temp_dir().join(format!("somata-npy-stream-{}.npy", std::process::id()));
//! let mut s = NpyStream::create(&path, "<i8", 2)?;
//! s.append_i64(&[0, 3, 2, 1])?; // rows (0, 3) and (2, 1)
//! s.flush()?;
//! assert_eq!(read_i64_pairs(&path)?, vec![[0, 3], [2, 1]]);
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), somata::SomataError>(())
//! ```

use crate::error::{Result, SomataError};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Total header size (magic, version, length, dict and padding): room for shapes of any size.
const HEADER: usize = 128;

/// A 2-D `.npy` file (`[rows][cols]`, C order) whose rows are appended; see the module docs.
pub struct NpyStream {
    out: BufWriter<File>,
    path: PathBuf,
    descr: &'static str,
    cols: usize,
    /// Values written (a multiple of `cols` after each append).
    values: u64,
    /// Rows named by the header on disk.
    flushed_rows: u64,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> SomataError {
    SomataError::Io(format!("{}: {e}", path.display()))
}

fn header(descr: &str, rows: u64, cols: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    let mut h = Vec::with_capacity(HEADER);
    h.extend_from_slice(b"\x93NUMPY\x01\x00");
    h.extend_from_slice(&((HEADER - 10) as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    while h.len() < HEADER - 1 {
        h.push(b' ');
    }
    h.push(b'\n');
    h
}

impl NpyStream {
    /// Create (truncate) `path` with dtype `descr` (`"<f4"` or `"<i8"`) and `cols` columns; the
    /// header names 0 rows until the first flush.
    pub fn create(path: impl AsRef<Path>, descr: &'static str, cols: usize) -> Result<NpyStream> {
        let path = path.as_ref().to_path_buf();
        if !matches!(descr, "<f4" | "<i8") {
            return Err(SomataError::Format(format!("npy stream {}: dtype {descr} (use <f4 or <i8)", path.display())));
        }
        let mut f = File::create(&path).map_err(|e| io_err(&path, e))?;
        f.write_all(&header(descr, 0, cols)).map_err(|e| io_err(&path, e))?;
        Ok(NpyStream { out: BufWriter::with_capacity(1 << 20, f), path, descr, cols, values: 0, flushed_rows: 0 })
    }
    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Rows appended so far.
    pub fn rows(&self) -> u64 {
        self.values / self.cols.max(1) as u64
    }
    /// Append float32 values (whole rows; dtype `<f4`).
    pub fn append_f32(&mut self, v: &[f32]) -> Result<()> {
        debug_assert_eq!(self.descr, "<f4");
        self.append_le(v.iter().map(|x| x.to_le_bytes()), v.len())
    }
    /// Append int64 values (whole rows; dtype `<i8`).
    pub fn append_i64(&mut self, v: &[i64]) -> Result<()> {
        debug_assert_eq!(self.descr, "<i8");
        self.append_le(v.iter().map(|x| x.to_le_bytes()), v.len())
    }
    /// `n` values as their little-endian bytes, through the writer's buffer (no copy of the
    /// whole block: a monitor's block can be hundreds of MiB).
    fn append_le<const W: usize>(&mut self, bytes: impl Iterator<Item = [u8; W]>, n: usize) -> Result<()> {
        for b in bytes {
            self.out.write_all(&b).map_err(|e| io_err(&self.path, e))?;
        }
        self.values += n as u64;
        Ok(())
    }
    /// Write the buffered rows and a header naming them: the file is valid from here on.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| io_err(&self.path, e))?;
        let rows = self.rows();
        if rows != self.flushed_rows || rows == 0 {
            let f = self.out.get_mut();
            f.seek(SeekFrom::Start(0)).map_err(|e| io_err(&self.path, e))?;
            f.write_all(&header(self.descr, rows, self.cols)).map_err(|e| io_err(&self.path, e))?;
            f.seek(SeekFrom::End(0)).map_err(|e| io_err(&self.path, e))?;
            self.flushed_rows = rows;
        }
        Ok(())
    }
}

impl Drop for NpyStream {
    fn drop(&mut self) {
        // best effort: a dropped stream (an error elsewhere, a panic) keeps its rows
        let _ = self.flush();
    }
}

/// Call `f(a, b)` for every row of an int64 `(k, 2)` `.npy` file (spike events `(step,
/// neuron)` as somata writes them), reading it in blocks (memory bounded for any size); returns
/// the rows read. Bytes after the rows the header names (a run killed between two flushes) are
/// ignored, as numpy ignores them.
pub fn for_each_i64_pair(path: impl AsRef<Path>, mut f: impl FnMut(i64, i64)) -> Result<u64> {
    use std::io::Read;
    let path = path.as_ref();
    let mut file = File::open(path).map_err(|e| io_err(path, e))?;
    let bad = |m: &str| SomataError::Format(format!("{}: {m}", path.display()));
    let mut pre = [0u8; 12];
    file.read_exact(&mut pre[..10]).map_err(|_| bad("not a .npy file"))?;
    if &pre[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file"));
    }
    let (hlen, start) = match pre[6] {
        1 => (u16::from_le_bytes([pre[8], pre[9]]) as usize, 10),
        2 | 3 => {
            file.read_exact(&mut pre[10..12]).map_err(|_| bad("truncated header"))?;
            (u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]) as usize, 12)
        }
        _ => return Err(bad("unsupported .npy version")),
    };
    let _ = start;
    let mut h = vec![0u8; hlen];
    file.read_exact(&mut h).map_err(|_| bad("truncated header"))?;
    let h = String::from_utf8(h).map_err(|_| bad("header is not text"))?;
    if !h.contains("'<i8'") || h.contains("'fortran_order': True") {
        return Err(bad("expected int64 '<i8' in C order"));
    }
    let shape = h.split("'shape':").nth(1).and_then(|s| s.split(')').next()).ok_or_else(|| bad("no shape"))?;
    let dims: Vec<u64> =
        shape.trim().trim_start_matches('(').split(',').filter(|s| !s.trim().is_empty()).filter_map(|s| s.trim().parse().ok()).collect();
    if dims.len() != 2 || dims[1] != 2 {
        return Err(bad("expected shape (k, 2)"));
    }
    let rows = dims[0];
    let mut buf = vec![0u8; 16 << 12];
    let mut done = 0u64;
    while done < rows {
        let take = ((rows - done) as usize).min(4096);
        file.read_exact(&mut buf[..take * 16]).map_err(|_| bad(&format!("truncated data: {rows} rows named, {done} read")))?;
        for c in buf[..take * 16].chunks_exact(16) {
            let a = i64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
            let b = i64::from_le_bytes(c[8..].try_into().expect("8 bytes"));
            f(a, b);
        }
        done += take as u64;
    }
    Ok(rows)
}

/// Read an int64 `(k, 2)` `.npy` file (spike events `(step, neuron)` as somata writes them) as
/// pairs ([`for_each_i64_pair`]).
pub fn read_i64_pairs(path: impl AsRef<Path>) -> Result<Vec<[i64; 2]>> {
    let mut v = vec![];
    for_each_i64_pair(path, |a, b| v.push([a, b]))?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_a_multiple_of_64_and_names_the_rows() {
        let h = header("<f4", 123_456_789_012, 40_000);
        assert_eq!(h.len(), HEADER);
        assert_eq!(h.len() % 64, 0);
        let a = crate::io::npy::from_bytes(&[h.clone(), vec![0u8; 0]].concat(), "x");
        // the header names rows that are not there: a truncation error, not a parse error
        assert!(a.unwrap_err().to_string().contains("truncated"), "{}", String::from_utf8_lossy(&h));
    }

    #[test]
    fn a_flushed_stream_is_a_valid_file_and_later_rows_are_ignored_until_flushed() {
        let p = std::env::temp_dir().join(format!("somata-npys-{}.npy", std::process::id()));
        let mut s = NpyStream::create(&p, "<f4", 3).unwrap();
        s.append_f32(&[1.0, 2.0, 3.0]).unwrap();
        s.flush().unwrap();
        s.append_f32(&[4.0, 5.0, 6.0]).unwrap();
        // written but not flushed: the file still names one row
        s.out.flush().unwrap();
        let bytes = std::fs::read(&p).unwrap();
        let rows_named = String::from_utf8_lossy(&bytes[..HEADER]).contains("(1, 3)");
        assert!(rows_named);
        s.flush().unwrap();
        let a = crate::io::npy::read(&p).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.to_f32(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        std::fs::remove_file(&p).ok();
    }
}
