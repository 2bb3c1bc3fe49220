//! Data sets for training: the embedded UCI digits, loaders for your own files, the Randman
//! spike-timing task, and encoders from values to spike trains.
//!
//! * [`Dataset`]: dense samples (`features` row-major `[samples × n_features]`, `labels`), with a
//!   seeded stratified [`split`](Dataset::split) and [`batches`](Dataset::batches).
//! * [`SpikeDataset`]: event samples (per sample a list of `(time_step, channel)` spikes), with the
//!   same helpers and [`dense`](SpikeDataset::dense) batches.
//! * [`digits()`]: the UCI handwritten digits (1797 samples of 8×8 pixels, 10 classes), shipped
//!   inside the crate, features scaled to `[0, 1]`. Attribution: [`DIGITS_ATTRIBUTION`].
//! * [`load_csv`] / [`parse_csv`]: your own samples as CSV; [`load_spike_csv`] /
//!   [`parse_spike_csv`]: your own spike events as CSV. Formats below.
//! * [`randman()`]: the random-manifold task of Zenke & Vogels (2021).
//! * [`encode`]: Poisson (BrainPy's rule), latency and direct-current encoders. Every encoder and
//!   [`SpikeDataset::dense`] give **time-major** `f32` buffers `[steps × batch × channels]`, the
//!   layout the training engine consumes.
//!
//! Everything random takes an explicit seed (or an [`Rng`]): the same seed gives
//! the same split, order, data set and spikes on every machine.
//!
//! # Sample CSV ([`load_csv`])
//! One sample per line: the features, then the label in the **last** column, comma-separated.
//! Labels are non-negative integers (`3` or `3.0`); `n_classes` is the largest label + 1.
//! If the first line has a field that is text (neither empty nor a number) it is a header and is
//! skipped. Blank lines and lines starting with `#` are ignored; fields are trimmed.
//!
//! ```text
//! x0,x1,x2,label
//! 0.5,1.0,0.0,2
//! 0.1,0.0,0.3,0
//! ```
//!
//! # Spike events CSV ([`load_spike_csv`])
//! One spike per line, `sample,time_step,channel` (non-negative integers; an optional header
//! line). The labels come either from a separate labels file, or from a section in the same file
//! that starts with the line `sample,label`:
//!
//! ```text
//! sample,time_step,channel
//! 0,3,12
//! 0,7,4
//! 1,0,0
//! sample,label
//! 0,1
//! 1,0
//! ```
//!
//! A separate labels file has lines `sample,label`, or just `label` per line (the line order is
//! the sample index), with an optional header. Every sample `0..n` needs exactly one label; a
//! sample may have no spikes. `n_steps` and `n_channels` are the largest time step and channel + 1;
//! [`SpikeDataset::with_shape`] sets them explicitly.
//!
//! # Errors
//! Loaders return [`SomataError::Io`] when a file cannot be read and [`SomataError::Format`] with
//! `path:line: ...` otherwise: empty file, ragged row (naming the line and the line that set the
//! width), a field that is not a number (naming line and 1-based column), a label or index that
//! is not a non-negative integer.
//!
//! # Example
//! ```
//! use somata::data::{self, encode};
//! use somata::units::{ms, Hz};
//!
//! let digits = data::digits();
//! assert_eq!((digits.len(), digits.n_features, digits.n_classes), (1797, 64, 10));
//! let (train, test) = digits.split(0.2, 42);
//! assert_eq!(train.len() + test.len(), 1797);
//! let mut rng = somata::init::Rng::new(1);
//! for batch in train.batches(32, Some(0)).take(1) {
//!     // [steps × batch × channels] spikes at up to 100 Hz, dt = 1 ms
//!     let x = encode::poisson(&batch.features, 64, 50, 100.0 * Hz, 1.0 * ms, &mut rng)?;
//!     assert_eq!(x.len(), 50 * 32 * 64);
//! }
//!
//! let task = data::randman(data::RandmanConfig { n_classes: 3, n_units: 20, n_steps: 50,
//!     samples_per_class: 10, ..Default::default() })?;
//! let spikes = task.dense(&[0, 1]);              // [50 × 2 × 20]
//! assert_eq!(spikes.len(), 50 * 2 * 20);
//! # Ok::<(), somata::SomataError>(())
//! ```

