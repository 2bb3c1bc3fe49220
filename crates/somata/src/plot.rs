//! Figures of a simulation or a training run, as PNG or SVG (feature `plot`, on by default).
//!
//! * [`raster`]: a spike raster, time (ms) × neuron, in which every spike darkens its pixel;
//! * [`RasterBins`]: the same raster fed spike by spike in bounded memory while a network runs,
//!   with several populations in distinct colours;
//! * [`traces`]: a few state traces (e.g. V of some neurons) over time, with a legend and the
//!   quantity and unit on the y axis;
//! * [`rate`]: a population rate in Hz over time;
//! * [`curves`] / [`curves_from`]: per-epoch curves (loss, accuracy, ...), one panel per series,
//!   at their true epoch numbers.
//!
//! Every axis is labelled with its quantity and unit (`time (ms)`, `rate (Hz)`, ...).
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
//! plot::curves(dir.join("train.svg"), &[("loss", &[2.3, 1.1, 0.6][..]), ("test accuracy (%)", &[60., 80., 90.][..])])?;
//! assert!(std::fs::read(dir.join("raster.png"))?.starts_with(b"\x89PNG"));
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::{Result, SomataError};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
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

/// Distinct, dark hues for the populations of a combined raster (a single population is black).
const POP_COLORS: [(u8, u8, u8); 8] =
    [(20, 60, 170), (200, 30, 30), (20, 130, 50), (140, 50, 160), (210, 110, 0), (0, 130, 140), (120, 80, 30), (200, 40, 140)];

/// The shade of the lightest occupied pixel when pixels hold different spike counts (1 = the
/// population's full colour): a single spike stays clearly visible next to the densest pixel.
const SHADE_FLOOR: f64 = 0.4;

/// Figure size of a raster, pixels.
const RASTER_SIZE: (u32, u32) = (1000, 600);
/// Raster layout, pixels: title strip, margins (left, right, top, bottom), label areas.
const R_TITLE: u32 = 40;
const R_MARGIN: (u32, u32, u32, u32) = (10, 10, 6, 6);
const R_XLABEL: u32 = 50;
const R_YLABEL: u32 = 72;
const R_RIGHT: u32 = 70;

/// A spike raster accumulated from spike events in bounded memory, drawn once at the end.
///
/// The plot area of the figure is [`RasterBins::PLOT_PX`] pixels; the raster is a grid of
/// `cols × rows` bins with `cols = min(steps, plot width)` time bins and `rows = min(neurons,
/// plot height)` neuron bins (all populations together), so each bin is a block of one or more
/// whole pixels, distinct bins never share a pixel, and when there are more steps (or neurons)
/// than pixels one bin is exactly one pixel. Memory is one `u32` count per bin (at most
/// `PLOT_PX.0 × PLOT_PX.1`), whatever the length of the run.
///
/// **Every spike darkens its pixel.** A bin holding spikes is drawn in its population's colour
/// (black for a single population; distinct hues, named at the right of the plot, for several),
/// shaded by density on a log scale: the fullest bin in full colour, a bin with one spike at
/// 40% of it (never white). The title strip states what a pixel holds
/// (ms × neurons) and the largest count. Axes: `time (ms)` across, `neuron` up (neuron 0 of the
/// first population at the bottom, populations stacked upwards in the given order).
///
/// Feed it from a running network with [`add`](RasterBins::add) (one event, O(1)),
/// [`add_indices`](RasterBins::add_indices) (a step's spiking neurons),
/// [`add_dense_row`](RasterBins::add_dense_row) (a step's 0/1 vector) or
/// [`add_dense`](RasterBins::add_dense) (a whole `steps × size` record), then
/// [`draw`](RasterBins::draw).
///
/// ```
/// use somata::plot::RasterBins;
/// let dir = std::env::temp_dir().join(format!("somata-rasterbins-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// // 10 000 steps of 0.1 ms, 3200 excitatory then 800 inhibitory neurons
/// let mut r = RasterBins::new(10_000, 0.1, &[("E", 3200), ("I", 800)])?;
/// for step in 0..10_000 {
///     r.add(0, step, (step * 7) % 3200)?; // one E spike per step
///     if step % 4 == 0 {
///         r.add_indices(1, step, &[step % 800, (step + 400) % 800])?;
///     }
/// }
/// assert_eq!(r.spikes(), 10_000 + 2 * 2500);
/// assert!(r.add(1, 0, 800).is_err()); // I has neurons 0..800
/// r.draw(dir.join("ei.png"), "E/I network")?;
/// r.draw(dir.join("ei.svg"), "E/I network")?;
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct RasterBins {
    steps: usize,
    dt_ms: f64,
    /// (name, size) of each population, bottom to top.
    pops: Vec<(String, usize)>,
    /// First global neuron index of each population, and the total as the last entry.
    offsets: Vec<usize>,
    cols: usize,
    rows: usize,
    /// `rows × cols`, row 0 at the bottom (neuron 0).
    counts: Vec<u32>,
    spikes: u64,
}

