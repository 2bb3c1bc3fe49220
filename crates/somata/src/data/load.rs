//! CSV loaders for the user's own samples and spike events (formats in the module doc of
//! [`crate::data`]).

use super::{Dataset, SpikeDataset};
use crate::error::{Result, SomataError};
use std::path::Path;

/// Read a sample CSV file (features, then the label in the last column; optional header).
///
/// Errors name the file and line: see [`parse_csv`].
pub fn load_csv(path: impl AsRef<Path>) -> Result<Dataset> {
    let path = path.as_ref();
    let text = read(path)?;
    parse_csv(&text, &path.display().to_string())
}

/// Parse sample CSV text; `source` (a file name) starts every error message, `source:line: ...`.
///
/// ```
/// let d = somata::data::parse_csv("a,b,label\n0.5,1,2\n0,0.25,0\n", "mine.csv")?;
/// assert_eq!((d.len(), d.n_features, d.n_classes), (2, 2, 3));
/// assert_eq!(d.features, vec![0.5, 1.0, 0.0, 0.25]);
/// let e = somata::data::parse_csv("1,2,0\n3,4\n", "mine.csv").unwrap_err();
/// assert!(e.to_string().contains("mine.csv:2:"));
/// # Ok::<(), somata::SomataError>(())
/// ```
pub fn parse_csv(text: &str, source: &str) -> Result<Dataset> {
    let mut features = Vec::new();
    let mut labels = Vec::new();
    let mut width: Option<(usize, usize)> = None; // (fields, line that set it)
    let mut fields: Vec<&str> = Vec::new();
    for (i, line) in content_lines(text) {
        split_fields(line, &mut fields);
        if width.is_none() {
            if fields.len() < 2 {
                return Err(fmt_err(source, i, format!("need at least 2 columns (features, then the label), found {}", fields.len())));
            }
            width = Some((fields.len(), i));
            if is_header(&fields) {
                continue;
            }
        }
        let (w, wline) = width.expect("set above");
        if fields.len() != w {
            return Err(ragged(source, i, w, wline, fields.len()));
        }
        for (c, f) in fields[..w - 1].iter().enumerate() {
            features.push(parse_f32(f, source, i, c + 1)?);
        }
        labels.push(parse_label(fields[w - 1], source, i, w)?);
    }
    let Some((w, _)) = width else {
        return Err(fmt_err(source, 1, "empty file: no samples".into()));
    };
    if labels.is_empty() {
        return Err(fmt_err(source, 1, "no samples after the header".into()));
    }
    Dataset::new(features, labels, w - 1, None)
}

/// Read a spike events CSV (`sample,time_step,channel` per line) with its labels either in a
/// `sample,label` section of the same file (`labels = None`) or in a separate labels file.
///
/// Errors name the file and line: see [`parse_spike_csv`].
pub fn load_spike_csv(events: impl AsRef<Path>, labels: Option<&Path>) -> Result<SpikeDataset> {
    let events = events.as_ref();
    let text = read(events)?;
    match labels {
        None => parse_spike_csv(&text, &events.display().to_string(), None),
        Some(lp) => {
            let ltext = read(lp)?;
            parse_spike_csv(&text, &events.display().to_string(), Some((&ltext, &lp.display().to_string())))
        }
    }
}