pub mod encode;
mod load;
mod randman;

pub use load::{load_csv, load_spike_csv, parse_csv, parse_spike_csv};
pub use randman::{randman, RandmanConfig};

use crate::error::{Result, SomataError};
use crate::init::Rng;

/// The embedded digits file (gzip-compressed CSV).
const DIGITS_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// Attribution and licence of the embedded digits data (the text of `crates/somata/data/README.md`).
pub const DIGITS_ATTRIBUTION: &str = include_str!("../../data/README.md");

/// Dense labelled samples: `features` row-major `[len() × n_features]`, one label per sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Row-major `[samples × n_features]`.
    pub features: Vec<f32>,
    /// One class index per sample, each `< n_classes`.
    pub labels: Vec<u32>,
    /// Features per sample.
    pub n_features: usize,
    /// Number of classes (labels are `0..n_classes`).
    pub n_classes: usize,
}

/// One mini-batch of a [`Dataset`].
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The samples' indices in the data set.
    pub indices: Vec<usize>,
    /// Row-major `[batch × n_features]`.
    pub features: Vec<f32>,
    /// The batch's labels.
    pub labels: Vec<u32>,
}

impl Dataset {
    /// A data set, checked: `features.len() == labels.len() × n_features`, every label
    /// `< n_classes`. `n_classes = None` takes the largest label + 1.
    pub fn new(features: Vec<f32>, labels: Vec<u32>, n_features: usize, n_classes: Option<usize>) -> Result<Dataset> {
        if features.len() != labels.len() * n_features {
            return Err(SomataError::ShapeMismatch {
                what: "Dataset features (samples × n_features)".into(),
                expected: vec![labels.len(), n_features],
                got: vec![features.len()],
            });
        }
        let n_classes = check_classes(&labels, n_classes)?;
        Ok(Dataset { features, labels, n_features, n_classes })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The features of sample `i`.
    pub fn sample(&self, i: usize) -> &[f32] {
        &self.features[i * self.n_features..(i + 1) * self.n_features]
    }

    /// Samples per class, `[n_classes]`.
    pub fn class_counts(&self) -> Vec<usize> {
        class_counts(&self.labels, self.n_classes)
    }

    /// The samples at `indices`, in that order (same `n_features` and `n_classes`).
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let (features, labels) = self.gather(indices);
        Dataset { features, labels, n_features: self.n_features, n_classes: self.n_classes }
    }

    /// The features (`[indices.len() × n_features]`) and labels of the samples at `indices`.
    pub fn gather(&self, indices: &[usize]) -> (Vec<f32>, Vec<u32>) {
        let mut features = Vec::with_capacity(indices.len() * self.n_features);
        for &i in indices {
            features.extend_from_slice(self.sample(i));
        }
        (features, indices.iter().map(|&i| self.labels[i]).collect())
    }

    /// A seeded, stratified split into `(train, test)`.
    ///
    /// The test set has `round(len × test_fraction)` samples, shared among the classes in
    /// proportion to their sizes (largest remainder); each class's samples are drawn after a
    /// shuffle with `seed`, and both parts come out shuffled. The same seed gives the same split.
    ///
    /// # Panics
    /// If `test_fraction` is not in `[0, 1]`.
    pub fn split(&self, test_fraction: f64, seed: u64) -> (Dataset, Dataset) {
        let (train, test) = split_indices(&self.labels, self.n_classes, test_fraction, seed);
        (self.subset(&train), self.subset(&test))
    }