impl RasterBins {
    /// Width × height of the plot area of the raster figure, pixels (the figure is 1000 × 600).
    pub const PLOT_PX: (usize, usize) = (
        (RASTER_SIZE.0 - R_MARGIN.0 - R_MARGIN.1 - R_YLABEL - R_RIGHT) as usize,
        (RASTER_SIZE.1 - R_TITLE - R_MARGIN.2 - R_MARGIN.3 - R_XLABEL) as usize,
    );

    /// An empty raster of `steps` time steps of `dt_ms` ms and the populations `pops` (name,
    /// number of neurons), stacked upwards in this order. A population may be empty; an empty
    /// name is left out of the labels.
    ///
    /// Errors: a `dt_ms` not finite and > 0 ([`SomataError::InvalidDt`]).
    pub fn new(steps: usize, dt_ms: f64, pops: &[(&str, usize)]) -> Result<RasterBins> {
        check_dt(dt_ms)?;
        let mut offsets = Vec::with_capacity(pops.len() + 1);
        let mut total = 0usize;
        for &(_, n) in pops {
            offsets.push(total);
            total = total.saturating_add(n);
        }
        offsets.push(total);
        let cols = steps.min(Self::PLOT_PX.0);
        let rows = total.min(Self::PLOT_PX.1);
        Ok(RasterBins {
            steps,
            dt_ms,
            pops: pops.iter().map(|&(s, n)| (s.to_string(), n)).collect(),
            offsets,
            cols,
            rows,
            counts: vec![0; cols * rows],
            spikes: 0,
        })
    }

    /// The bin grid: (time bins, neuron bins); each bin is drawn as a block of whole pixels.
    pub fn grid(&self) -> (usize, usize) {
        (self.cols, self.rows)
    }

    /// The number of spikes added.
    pub fn spikes(&self) -> u64 {
        self.spikes
    }

    /// The largest number of spikes in one bin (0 when empty).
    pub fn max_count(&self) -> u32 {
        self.counts.iter().copied().max().unwrap_or(0)
    }

    /// The number of bins holding at least one spike: the number of plot pixel blocks the
    /// drawing darkens (one pixel each when there are more steps and neurons than pixels).
    pub fn occupied(&self) -> usize {
        self.counts.iter().filter(|&&c| c > 0).count()
    }

    fn total(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }

    fn out_of_range(&self, what: &str, pop: usize, expected: usize, got: usize) -> SomataError {
        let name = self.pops.get(pop).map(|p| p.0.as_str()).unwrap_or("");
        SomataError::ShapeMismatch {
            what: format!("raster spike: {what} of population {pop} `{name}`"),
            expected: vec![expected],
            got: vec![got],
        }
    }

    /// Check `pop` and `step`; the population's (first global neuron, size).
    fn check(&self, pop: usize, step: usize) -> Result<(usize, usize)> {
        let Some(&(_, size)) = self.pops.get(pop) else {
            return Err(SomataError::ShapeMismatch {
                what: "raster spike: population index".into(),
                expected: vec![self.pops.len()],
                got: vec![pop],
            });
        };
        if step >= self.steps {
            return Err(self.out_of_range("step", pop, self.steps, step));
        }
        Ok((self.offsets[pop], size))
    }