/// Parse spike events text (`events_source` names it in errors) with labels from its own
/// `sample,label` section or from `labels = Some((text, source))`.
///
/// ```
/// let s = somata::data::parse_spike_csv("0,3,1\n1,0,0\n0,1,2\nsample,label\n0,1\n1,0\n", "ev.csv", None)?;
/// assert_eq!((s.len(), s.n_steps, s.n_channels, s.n_classes), (2, 4, 3, 2));
/// assert_eq!(s.events[0], vec![(1, 2), (3, 1)]);
/// let s = somata::data::parse_spike_csv("0,3,1\n", "ev.csv", Some(("label\n4\n", "labels.csv")))?;
/// assert_eq!(s.labels, vec![4]);
/// # Ok::<(), somata::SomataError>(())
/// ```
pub fn parse_spike_csv(events_text: &str, events_source: &str, labels: Option<(&str, &str)>) -> Result<SpikeDataset> {
    let src = events_source;
    let mut raw: Vec<(u64, u32, u32, usize)> = Vec::new(); // sample, step, channel, line
    let mut section: Option<Vec<(u64, u32, usize)>> = None; // labels of the in-file section
    let mut fields: Vec<&str> = Vec::new();
    let mut first = true;
    let mut any_line = false;
    for (i, line) in content_lines(events_text) {
        any_line = true;
        split_fields(line, &mut fields);
        let is_first = std::mem::replace(&mut first, false);
        if let Some(sec) = section.as_mut() {
            if fields.len() != 2 {
                return Err(fmt_err(src, i, format!("expected 2 fields (sample,label) in the labels section, found {}", fields.len())));
            }
            let s = parse_index(fields[0], src, i, 1, "sample")?;
            let l = parse_label(fields[1], src, i, 2)?;
            sec.push((s, l, i));
            continue;
        }
        if fields.len() == 2 && fields[0].eq_ignore_ascii_case("sample") && fields[1].eq_ignore_ascii_case("label") {
            section = Some(Vec::new());
            continue;
        }
        if is_first && is_header(&fields) {
            continue;
        }
        if fields.len() != 3 {
            return Err(fmt_err(src, i, format!("expected 3 fields (sample,time_step,channel), found {}", fields.len())));
        }
        let s = parse_index(fields[0], src, i, 1, "sample")?;
        let t = parse_u32(fields[1], src, i, 2, "time_step")?;
        let c = parse_u32(fields[2], src, i, 3, "channel")?;
        raw.push((s, t, c, i));
    }
    if !any_line {
        return Err(fmt_err(src, 1, "empty file: no spike events or labels".into()));
    }
    let (label_rows, lsrc) = match (section, labels) {
        (Some(_), Some((_, lsrc))) => {
            return Err(SomataError::Format(format!("{src}: has a `sample,label` section and labels were also given in {lsrc}: use one")));
        }
        (Some(sec), None) => (sec, src.to_string()),
        (None, Some((ltext, lsrc))) => (parse_label_file(ltext, lsrc)?, lsrc.to_string()),
        (None, None) => {
            return Err(SomataError::Format(format!(
                "{src}: no labels: add a `sample,label` section after the events or give a labels file"
            )));
        }
    };
    // every sample 0..n exactly once
    let n = label_rows.len();
    let mut labels: Vec<Option<(u32, usize)>> = vec![None; n];
    for &(s, l, line) in &label_rows {
        if s >= n as u64 {
            return Err(fmt_err(&lsrc, line, format!("sample {s} is out of range: {n} labels cover samples 0..{n}")));
        }
        if let Some((_, prev)) = labels[s as usize] {
            return Err(fmt_err(&lsrc, line, format!("sample {s} already has a label (line {prev})")));
        }
        labels[s as usize] = Some((l, line));
    }
    let labels: Vec<u32> = labels.into_iter().map(|x| x.expect("all samples 0..n labelled (pigeonhole)").0).collect();
    let mut events: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n];
    let (mut n_steps, mut n_channels) = (0usize, 0usize);
    for &(s, t, c, line) in &raw {
        if s >= n as u64 {
            return Err(fmt_err(src, line, format!("sample {s} has no label (labels cover samples 0..{n})")));
        }
        events[s as usize].push((t, c));
        n_steps = n_steps.max(t as usize + 1);
        n_channels = n_channels.max(c as usize + 1);
    }
    SpikeDataset::new(n_steps, n_channels, events, labels, None)
}