    /// Mini-batches of `batch_size` samples (the last one may be smaller), in order, or shuffled
    /// with `shuffle_seed`.
    ///
    /// # Panics
    /// If `batch_size` is 0.
    pub fn batches(&self, batch_size: usize, shuffle_seed: Option<u64>) -> Batches<'_> {
        Batches { data: self, order: BatchOrder::new(self.len(), batch_size, shuffle_seed) }
    }

    /// Divide every feature by the largest one (when it is > 0), e.g. digits' pixel counts by 16;
    /// returns that maximum.
    pub fn normalize_max(&mut self) -> f32 {
        let max = self.features.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if max > 0.0 && max.is_finite() {
            let inv = 1.0 / max;
            self.features.iter_mut().for_each(|x| *x *= inv);
        }
        max
    }
}

/// Iterator over the mini-batches of a [`Dataset`] (see [`Dataset::batches`]).
#[derive(Debug, Clone)]
pub struct Batches<'a> {
    data: &'a Dataset,
    order: BatchOrder,
}

impl Iterator for Batches<'_> {
    type Item = Batch;
    fn next(&mut self) -> Option<Batch> {
        let indices = self.order.next()?;
        let (features, labels) = self.data.gather(&indices);
        Some(Batch { indices, features, labels })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.order.size_hint()
    }
}

impl ExactSizeIterator for Batches<'_> {}

/// Spike-event samples: per sample a list of `(time_step, channel)` spikes, and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeDataset {
    /// Time steps per sample (every `time_step < n_steps`).
    pub n_steps: usize,
    /// Input channels (every `channel < n_channels`).
    pub n_channels: usize,
    /// Number of classes (labels are `0..n_classes`).
    pub n_classes: usize,
    /// Per sample, its spikes as `(time_step, channel)`, sorted by time step then channel.
    pub events: Vec<Vec<(u32, u32)>>,
    /// One class index per sample.
    pub labels: Vec<u32>,
}

/// One mini-batch of a [`SpikeDataset`], dense.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeBatch {
    /// The samples' indices in the data set.
    pub indices: Vec<usize>,
    /// Time-major `[n_steps × batch × n_channels]`, 1.0 where a spike is.
    pub spikes: Vec<f32>,
    /// The batch's labels.
    pub labels: Vec<u32>,
}

impl SpikeDataset {
    /// A spike data set, checked: one event list per label, every event inside
    /// `n_steps × n_channels`, labels `< n_classes` (`None`: the largest label + 1). Each
    /// sample's events are sorted by time step, then channel.
    pub fn new(
        n_steps: usize,
        n_channels: usize,
        mut events: Vec<Vec<(u32, u32)>>,
        labels: Vec<u32>,
        n_classes: Option<usize>,
    ) -> Result<SpikeDataset> {
        if events.len() != labels.len() {
            return Err(SomataError::ShapeMismatch {
                what: "SpikeDataset events (one list per label)".into(),
                expected: vec![labels.len()],
                got: vec![events.len()],
            });
        }
        for (s, ev) in events.iter_mut().enumerate() {
            if let Some(&(t, c)) = ev.iter().find(|&&(t, c)| t as usize >= n_steps || c as usize >= n_channels) {
                return Err(SomataError::Format(format!(
                    "sample {s}: spike at time step {t}, channel {c} is outside {n_steps} steps × {n_channels} channels"
                )));
            }
            ev.sort_unstable();
        }
        let n_classes = check_classes(&labels, n_classes)?;
        Ok(SpikeDataset { n_steps, n_channels, n_classes, events, labels })
    }