    #[inline]
    fn bump(&mut self, global: usize, col: usize) {
        let row = (global as u128 * self.rows as u128 / self.total() as u128) as usize;
        let k = row * self.cols + col;
        self.counts[k] = self.counts[k].saturating_add(1);
        self.spikes += 1;
    }

    #[inline]
    fn col(&self, step: usize) -> usize {
        (step as u128 * self.cols as u128 / self.steps as u128) as usize
    }

    /// One spike of neuron `neuron` of population `pop` at step `step`. O(1).
    ///
    /// Errors: `pop`, `step` or `neuron` out of range ([`SomataError::ShapeMismatch`] naming
    /// which); nothing is added.
    pub fn add(&mut self, pop: usize, step: usize, neuron: usize) -> Result<()> {
        let (first, size) = self.check(pop, step)?;
        if neuron >= size {
            return Err(self.out_of_range("neuron", pop, size, neuron));
        }
        let col = self.col(step);
        self.bump(first + neuron, col);
        Ok(())
    }

    /// The spikes of population `pop` at step `step`: the indices of the neurons that fired.
    ///
    /// Errors: as [`add`](RasterBins::add); all indices are checked before any is added.
    pub fn add_indices(&mut self, pop: usize, step: usize, neurons: &[usize]) -> Result<()> {
        let (first, size) = self.check(pop, step)?;
        if let Some(&bad) = neurons.iter().find(|&&i| i >= size) {
            return Err(self.out_of_range("neuron", pop, size, bad));
        }
        let col = self.col(step);
        for &i in neurons {
            self.bump(first + i, col);
        }
        Ok(())
    }

    /// The spikes of population `pop` at step `step` as a dense vector of the population's size:
    /// every nonzero entry is a spike.
    ///
    /// Errors: `pop` or `step` out of range, `spikes.len()` not the population's size
    /// ([`SomataError::ShapeMismatch`]).
    pub fn add_dense_row(&mut self, pop: usize, step: usize, spikes: &[f32]) -> Result<()> {
        let (first, size) = self.check(pop, step)?;
        if spikes.len() != size {
            return Err(self.out_of_range("dense row length", pop, size, spikes.len()));
        }
        let col = self.col(step);
        for (i, _) in spikes.iter().enumerate().filter(|(_, s)| **s != 0.0) {
            self.bump(first + i, col);
        }
        Ok(())
    }

    /// A whole record of population `pop`: `spikes` is `steps × size`, row-major (element
    /// `step·size + i`), every nonzero entry a spike.
    ///
    /// Errors: `pop` out of range, `spikes.len() != steps·size` ([`SomataError::ShapeMismatch`]).
    pub fn add_dense(&mut self, pop: usize, spikes: &[f32]) -> Result<()> {
        let size = match self.pops.get(pop) {
            Some(p) => p.1,
            None => {
                return Err(SomataError::ShapeMismatch {
                    what: "raster spike: population index".into(),
                    expected: vec![self.pops.len()],
                    got: vec![pop],
                });
            }
        };
        if spikes.len() != self.steps.saturating_mul(size) {
            let name = &self.pops[pop].0;
            return Err(SomataError::ShapeMismatch {
                what: format!("raster spikes of population {pop} `{name}` (steps × neurons)"),
                expected: vec![self.steps, size],
                got: vec![spikes.len()],
            });
        }
        if size == 0 {
            return Ok(());
        }
        for (step, row) in spikes.chunks_exact(size).enumerate() {
            self.add_dense_row(pop, step, row)?;
        }
        Ok(())
    }