/// A labels file: `sample,label` or `label` per line, optional header.
fn parse_label_file(text: &str, src: &str) -> Result<Vec<(u64, u32, usize)>> {
    let mut rows = Vec::new();
    let mut width: Option<(usize, usize)> = None;
    let mut fields: Vec<&str> = Vec::new();
    for (i, line) in content_lines(text) {
        split_fields(line, &mut fields);
        if width.is_none() {
            if !(1..=2).contains(&fields.len()) {
                return Err(fmt_err(src, i, format!("expected `sample,label` or `label`, found {} fields", fields.len())));
            }
            width = Some((fields.len(), i));
            if is_header(&fields) {
                continue;
            }
        }
        let (w, wline) = width.expect("set above");
        if fields.len() != w {
            return Err(ragged(src, i, w, wline, fields.len()));
        }
        if w == 1 {
            let l = parse_label(fields[0], src, i, 1)?;
            rows.push((rows.len() as u64, l, i));
        } else {
            let s = parse_index(fields[0], src, i, 1, "sample")?;
            rows.push((s, parse_label(fields[1], src, i, 2)?, i));
        }
    }
    if width.is_none() {
        return Err(fmt_err(src, 1, "empty file: no labels".into()));
    }
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| SomataError::Io(format!("{}: {e}", path.display())))
}

fn fmt_err(source: &str, line: usize, msg: String) -> SomataError {
    SomataError::Format(format!("{source}:{line}: {msg}"))
}

fn ragged(source: &str, line: usize, want: usize, wline: usize, got: usize) -> SomataError {
    fmt_err(source, line, format!("ragged row: {got} fields, but line {wline} has {want}"))
}

/// Non-blank lines that are not `#` comments, with 1-based line numbers, `\r` stripped.
fn content_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

fn split_fields<'a>(line: &'a str, out: &mut Vec<&'a str>) {
    out.clear();
    out.extend(line.split(',').map(str::trim));
}

/// A first line is a header when one of its fields is text (not empty, not a number).
fn is_header(fields: &[&str]) -> bool {
    fields.iter().any(|f| !f.is_empty() && f.parse::<f64>().is_err())
}

fn parse_f32(f: &str, src: &str, line: usize, col: usize) -> Result<f32> {
    match f.parse::<f32>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err(fmt_err(src, line, format!("column {col}: `{f}` is not a finite number"))),
        Err(_) if f.is_empty() => Err(fmt_err(src, line, format!("column {col}: empty field"))),
        Err(_) => Err(fmt_err(src, line, format!("column {col}: `{f}` is not a number"))),
    }
}

/// A non-negative integer, written as `3` or `3.0`.
fn parse_index(f: &str, src: &str, line: usize, col: usize, what: &str) -> Result<u64> {
    if let Ok(v) = f.parse::<u64>() {
        return Ok(v);
    }
    match f.parse::<f64>() {
        Ok(x) if x >= 0.0 && x.fract() == 0.0 && x < 1.8e19 => Ok(x as u64),
        _ => Err(fmt_err(src, line, format!("column {col}: {what} `{f}` is not a non-negative integer"))),
    }
}

fn parse_u32(f: &str, src: &str, line: usize, col: usize, what: &str) -> Result<u32> {
    let v = parse_index(f, src, line, col, what)?;
    u32::try_from(v).map_err(|_| fmt_err(src, line, format!("column {col}: {what} {v} is too large")))
}