    /// The same data with `n_steps` and `n_channels` set (e.g. wider than a loaded file's spikes
    /// reach); an error if a spike falls outside.
    pub fn with_shape(self, n_steps: usize, n_channels: usize) -> Result<SpikeDataset> {
        SpikeDataset::new(n_steps, n_channels, self.events, self.labels, Some(self.n_classes))
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Samples per class, `[n_classes]`.
    pub fn class_counts(&self) -> Vec<usize> {
        class_counts(&self.labels, self.n_classes)
    }

    /// The samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> SpikeDataset {
        SpikeDataset {
            n_steps: self.n_steps,
            n_channels: self.n_channels,
            n_classes: self.n_classes,
            events: indices.iter().map(|&i| self.events[i].clone()).collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// A seeded, stratified split into `(train, test)`, as [`Dataset::split`].
    ///
    /// # Panics
    /// If `test_fraction` is not in `[0, 1]`.
    pub fn split(&self, test_fraction: f64, seed: u64) -> (SpikeDataset, SpikeDataset) {
        let (train, test) = split_indices(&self.labels, self.n_classes, test_fraction, seed);
        (self.subset(&train), self.subset(&test))
    }

    /// The samples at `indices` as a dense time-major buffer `[n_steps × indices.len() ×
    /// n_channels]`: 1.0 at each spike (repeated events add up), 0.0 elsewhere.
    pub fn dense(&self, indices: &[usize]) -> Vec<f32> {
        let mut out = vec![0.0; self.n_steps * indices.len() * self.n_channels];
        self.dense_into(indices, &mut out);
        out
    }

    /// [`dense`](Self::dense) into a buffer of length `n_steps × indices.len() × n_channels`,
    /// which is overwritten.
    ///
    /// # Panics
    /// If `out` has another length.
    pub fn dense_into(&self, indices: &[usize], out: &mut [f32]) {
        let (b, c) = (indices.len(), self.n_channels);
        assert_eq!(out.len(), self.n_steps * b * c, "dense_into: buffer length");
        out.fill(0.0);
        for (j, &i) in indices.iter().enumerate() {
            for &(t, ch) in &self.events[i] {
                out[(t as usize * b + j) * c + ch as usize] += 1.0;
            }
        }
    }

    /// Dense mini-batches of `batch_size` samples (the last one may be smaller), in order, or
    /// shuffled with `shuffle_seed`.
    ///
    /// # Panics
    /// If `batch_size` is 0.
    pub fn batches(&self, batch_size: usize, shuffle_seed: Option<u64>) -> SpikeBatches<'_> {
        SpikeBatches { data: self, order: BatchOrder::new(self.len(), batch_size, shuffle_seed) }
    }
}

/// Iterator over the dense mini-batches of a [`SpikeDataset`] (see [`SpikeDataset::batches`]).
#[derive(Debug, Clone)]
pub struct SpikeBatches<'a> {
    data: &'a SpikeDataset,
    order: BatchOrder,
}

impl Iterator for SpikeBatches<'_> {
    type Item = SpikeBatch;
    fn next(&mut self) -> Option<SpikeBatch> {
        let indices = self.order.next()?;
        let spikes = self.data.dense(&indices);
        let labels = indices.iter().map(|&i| self.data.labels[i]).collect();
        Some(SpikeBatch { indices, spikes, labels })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.order.size_hint()
    }
}

impl ExactSizeIterator for SpikeBatches<'_> {}

/// The UCI "Optical Recognition of Handwritten Digits" test set embedded in the crate: 1797
/// samples of 8×8 pixel counts divided by 16 (so in `[0, 1]`), labels `0..10`, in the file's
/// order (scikit-learn's `load_digits`). Licence CC BY 4.0: see [`DIGITS_ATTRIBUTION`].
pub fn digits() -> Dataset {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(DIGITS_GZ).read_to_string(&mut text).expect("embedded digits.csv.gz decodes");
    let mut d = parse_csv(&text, "digits.csv.gz (embedded)").expect("embedded digits.csv.gz parses");
    d.features.iter_mut().for_each(|x| *x /= 16.0);
    d.n_classes = 10;
    d
}

// ---------------------------------------------------------------------------------------------
// shared helpers

/// Check labels against `n_classes` (or infer it).
fn check_classes(labels: &[u32], n_classes: Option<usize>) -> Result<usize> {
    let inferred = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    match n_classes {
        None => Ok(inferred),
        Some(n) if inferred <= n => Ok(n),
        Some(n) => Err(SomataError::Format(format!("label {} is not below n_classes = {n}", inferred - 1))),
    }
}