    /// The population shown in bin row `row`: the one holding the row's middle neuron.
    fn row_pop(&self, row: usize) -> usize {
        let mid = ((2 * row as u128 + 1) * self.total() as u128 / (2 * self.rows as u128)) as usize;
        // offsets is sorted; the last population whose first neuron is <= mid and which is non-empty
        (0..self.pops.len()).rev().find(|&p| self.offsets[p] <= mid && self.pops[p].1 > 0).unwrap_or(0)
    }

    fn pop_color(&self, pop: usize) -> (u8, u8, u8) {
        if self.pops.len() <= 1 {
            (0, 0, 0)
        } else {
            POP_COLORS[pop % POP_COLORS.len()]
        }
    }

    /// Shade of a bin holding `count` spikes (> 0) when the fullest holds `max`: 0..=1.
    fn shade(count: u32, max: u32) -> f64 {
        if max <= 1 {
            1.0
        } else {
            SHADE_FLOOR + (1.0 - SHADE_FLOOR) * (count as f64).ln() / (max as f64).ln()
        }
    }

    /// Draw the raster to `path` (`.png` or `.svg`, 1000 × 600 pixels), titled `title`.
    ///
    /// Errors: an unknown extension ([`SomataError::Format`]), I/O ([`SomataError::Io`]).
    pub fn draw(&self, path: impl AsRef<Path>, title: &str) -> Result<()> {
        save(path.as_ref(), RASTER_SIZE, &RasterFigure { bins: self, title })
    }
}

struct RasterFigure<'a> {
    bins: &'a RasterBins,
    title: &'a str,
}

/// A short decimal: `1`, `0.25`, `1.19`.
fn short(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_string()
    }
}

impl Figure for RasterFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let b = self.bins;
        root.fill(&WHITE).map_err(de)?;
        let (top, area) = root.split_vertically(R_TITLE);
        let (w, _) = top.dim_in_pixel();
        let centered = TextStyle::from(("sans-serif", 22)).pos(Pos::new(HPos::Center, VPos::Center));
        top.draw_text(self.title, &centered, (w as i32 / 2, R_TITLE as i32 / 2)).map_err(de)?;
        let max = b.max_count();
        if b.cols > 0 && b.rows > 0 {
            let px_ms = b.steps as f64 * b.dt_ms / b.cols as f64;
            let px_n = b.total() as f64 / b.rows as f64;
            let info = format!(
                "{} spikes; pixel = {} ms × {} neuron{}; darkest = {} spike{}",
                b.spikes,
                short(px_ms),
                short(px_n),
                if px_n == 1.0 { "" } else { "s" },
                max,
                if max == 1 { "" } else { "s" }
            );
            let style = TextStyle::from(("sans-serif", 13)).color(&RGBColor(90, 90, 90)).pos(Pos::new(HPos::Right, VPos::Bottom));
            top.draw_text(&info, &style, (w as i32 - R_MARGIN.1 as i32, R_TITLE as i32 - 2)).map_err(de)?;
        }
        let t_end = (b.steps as f64 * b.dt_ms).max(b.dt_ms);
        let mut chart = ChartBuilder::on(&area)
            .margin_left(R_MARGIN.0)
            .margin_right(R_MARGIN.1)
            .margin_top(R_MARGIN.2)
            .margin_bottom(R_MARGIN.3)
            .x_label_area_size(R_XLABEL)
            .y_label_area_size(R_YLABEL)
            .right_y_label_area_size(R_RIGHT)
            .build_cartesian_2d(0.0..t_end, 0.0..b.total().max(1) as f64)
            .map_err(de)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .y_label_formatter(&|v| format!("{v:.0}"))
            .x_desc("time (ms)")
            .y_desc("neuron")
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(de)?;
        let plot = chart.plotting_area().strip_coord_spec();
        let (pw, ph) = plot.dim_in_pixel();
        let (pw, ph) = (pw as usize, ph as usize);
        if pw < b.cols || ph < b.rows {
            return Err(format!("plot area {pw} × {ph} px smaller than the {} × {} bins", b.cols, b.rows));
        }
        // population names at the right, in their colour, centred on their band
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        let total = b.total().max(1) as f64;
        for (p, (name, size)) in b.pops.iter().enumerate() {
            if name.is_empty() || *size == 0 {
                continue;
            }
            let mid = (b.offsets[p] as f64 + *size as f64 / 2.0) / total;
            let y = yr.end as f64 - mid * (yr.end - yr.start) as f64;
            let (r, g, bl) = b.pop_color(p);
            let color = RGBColor(r, g, bl);
            let style = TextStyle::from(("sans-serif", 16)).color(&color).pos(Pos::new(HPos::Left, VPos::Center));
            root.draw_text(name, &style, (xr.end + 8, y.round() as i32)).map_err(de)?;
        }
        if b.cols == 0 || b.rows == 0 {
            return Ok(());
        }
        // bins: row r (0 at the bottom) covers pixel rows [ph - y(r+1), ph - y(r)) from the top;
        // runs of equal shade in a row are one rectangle
        let x_of = |c: usize| (c * pw / b.cols) as i32;
        let y_of = |r: usize| (ph - r * ph / b.rows) as i32;
        let mut rects = Vec::new();
        for r in 0..b.rows {
            let (cr, cg, cb) = b.pop_color(b.row_pop(r));
            let row = &b.counts[r * b.cols..(r + 1) * b.cols];
            let mut c = 0;
            while c < b.cols {
                let n = row[c];
                if n == 0 {
                    c += 1;
                    continue;
                }
                let mut e = c + 1;
                while e < b.cols && row[e] == n {
                    e += 1;
                }
                let a = RasterBins::shade(n, max);
                let mix = |v: u8| (255.0 - a * (255.0 - v as f64)).round().clamp(0.0, 254.0) as u8;
                let color = RGBColor(mix(cr), mix(cg), mix(cb));
                rects.push(Rectangle::new([(x_of(c), y_of(r + 1)), (x_of(e), y_of(r))], color.filled()));
                c = e;
            }
        }
        for r in &rects {
            plot.draw(r).map_err(de)?;
        }
        Ok(())
    }
}

