//! The line of a network-file error: the key path a [`super::toml_net`] message names
//! (`projection `E`.conn.weight`, `population[2].params.tau`, `input[0].rate`, `monitor[1]`,
//! `dt`) is looked up in the TOML text with the parser's spans (`toml::de::DeTable`), and the
//! error gets `line N, column C`. An error that names no path (a connectivity or model check
//! from outside the file reader) is placed at the table it came from (the caller finds it with
//! [`culprit`]), and within it at the key or value its message quotes.

use crate::error::SomataError;
use std::ops::Range;
use toml::de::{DeTable, DeValue};
use toml::{Spanned, Table, Value};

type Node<'a> = Spanned<DeValue<'a>>;

/// The arrays of tables of a network file, in the order the reader builds them.
pub(crate) const SECTIONS: [&str; 5] = ["population", "projection", "gap_junction", "input", "monitor"];

/// `err` with `line N, column C` of the key its message names in `text` (the TOML source), when
/// it names one; else `err` unchanged.
#[allow(dead_code)] // the plain form, for a caller without the parsed document
pub(crate) fn with_line(err: SomataError, text: &str) -> SomataError {
    with_line_in(err, text, || None, false)
}

/// [`with_line`], looking in the `culprit()` element (`[[section]]` number `index`, asked for
/// only when the message names no path); with `always`, an error that points nowhere is put at
/// line 1.
pub(crate) fn with_line_in(
    err: SomataError,
    text: &str,
    culprit: impl FnOnce() -> Option<(&'static str, usize)>,
    always: bool,
) -> SomataError {
    let Ok(doc) = DeTable::parse(text) else { return err };
    let root: Node = Spanned::new(doc.span(), DeValue::Table(doc.into_inner()));
    let msg = err.to_string();
    let at = locate(&root, &msg, &err, culprit).or(if always { Some(0..0) } else { None });
    match at {
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            tag(err, line, col)
        }
        None => err,
    }
}