fn class_counts(labels: &[u32], n_classes: usize) -> Vec<usize> {
    let mut c = vec![0; n_classes];
    for &l in labels {
        c[l as usize] += 1;
    }
    c
}

/// Uniform integer in `0..n` (`n > 0`), by the multiply-shift method.
pub(crate) fn below(rng: &mut Rng, n: usize) -> usize {
    ((rng.next_u64() as u128 * n as u128) >> 64) as usize
}

/// Fisher–Yates shuffle.
pub(crate) fn shuffle<T>(rng: &mut Rng, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = below(rng, i + 1);
        v.swap(i, j);
    }
}

/// Stratified split of sample indices into (train, test); see [`Dataset::split`].
fn split_indices(labels: &[u32], n_classes: usize, test_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    assert!((0.0..=1.0).contains(&test_fraction), "split: test_fraction must be in [0, 1], got {test_fraction}");
    let n = labels.len();
    let n_test = (n as f64 * test_fraction).round() as usize;
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l as usize].push(i);
    }
    // largest-remainder allocation of n_test among the classes
    let mut quota: Vec<usize> = Vec::with_capacity(n_classes);
    let mut rema: Vec<(f64, usize)> = Vec::with_capacity(n_classes);
    for (k, members) in by_class.iter().enumerate() {
        let exact = if n == 0 { 0.0 } else { members.len() as f64 * n_test as f64 / n as f64 };
        quota.push(exact.floor() as usize);
        rema.push((exact - exact.floor(), k));
    }
    let mut left = n_test - quota.iter().sum::<usize>();
    rema.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, k) in &rema {
        if left == 0 {
            break;
        }
        if quota[k] < by_class[k].len() {
            quota[k] += 1;
            left -= 1;
        }
    }
    let mut rng = Rng::new(seed);
    let (mut train, mut test) = (Vec::with_capacity(n - n_test), Vec::with_capacity(n_test));
    for (k, members) in by_class.iter_mut().enumerate() {
        shuffle(&mut rng, members);
        test.extend_from_slice(&members[..quota[k]]);
        train.extend_from_slice(&members[quota[k]..]);
    }
    shuffle(&mut rng, &mut train);
    shuffle(&mut rng, &mut test);
    (train, test)
}

/// The order in which batches visit the samples.
#[derive(Debug, Clone)]
struct BatchOrder {
    order: Vec<usize>,
    batch_size: usize,
    pos: usize,
}