/// A spike raster of `spikes` (`steps × neurons`, row-major: element `step·neurons + i`; any
/// nonzero value is a spike), with time `step·dt_ms` (ms) across and neuron `i` up (neuron 0 at
/// the bottom). Drawn by [`RasterBins`]: every spike darkens its pixel (a block of pixels when
/// there are fewer steps or neurons than pixels; shaded by density when a pixel holds several
/// spikes). 1000 × 600 pixels.
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
    Format::from_path(path.as_ref())?;
    if spikes.len() != steps.saturating_mul(neurons) {
        return Err(SomataError::ShapeMismatch {
            what: "raster spikes (steps × neurons)".into(),
            expected: vec![steps, neurons],
            got: vec![spikes.len()],
        });
    }
    let mut bins = RasterBins::new(steps, dt_ms, &[("", neurons)])?;
    bins.add_dense(0, spikes)?;
    bins.draw(path, title)
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
/// The x axis is `time (ms)`; the y axis is labelled `y_label`, the quantity and its unit (e.g.
/// `"V (mV)"`, `"I (nA)"`). 1000 × 600 pixels.
///
/// Errors: no labels, or `values.len()` not a multiple of `labels.len()`
/// ([`SomataError::ShapeMismatch`]), a bad `dt_ms`, an unknown extension, I/O.
///
/// ```no_run
/// // V of two neurons over 3 steps (mV)
/// let v = [-65.0f32, -65.0, -64.0, -63.5, -63.2, -62.1];
/// somata::plot::traces("v.svg", &v, 0.1, &["V[0]", "V[1]"], "V (mV)")?;
/// # Ok::<(), somata::SomataError>(())
/// ```
pub fn traces(path: impl AsRef<Path>, values: &[f32], dt_ms: f64, labels: &[&str], y_label: &str) -> Result<()> {
    check_dt(dt_ms)?;
    let k = labels.len();
    if k == 0 || !values.len().is_multiple_of(k) {
        return Err(SomataError::ShapeMismatch {
            what: "traces values (steps × labels)".into(),
            expected: vec![k],
            got: vec![values.len()],
        });
    }
    save(path.as_ref(), (1000, 600), &Lines { values, k, dt: dt_ms, labels, y_desc: y_label, title: "" })
}