/// The element (section, index) whose processing raises `msg`: the shortest prefix of the
/// elements in build order (populations, projections, gap junctions, inputs, monitors) that
/// `retry` fails on with the same message; `None` when the document fails before any element.
pub(crate) fn culprit(doc: &Table, msg: &str, retry: impl Fn(&Table) -> Option<String>) -> Option<(&'static str, usize)> {
    let order: Vec<(&'static str, usize)> =
        SECTIONS.iter().flat_map(|&s| (0..doc.get(s).and_then(Value::as_array).map_or(0, Vec::len)).map(move |i| (s, i))).collect();
    let prefix = |j: usize| {
        let mut d = doc.clone();
        for s in SECTIONS {
            let keep = order[..j].iter().filter(|e| e.0 == s).count();
            if let Some(Value::Array(a)) = d.get_mut(s) {
                a.truncate(keep);
            }
        }
        d
    };
    let same = |j: usize| retry(&prefix(j)).as_deref() == Some(msg);
    // the smallest j in 1..=len with `same(j)`: processing is sequential, so it is monotone
    let (mut lo, mut hi) = (1usize, order.len());
    if order.is_empty() || !same(hi) || same(0) {
        return None;
    }
    while lo < hi {
        let mid = (lo + hi) / 2;
        if same(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(order[lo - 1])
}

fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn tag(err: SomataError, line: usize, col: usize) -> SomataError {
    let at = format!("line {line}, column {col}");
    match err {
        SomataError::Format(s) => SomataError::Format(format!("{at}: {s}")),
        SomataError::InvalidParameter { model, name, value, reason } => {
            SomataError::InvalidParameter { model: format!("{model} ({at})"), name, value, reason }
        }
        SomataError::UnknownParameter { model, name, known } => {
            SomataError::UnknownParameter { model: format!("{model} ({at})"), name, known }
        }
        SomataError::UnknownState { model, name, known } => SomataError::UnknownState { model: format!("{model} ({at})"), name, known },
        SomataError::ShapeMismatch { what, expected, got } => SomataError::ShapeMismatch { what: format!("{what} ({at})"), expected, got },
        SomataError::DimensionMismatch { what, expected, got } => {
            SomataError::DimensionMismatch { what: format!("{what} ({at})"), expected, got }
        }
        SomataError::InvalidInitializer(s) => SomataError::InvalidInitializer(format!("{at}: {s}")),
        SomataError::TooLarge { what, bytes, total, available, text } => {
            SomataError::TooLarge { what, bytes, total, available, text: format!("{text} ({at})") }
        }
        other => SomataError::Format(format!("{at}: {other}")),
    }
}

fn table<'n, 'a>(n: &'n Node<'a>) -> Option<&'n DeTable<'a>> {
    match n.get_ref() {
        DeValue::Table(t) => Some(t),
        _ => None,
    }
}

/// A place: the span to report and the node below it.
struct Place<'n, 'a> {
    span: Range<usize>,
    node: &'n Node<'a>,
    depth: usize,
}

fn key_chars(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-' || c == '@'
}

/// The place of the path that starts at `msg[at..]` with `section` (already matched, `len`
/// bytes), and the element name it quoted.
fn resolve<'n, 'a>(root: &'n Node<'a>, section: &str, msg: &str, mut at: usize) -> Option<(Place<'n, 'a>, Option<String>)> {
    let rt = table(root)?;
    let (k, v) = rt.iter().find(|(k, _)| k.get_ref() == section)?;
    let mut place = Place { span: k.span(), node: v, depth: 1 };
    let mut name = None;
    let rest = &msg[at..];
    // the element: `[k]`, `` `name` `` or a bare name followed by `:`
    if let DeValue::Array(a) = v.get_ref() {
        let el = if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let i: usize = r[..end].parse().ok()?;
            at += end + 2;
            a.get(i)
        } else if let Some(r) = rest.strip_prefix(" `") {
            let end = r.find('`')?;
            let nm = &r[..end];
            at += end + 3;
            name = Some(nm.to_string());
            a.iter().find(|e| element_name(e) == Some(nm))
        } else if let Some(r) = rest.strip_prefix(' ') {
            // a name as Network's messages give it (`projection E→E: ...`): the longest match
            let best =
                a.iter().filter_map(|e| element_name(e).map(|n| (n, e))).filter(|(n, _)| r.starts_with(n)).max_by_key(|(n, _)| n.len());
            best.map(|(n, e)| {
                at += n.len() + 1;
                name = Some(n.to_string());
                e
            })
        } else {
            None
        };
        match el {
            Some(e) => place = Place { span: e.span(), node: e, depth: 2 },
            // `population: expected an array` names the key; other text is not a path
            None => return rest.starts_with(':').then_some((place, name)),
        }
    }
    // `.key` and `[i]` segments
    loop {
        let rest = &msg[at..];
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(|c: char| !key_chars(c)).unwrap_or(r.len());
            let key = &r[..end];
            let Some((k, v)) = table(place.node).and_then(|t| t.iter().find(|(k, _)| k.get_ref() == key)) else { break };
            place = Place { span: k.span(), node: v, depth: place.depth + 1 };
            at += end + 1;
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else { break };
            let Ok(i) = r[..end].parse::<usize>() else { break };
            let Some(e) = (match place.node.get_ref() {
                DeValue::Array(a) => a.get(i),
                _ => None,
            }) else {
                break;
            };
            place = Place { span: e.span(), node: e, depth: place.depth + 1 };
            at += end + 2;
        } else {
            break;
        }
    }
    Some((place, name))
}

fn element_name<'n>(e: &'n Node<'_>) -> Option<&'n str> {
    table(e)?.iter().find(|(k, _)| k.get_ref() == "name").and_then(|(_, v)| match v.get_ref() {
        DeValue::String(s) => Some(s.as_ref()),
        _ => None,
    })
}

/// The span of the key path the message names, refined by the names it quotes; else, within
/// the culprit element (or the whole file), the key or value a quoted name matches.
fn locate(root: &Node, msg: &str, err: &SomataError, culprit: impl FnOnce() -> Option<(&'static str, usize)>) -> Option<Range<usize>> {
    let mut best: Option<(Place, Option<String>)> = None;
    for section in SECTIONS.iter().copied().chain(["gap junction"]) {
        let key = if section == "gap junction" { "gap_junction" } else { section };
        for (i, _) in msg.match_indices(section) {
            let boundary = msg[..i].chars().next_back().is_none_or(|c| !key_chars(c));
            if !boundary {
                continue;
            }
            if let Some((p, n)) = resolve(root, key, msg, i + section.len())
                && best.as_ref().is_none_or(|b| p.depth > b.0.depth)
            {
                best = Some((p, n));
            }
        }
    }
    // top-level keys: `network file: dt = ...`, `network file: steps: ...`, `top level`
    if best.is_none()
        && let Some(r) = msg.split("network file: ").nth(1)
    {
        let end = r.find(|c: char| !key_chars(c)).unwrap_or(r.len());
        if let Some((k, v)) = table(root).and_then(|t| t.iter().find(|(k, _)| k.get_ref() == &r[..end])) {
            best = Some((Place { span: k.span(), node: v, depth: 1 }, None));
        }
    }
    // a path to a value: its key
    if let Some((p, _)) = &best
        && !matches!(p.node.get_ref(), DeValue::Table(_) | DeValue::Array(_))
    {
        return Some(p.span.clone());
    }
    let tokens = tokens(msg, err);
    let culprit = if best.is_none() { culprit() } else { None };
    let (scope, skip) = match (&best, culprit) {
        (Some((p, n)), _) => (p.node, n.clone()),
        (None, Some((s, i))) => {
            let el = table(root)?.iter().find(|(k, _)| k.get_ref() == s).and_then(|(_, v)| match v.get_ref() {
                DeValue::Array(a) => a.get(i),
                _ => None,
            })?;
            best = Some((Place { span: el.span(), node: el, depth: 2 }, None));
            (el, None)
        }
        (None, None) => (root, None),
    };
    for t in tokens.iter().filter(|t| Some(*t) != skip.as_ref()) {
        if let Some(span) = find_token(scope, t) {
            return Some(span);
        }
    }
    best.map(|b| b.0.span)
}

/// The names a message quotes (`` `x` ``) and the names its typed fields carry.
fn tokens(msg: &str, err: &SomataError) -> Vec<String> {
    let mut out = vec![];
    match err {
        SomataError::InvalidParameter { name, .. }
        | SomataError::UnknownParameter { name, .. }
        | SomataError::UnknownState { name, .. } => {
            // the file's key where the check names the parameter otherwise
            let key = match name.as_str() {
                "probability" => "prob",
                "in-degree" | "out-degree" => "degree",
                "freqs" => "rate",
                n => n,
            };
            out.push(key.to_string())
        }
        SomataError::UnknownModel { name, .. } => out.push(name.clone()),
        SomataError::UnknownUnit(u) => out.push(u.clone()),
        SomataError::InvalidDt(_) => out.push("dt".into()),
        _ => {}
    }
    let mut parts = msg.split('`');
    parts.next();
    while let (Some(q), Some(_)) = (parts.next(), parts.next()) {
        if !q.is_empty() && !out.iter().any(|o| o == q) {
            out.push(q.to_string());
        }
    }
    out
}

/// The first (in the text) key named `t` under `n`, else string value equal to `t`, else one
/// containing it.
fn find_token(n: &Node, t: &str) -> Option<Range<usize>> {
    fn walk(n: &Node, t: &str, hits: &mut Vec<(usize, Range<usize>)>) {
        match n.get_ref() {
            DeValue::Table(tb) => {
                for (k, v) in tb.iter() {
                    if k.get_ref() == t {
                        hits.push((0, k.span()));
                    }
                    walk(v, t, hits);
                }
            }
            DeValue::Array(a) => a.iter().for_each(|e| walk(e, t, hits)),
            DeValue::String(s) if s.as_ref() == t => hits.push((1, n.span())),
            DeValue::String(s) if s.contains(t) => hits.push((2, n.span())),
            _ => {}
        }
    }
    let mut hits = vec![];
    walk(n, t, &mut hits);
    hits.into_iter().min_by_key(|(c, s)| (*c, s.start)).map(|h| h.1)
}