impl BatchOrder {
    fn new(n: usize, batch_size: usize, shuffle_seed: Option<u64>) -> BatchOrder {
        assert!(batch_size > 0, "batches: batch_size must be > 0");
        let mut order: Vec<usize> = (0..n).collect();
        if let Some(seed) = shuffle_seed {
            shuffle(&mut Rng::new(seed), &mut order);
        }
        BatchOrder { order, batch_size, pos: 0 }
    }
    fn next(&mut self) -> Option<Vec<usize>> {
        if self.pos >= self.order.len() {
            return None;
        }
        let end = (self.pos + self.batch_size).min(self.order.len());
        let b = self.order[self.pos..end].to_vec();
        self.pos = end;
        Some(b)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.order.len() - self.pos).div_ceil(self.batch_size);
        (n, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_shape_and_class_counts() {
        let d = digits();
        assert_eq!(d.len(), 1797);
        assert_eq!(d.n_features, 64);
        assert_eq!(d.n_classes, 10);
        assert_eq!(d.features.len(), 1797 * 64);
        assert_eq!(d.class_counts(), vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        assert!(d.features.iter().all(|&x| (0.0..=1.0).contains(&x)));
        assert_eq!(d.features.iter().copied().fold(0.0f32, f32::max), 1.0);
        // first sample of sklearn's load_digits: a zero, pixel 2 is 5/16
        assert_eq!(d.labels[0], 0);
        assert_eq!(d.sample(0)[2], 5.0 / 16.0);
        assert!(DIGITS_ATTRIBUTION.contains("CC BY 4.0"));
    }

    #[test]
    fn split_sizes_stratified_deterministic() {
        let d = digits();
        let (tr, te) = d.split(0.2, 7);
        assert_eq!(te.len(), 359); // round(1797 × 0.2)
        assert_eq!(tr.len(), 1797 - 359);
        // stratified: every class gets within one sample of its share
        for (k, (&c, &t)) in d.class_counts().iter().zip(&te.class_counts()).enumerate() {
            let share = c as f64 * 359.0 / 1797.0;
            assert!((t as f64 - share).abs() < 1.0, "class {k}: {t} vs {share}");
        }
        let (tr2, te2) = d.split(0.2, 7);
        assert_eq!((tr.labels.clone(), te.labels.clone()), (tr2.labels, te2.labels));
        assert_eq!(tr.features, tr2.features);
        let (_, te3) = d.split(0.2, 8);
        assert_ne!(te.features, te3.features);
        // a partition: every sample appears once (compare sorted rows)
        let mut all: Vec<Vec<u32>> =
            tr.features.chunks(64).chain(te.features.chunks(64)).map(|r| r.iter().map(|x| x.to_bits()).collect()).collect();
        let mut orig: Vec<Vec<u32>> = d.features.chunks(64).map(|r| r.iter().map(|x| x.to_bits()).collect()).collect();
        all.sort();
        orig.sort();
        assert_eq!(all, orig);
        let (tr0, te0) = d.split(0.0, 1);
        assert_eq!((tr0.len(), te0.len()), (1797, 0));
    }

    #[test]
    fn batches_cover_everything_once() {
        let d = Dataset::new((0..20).map(|x| x as f32).collect(), (0..10).map(|x| x % 3).collect(), 2, None).unwrap();
        assert_eq!(d.n_classes, 3);
        let b: Vec<Batch> = d.batches(4, None).collect();
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].indices, vec![0, 1, 2, 3]);
        assert_eq!(b[0].features, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        assert_eq!(b[2].labels, vec![2, 0]);
        assert_eq!(d.batches(4, Some(3)).len(), 3);
        let mut seen: Vec<usize> = d.batches(4, Some(3)).flat_map(|b| b.indices).collect();
        let again: Vec<usize> = d.batches(4, Some(3)).flat_map(|b| b.indices).collect();
        assert_eq!(seen, again);
        assert_ne!(seen, (0..10).collect::<Vec<_>>());
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn normalize_max_and_checks() {
        let mut d = Dataset::new(vec![0.0, 8.0, 16.0, 4.0], vec![0, 1], 2, None).unwrap();
        assert_eq!(d.normalize_max(), 16.0);
        assert_eq!(d.features, vec![0.0, 0.5, 1.0, 0.25]);
        assert!(Dataset::new(vec![0.0; 3], vec![0, 1], 2, None).is_err());
        assert!(Dataset::new(vec![0.0; 4], vec![0, 5], 2, Some(3)).is_err());
    }

    #[test]
    fn spike_dataset_dense_layout() {
        let s = SpikeDataset::new(3, 2, vec![vec![(2, 1), (0, 0)], vec![(1, 1)]], vec![0, 1], None).unwrap();
        assert_eq!(s.events[0], vec![(0, 0), (2, 1)]);
        // [steps=3 × batch=2 × channels=2]
        assert_eq!(s.dense(&[0, 1]), vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(s.dense(&[1]), vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        let b: Vec<SpikeBatch> = s.batches(2, None).collect();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].spikes, s.dense(&[0, 1]));
        assert!(SpikeDataset::new(2, 2, vec![vec![(2, 0)]], vec![0], None).is_err());
        assert!(s.clone().with_shape(2, 2).is_err());
        assert_eq!(s.with_shape(10, 4).unwrap().n_steps, 10);
    }
}