/// A population rate over time: `rate_hz[step]` (Hz) at `t = step·dt_ms` ms, one line; axes
/// `time (ms)` and `rate (Hz)`. 1000 × 400 pixels.
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
    first_epoch: usize,
    series: &'a [(&'a str, &'a [f64])],
}

impl Figure for Curves<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(de)?;
        let panels = root.split_evenly((self.series.len().max(1), 1));
        let first = self.first_epoch as f64;
        let epochs = self.series.iter().map(|(_, v)| v.len()).max().unwrap_or(0).max(1);
        let last = first + epochs as f64 - 1.0;
        for (c, ((name, values), area)) in self.series.iter().zip(panels.iter()).enumerate() {
            let y = value_range(values.iter().copied());
            let mut chart = ChartBuilder::on(area)
                .caption(*name, ("sans-serif", 18))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(72)
                .build_cartesian_2d((first - 0.5)..(last + 0.5), y)
                .map_err(de)?;
            chart
                .configure_mesh()
                .x_labels((epochs + 1).min(12))
                .x_label_formatter(&|v| if v.fract() == 0.0 { format!("{v:.0}") } else { String::new() })
                .x_desc("epoch")
                .y_desc(*name)
                .draw()
                .map_err(de)?;
            let color = Palette99::pick(c).to_rgba();
            let pts: Vec<(f64, f64)> = values.iter().enumerate().map(|(i, &v)| (first + i as f64, v)).filter(|p| p.1.is_finite()).collect();
            chart.draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2))).map_err(de)?;
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(de)?;
        }
        Ok(())
    }
}

/// Curves over epochs, one panel per series (stacked, each with its own y range): the value
/// `series[s].1[e]` at epoch `e + 1`, in a panel titled `series[s].0`, which is also its y axis
/// label: name the quantity and its unit, e.g. `"test accuracy (%)"`, `"loss (cross-entropy)"`.
/// The x axis is `epoch`. Made for `somata train --plot`. Non-finite values are skipped; an
/// empty series draws an empty panel. 900 × (220 per series, at least 300) pixels.
/// [`curves_from`] numbers the epochs from another first epoch.
///
/// Errors: an unknown extension, I/O.
///
/// ```no_run
/// let loss = [2.1, 0.9, 0.5];
/// let acc = [71.0, 88.0, 93.0];
/// somata::plot::curves("train.png", &[("training loss", &loss[..]), ("test accuracy (%)", &acc[..])])?;
/// # Ok::<(), somata::SomataError>(())
/// ```
pub fn curves(path: impl AsRef<Path>, series: &[(&str, &[f64])]) -> Result<()> {
    curves_from(path, 1, series)
}

/// [`curves`] with the first value of every series at epoch `first_epoch` (1-based; 0 is taken
/// as 1): e.g. a run resumed after epoch 10 whose earlier history is lost plots its epochs as
/// 11, 12, ... rather than 1, 2, ...
///
/// Errors: an unknown extension, I/O.
///
/// ```
/// let path = std::env::temp_dir().join(format!("somata-curves-doc-{}.svg", std::process::id()));
/// // epochs 11..=13 of a resumed run
/// somata::plot::curves_from(&path, 11, &[("test accuracy (%)", &[91.0, 92.5, 93.1][..])])?;
/// let svg = std::fs::read_to_string(&path)?;
/// // plotters writes each label as `<text ...>\nLABEL\n</text>`
/// assert!(svg.contains(">\n11\n</text>") && svg.contains(">\n13\n</text>") && svg.contains("epoch"));
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn curves_from(path: impl AsRef<Path>, first_epoch: usize, series: &[(&str, &[f64])]) -> Result<()> {
    let h = (220 * series.len() as u32).max(300);
    save(path.as_ref(), (900, h), &Curves { first_epoch: first_epoch.max(1), series })
}