fn parse_label(f: &str, src: &str, line: usize, col: usize) -> Result<u32> {
    parse_u32(f, src, line, col, "label")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str, text: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("somata-data-{}-{name}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    fn err(r: Result<impl std::fmt::Debug>) -> String {
        match r.unwrap_err() {
            SomataError::Format(m) | SomataError::Io(m) => m,
            e => panic!("unexpected error {e:?}"),
        }
    }

    #[test]
    fn csv_with_and_without_header() {
        let p = tmp("ok.csv", "# comment\nf1,f2,label\n1,2,0\n\n3.5,-4,2.0\n");
        let d = load_csv(&p).unwrap();
        assert_eq!((d.len(), d.n_features, d.n_classes), (2, 2, 3));
        assert_eq!(d.features, vec![1.0, 2.0, 3.5, -4.0]);
        assert_eq!(d.labels, vec![0, 2]);
        let d = parse_csv("1,2,1\r\n3,4,0\r\n", "x").unwrap();
        assert_eq!(d.labels, vec![1, 0]);
        std::fs::remove_file(p).ok();
    }

    #[test]
    fn csv_errors_name_file_line_column() {
        let p = tmp("empty.csv", "\n  \n");
        let m = err(load_csv(&p));
        assert!(m.contains("empty.csv:1:") && m.contains("empty file"), "{m}");
        std::fs::remove_file(&p).ok();

        let p = tmp("ragged.csv", "a,b,label\n1,2,0\n1,2,3,0\n");
        let m = err(load_csv(&p));
        assert!(m.contains("ragged.csv:3:") && m.contains("ragged") && m.contains("line 1 has 3"), "{m}");
        std::fs::remove_file(&p).ok();

        let p = tmp("nan.csv", "1,2,0\n1,x,0\n");
        let m = err(load_csv(&p));
        assert!(m.contains("nan.csv:2: column 2: `x` is not a number"), "{m}");
        std::fs::remove_file(&p).ok();

        let p = tmp("label.csv", "1,2,0\n1,2,-1\n");
        let m = err(load_csv(&p));
        assert!(m.contains("label.csv:2: column 3: label `-1` is not a non-negative integer"), "{m}");
        let m = err(parse_csv("1,2,0\n1,2,1.5\n", "f"));
        assert!(m.contains("f:2: column 3: label `1.5`"), "{m}");
        std::fs::remove_file(&p).ok();

        let m = err(parse_csv("a,b\n", "h"));
        assert!(m.contains("no samples"), "{m}");
        let m = err(parse_csv("1,,0\n", "e"));
        assert!(m.contains("e:1: column 2: empty field"), "{m}");
        let m = err(load_csv(std::env::temp_dir().join("somata-no-such-file.csv")));
        assert!(m.contains("somata-no-such-file.csv"), "{m}");
    }

    #[test]
    fn spike_csv_section_and_labels_file() {
        let p = tmp("ev.csv", "sample,time_step,channel\n0,3,1\n2,0,0\n0,1,2\nsample,label\n2,1\n0,0\n1,1\n");
        let s = load_spike_csv(&p, None).unwrap();
        assert_eq!((s.len(), s.n_steps, s.n_channels, s.n_classes), (3, 4, 3, 2));
        assert_eq!(s.labels, vec![0, 1, 1]);
        assert_eq!(s.events, vec![vec![(1, 2), (3, 1)], vec![], vec![(0, 0)]]);
        std::fs::remove_file(&p).ok();

        let e = tmp("ev2.csv", "0,3,1\n1,0,0\n");
        let l = tmp("lab2.csv", "label\n1\n0\n");
        let s = load_spike_csv(&e, Some(&l)).unwrap();
        assert_eq!(s.labels, vec![1, 0]);
        let l2 = tmp("lab3.csv", "1,0\n0,0\n");
        assert_eq!(load_spike_csv(&e, Some(&l2)).unwrap().labels, vec![0, 0]);
        for p in [e, l, l2] {
            std::fs::remove_file(p).ok();
        }
    }

    #[test]
    fn spike_csv_errors() {
        let m = err(parse_spike_csv("", "ev", None));
        assert!(m.contains("ev:1: empty file"), "{m}");
        let m = err(parse_spike_csv("0,1,2\n0,1\n", "ev", None));
        assert!(m.contains("ev:2: expected 3 fields"), "{m}");
        let m = err(parse_spike_csv("0,1,2\n0,q,1\nsample,label\n0,0\n", "ev", None));
        assert!(m.contains("ev:2: column 2: time_step `q`"), "{m}");
        let m = err(parse_spike_csv("0,1,2\n", "ev", None));
        assert!(m.contains("no labels"), "{m}");
        let m = err(parse_spike_csv("0,1,2\n3,1,1\nsample,label\n0,0\n", "ev", None));
        assert!(m.contains("ev:2: sample 3 has no label"), "{m}");
        let m = err(parse_spike_csv("0,1,2\nsample,label\n0,0\n0,1\n", "ev", None));
        assert!(m.contains("ev:4: sample 0 already has a label (line 3)"), "{m}");
        let m = err(parse_spike_csv("0,1,2\n", "ev", Some(("0,1\n1\n", "lab"))));
        assert!(m.contains("lab:2: ragged"), "{m}");
        let m = err(parse_spike_csv("0,1,2\n", "ev", Some(("0,-2\n", "lab"))));
        assert!(m.contains("lab:1: column 2: label `-2`"), "{m}");
    }
}
