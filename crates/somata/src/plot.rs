//! Figures of a simulation or a training run, as PNG or SVG (feature `plot`, on by default).
//!
//! * [`raster`]: a spike raster, time (ms) × neuron, one dark mark per spike;
//! * [`traces`]: a few state traces (e.g. V of some neurons) over time, with a legend;
//! * [`rate`]: a population rate in Hz over time;
//! * [`curves`]: per-epoch curves (loss, accuracy, ...), one panel per series.
//!
//! The format follows the file extension: `.png` (8-bit RGB, encoded by somata with the zlib
//! of `flate2`) or `.svg` (text, scalable); anything else is a [`SomataError::Format`] naming
//! the extension. Files are written atomically (`<path>.tmp`, fsync, rename); a failure to
//! write is a [`SomataError::Io`]. Drawing uses `plotters` without system fonts: labels are
//! rendered with DejaVu Sans, embedded in the binary (the `dejavu` crate; Bitstream Vera
//! license), so the output is the same on every machine.
//!
//! ```
//! use somata::plot;
//! let dir = std::env::temp_dir().join(format!("somata-plot-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! // 4 steps × 3 neurons, row-major: neuron 1 fires at steps 0 and 2
//! let spikes = [0., 1., 0., 0., 0., 0., 0., 1., 0., 0., 0., 0.];
//! plot::raster(dir.join("raster.png"), &spikes, 4, 3, 0.1, "three neurons")?;
//! plot::curves(dir.join("train.svg"), &[("loss", &[2.3, 1.1, 0.6][..]), ("test accuracy", &[0.6, 0.8, 0.9][..])])?;
//! assert!(std::fs::read(dir.join("raster.png"))?.starts_with(b"\x89PNG"));
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::{Result, SomataError};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::ops::Range;
use std::path::Path;

/// The output format, from the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.png`: 8-bit RGB raster image.
    Png,
    /// `.svg`: scalable vector graphics.
    Svg,
}

impl Format {
    /// `.png` or `.svg` (any case); another or no extension is a [`SomataError::Format`].
    ///
    /// ```
    /// use somata::plot::Format;
    /// assert_eq!(Format::from_path("a/b.PNG")?, Format::Png);
    /// assert!(Format::from_path("b.jpg").unwrap_err().to_string().contains(".jpg"));
    /// # Ok::<(), somata::SomataError>(())
    /// ```
    pub fn from_path(path: impl AsRef<Path>) -> Result<Format> {
        let path = path.as_ref();
        match path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref() {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            Some(e) => Err(SomataError::Format(format!("plot {}: unknown extension `.{e}`; use .png or .svg", path.display()))),
            None => Err(SomataError::Format(format!("plot {}: no file extension; use .png or .svg", path.display()))),
        }
    }
}

/// The DejaVu Sans font registered once as plotters' `sans-serif`.
fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
}

type DrawResult = std::result::Result<(), String>;

fn de<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Something drawable on any plotters backend.
trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;
}

/// Draw `fig` at `size` pixels and write it to `path` in the extension's format.
fn save(path: &Path, size: (u32, u32), fig: &impl Figure) -> Result<()> {
    let format = Format::from_path(path)?;
    register_font();
    let fail = |e: String| SomataError::Format(format!("plot {}: drawing failed: {e}", path.display()));
    match format {
        Format::Png => {
            let mut buf = vec![255u8; size.0 as usize * size.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
                fig.draw(&root).map_err(fail)?;
                root.present().map_err(|e| fail(e.to_string()))?;
            }
            let png = encode_png(&buf, size.0, size.1)?;
            crate::io::npy::write_atomic(path, &png)
        }
        Format::Svg => {
            let mut s = String::new();
            {
                let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
                fig.draw(&root).map_err(fail)?;
                root.present().map_err(|e| fail(e.to_string()))?;
            }
            crate::io::npy::write_atomic(path, s.as_bytes())
        }
    }
}

/// A minimal PNG encoder: 8-bit RGB, no interlace, filter "none" on every row, one zlib IDAT.
fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>> {
    use std::io::Write;
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let row = w as usize * 3;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let err = |e: std::io::Error| SomataError::Io(format!("encoding png: {e}"));
    for r in rgb.chunks_exact(row.max(1)).take(h as usize) {
        z.write_all(&[0]).map_err(err)?;
        z.write_all(r).map_err(err)?;
    }
    let idat = z.finish().map_err(err)?;
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // depth 8, RGB, deflate, filter 0, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

fn check_dt(dt_ms: f64) -> Result<()> {
    if dt_ms.is_finite() && dt_ms > 0.0 {
        Ok(())
    } else {
        Err(SomataError::InvalidDt(dt_ms))
    }
}

/// The finite range of `values`, padded a little; `0..1` without finite values.
fn value_range(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        return 0.0..1.0;
    }
    let pad = if hi > lo { 0.05 * (hi - lo) } else { lo.abs().max(1.0) * 0.1 };
    (lo - pad)..(hi + pad)
}

struct Raster<'a> {
    spikes: &'a [f32],
    steps: usize,
    neurons: usize,
    dt: f64,
    title: &'a str,
}

impl Figure for Raster<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(de)?;
        let t_end = (self.steps as f64 * self.dt).max(self.dt);
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..t_end, 0.0..self.neurons.max(1) as f64)
            .map_err(de)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .y_label_formatter(&|v| format!("{v:.0}"))
            .x_desc("time (ms)")
            .y_desc("neuron")
            .draw()
            .map_err(de)?;
        let (dt, n) = (self.dt, self.neurons);
        let marks = self.spikes.iter().enumerate().filter(|(_, s)| **s != 0.0).map(move |(k, _)| {
            let (i, j) = ((k / n) as f64, (k % n) as f64);
            Rectangle::new([(i * dt, j), ((i + 1.0) * dt, j + 1.0)], BLACK.filled())
        });
        chart.draw_series(marks).map_err(de)?;
        Ok(())
    }
}

/// A spike raster of `spikes` (`steps × neurons`, row-major: element `step·neurons + i`; any
/// nonzero value is a spike), with time `step·dt_ms` (ms) across and neuron `i` up (neuron 0 at
/// the bottom): each spike fills its cell `[step·dt, (step + 1)·dt) × [i, i + 1)` in black
/// (at least one pixel). 1000 × 600 pixels.
///
/// Errors: `spikes.len() != steps·neurons` ([`SomataError::ShapeMismatch`]), a bad `dt_ms`
/// ([`SomataError::InvalidDt`]), an unknown extension, I/O.
///
/// ```no_run
/// let spikes = vec![0.0f32; 1000 * 100]; // e.g. RunOutput's spike trains, 1000 steps × 100 neurons
/// somata::plot::raster("raster.png", &spikes, 1000, 100, 0.1, "LIF, 100 neurons")?;
/// # Ok::<(), somata::SomataError>(())
/// ```
pub fn raster(path: impl AsRef<Path>, spikes: &[f32], steps: usize, neurons: usize, dt_ms: f64, title: &str) -> Result<()> {
    check_dt(dt_ms)?;
    if spikes.len() != steps * neurons {
        return Err(SomataError::ShapeMismatch {
            what: "raster spikes (steps × neurons)".into(),
            expected: vec![steps, neurons],
            got: vec![spikes.len()],
        });
    }
    save(path.as_ref(), (1000, 600), &Raster { spikes, steps, neurons, dt: dt_ms, title })
}

struct Lines<'a> {
    /// `steps × k`, row-major.
    values: &'a [f32],
    k: usize,
    dt: f64,
    labels: &'a [&'a str],
    y_desc: &'a str,
    title: &'a str,
}

impl Figure for Lines<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(de)?;
        let steps = self.values.len() / self.k.max(1);
        let t_end = (steps as f64 * self.dt).max(self.dt);
        let y = value_range(self.values.iter().map(|&v| v as f64));
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..t_end, y)
            .map_err(de)?;
        chart.configure_mesh().x_desc("time (ms)").y_desc(self.y_desc).draw().map_err(de)?;
        for c in 0..self.k {
            let color = Palette99::pick(c).to_rgba();
            let pts = (0..steps).map(|i| (i as f64 * self.dt, self.values[i * self.k + c] as f64)).filter(|p| p.1.is_finite());
            // one-pixel lines: plotters' wider bitmap strokes break up on dense data
            let s = chart.draw_series(LineSeries::new(pts, color.stroke_width(1))).map_err(de)?;
            if let Some(l) = self.labels.get(c).filter(|l| !l.is_empty()) {
                s.label(*l).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
            }
        }
        if self.labels.iter().any(|l| !l.is_empty()) {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 15))
                .draw()
                .map_err(de)?;
        }
        Ok(())
    }
}

/// Traces of `labels.len()` variables over time: `values` is `steps × k` row-major (element
/// `step·k + c` is variable `c` at `t = step·dt_ms` ms), one colored line per variable with its
/// label in a legend (an empty label is left out of the legend). Non-finite values are skipped.
/// 1000 × 600 pixels.
///
/// Errors: no labels, or `values.len()` not a multiple of `labels.len()`
/// ([`SomataError::ShapeMismatch`]), a bad `dt_ms`, an unknown extension, I/O.
///
/// ```no_run
/// // V of two neurons over 3 steps (mV)
/// let v = [-65.0f32, -65.0, -64.0, -63.5, -63.2, -62.1];
/// somata::plot::traces("v.svg", &v, 0.1, &["V[0] (mV)", "V[1] (mV)"])?;
/// # Ok::<(), somata::SomataError>(())
/// ```
pub fn traces(path: impl AsRef<Path>, values: &[f32], dt_ms: f64, labels: &[&str]) -> Result<()> {
    check_dt(dt_ms)?;
    let k = labels.len();
    if k == 0 || !values.len().is_multiple_of(k) {
        return Err(SomataError::ShapeMismatch {
            what: "traces values (steps × labels)".into(),
            expected: vec![k],
            got: vec![values.len()],
        });
    }
    save(path.as_ref(), (1000, 600), &Lines { values, k, dt: dt_ms, labels, y_desc: "value", title: "" })
}

/// A population rate over time: `rate_hz[step]` (Hz) at `t = step·dt_ms` ms, one line.
/// 1000 × 400 pixels.
///
/// Errors: a bad `dt_ms`, an unknown extension, I/O.
///
/// ```no_run
/// let r: Vec<f32> = (0..1000).map(|i| 10.0 + (i as f32 / 100.0).sin()).collect();
/// somata::plot::rate("rate.png", &r, 0.1)?;
/// # Ok::<(), somata::SomataError>(())
/// ```
pub fn rate(path: impl AsRef<Path>, rate_hz: &[f32], dt_ms: f64) -> Result<()> {
    check_dt(dt_ms)?;
    save(
        path.as_ref(),
        (1000, 400),
        &Lines { values: rate_hz, k: 1, dt: dt_ms, labels: &[""], y_desc: "rate (Hz)", title: "population rate" },
    )
}

struct Curves<'a> {
    series: &'a [(&'a str, &'a [f64])],
}

impl Figure for Curves<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(de)?;
        let panels = root.split_evenly((self.series.len().max(1), 1));
        let epochs = self.series.iter().map(|(_, v)| v.len()).max().unwrap_or(0).max(1);
        for (c, ((name, values), area)) in self.series.iter().zip(panels.iter()).enumerate() {
            let y = value_range(values.iter().copied());
            let mut chart = ChartBuilder::on(area)
                .caption(*name, ("sans-serif", 18))
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(64)
                .build_cartesian_2d(0.5..(epochs as f64 + 0.5), y)
                .map_err(de)?;
            chart
                .configure_mesh()
                .x_labels((epochs + 1).min(12))
                .x_label_formatter(&|v| if v.fract() == 0.0 { format!("{v:.0}") } else { String::new() })
                .x_desc("epoch")
                .draw()
                .map_err(de)?;
            let color = Palette99::pick(c).to_rgba();
            let pts: Vec<(f64, f64)> = values.iter().enumerate().map(|(i, &v)| ((i + 1) as f64, v)).filter(|p| p.1.is_finite()).collect();
            chart.draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2))).map_err(de)?;
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(de)?;
        }
        Ok(())
    }
}

/// Curves over epochs, one panel per series (stacked, each with its own y range): the value
/// `series[s].1[e]` at epoch `e + 1`, titled `series[s].0`. Made for `somata train --plot`
/// (loss, train and test accuracy). Non-finite values are skipped; an empty series draws an
/// empty panel. 900 × (220 per series, at least 300) pixels.
///
/// Errors: an unknown extension, I/O.
///
/// ```no_run
/// let loss = [2.1, 0.9, 0.5];
/// let acc = [0.71, 0.88, 0.93];
/// somata::plot::curves("train.png", &[("loss", &loss[..]), ("test accuracy", &acc[..])])?;
/// # Ok::<(), somata::SomataError>(())
/// ```
pub fn curves(path: impl AsRef<Path>, series: &[(&str, &[f64])]) -> Result<()> {
    let h = (220 * series.len() as u32).max(300);
    save(path.as_ref(), (900, h), &Curves { series })
}
