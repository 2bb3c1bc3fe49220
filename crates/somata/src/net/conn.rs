//! Connectivity: which presynaptic neuron reaches which postsynaptic neuron, with what weight.
//!
//! Every matrix is stored by presynaptic row so that spike propagation is **event-driven**: a
//! step costs one pass over the rows of the neurons that spiked (spikes × fan-out), not over the
//! whole matrix. Sparse matrices are CSR with `u32` column indices and either one `f32` weight per
//! synapse (8 bytes per synapse) or one shared weight (4 bytes per synapse).

use crate::error::{Result, SomataError};
use crate::init::Rng;
use crate::surrogate::erf;
use crate::units::{Dim, Dimension, Quantity};

/// A synaptic weight with its physical dimension: a conductance for align-post and current
/// projections (`0.6 * mS`), a voltage for delta projections onto `V` (`0.5 * mV`), a
/// dimensionless factor for align-pre projections (a bare `f64`). [`Network::connect`]
/// (super::Network::connect) checks it against the projection, so a weight of the wrong
/// dimension is an error naming the projection, never a silent wrong number.
///
/// ```
/// use somata::net::Weight;
/// use somata::units::{mS, mV, Dim};
/// assert_eq!(Weight::from(0.6 * mS).dim(), Dim::CONDUCTANCE);
/// assert_eq!(Weight::from(0.6 * mS).value(), 0.6e-3); // canonical: S
/// assert_eq!(Weight::from(0.5 * mV).dim(), Dim::VOLTAGE);
/// assert_eq!(Weight::from(2.0).dim(), Dim::ONE);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weight {
    value: f64,
    dim: Dim,
}

impl Weight {
    /// A weight from a number in canonical units of `dim` (S, mV, 1, ...).
    pub fn new(canonical: f64, dim: Dim) -> Weight {
        Weight { value: canonical, dim }
    }
    /// The number in canonical units.
    pub fn value(self) -> f64 {
        self.value
    }
    /// The dimension.
    pub fn dim(self) -> Dim {
        self.dim
    }
}

impl<D: Dimension> From<Quantity<D>> for Weight {
    fn from(q: Quantity<D>) -> Weight {
        Weight { value: q.canonical(), dim: D::DIM }
    }
}

/// A bare number is a dimensionless weight (align-pre projections).
impl From<f64> for Weight {
    fn from(x: f64) -> Weight {
        Weight { value: x, dim: Dim::ONE }
    }
}

/// The weights of a sparse matrix.
#[derive(Debug, Clone, PartialEq)]
pub enum Weights {
    /// One weight for every synapse (4 bytes per synapse in all).
    Homogeneous(f32),
    /// One weight per synapse, in the order of the column indices (8 bytes per synapse in all).
    PerSynapse(Vec<f32>),
}

/// A connectivity matrix `[n_pre][n_post]` in canonical units (the unit of what it carries:
/// conductance in S for synapses, mV for delta projections).
///
/// ```
/// use somata::net::Conn;
/// // 100 → 50 neurons, each pair connected with probability 0.1, weight 0.6 S, seed 7
/// use somata::units::siemens;
/// let c = Conn::fixed_prob(100, 50, 0.1, 0.6 * siemens, 7).unwrap();
/// assert_eq!((c.n_pre(), c.n_post()), (100, 50));
/// let k = c.num_synapses() as f64;
/// assert!((k - 500.0).abs() < 5.0 * 500f64.sqrt()); // 100·50·0.1 expected
/// let mut out = vec![0.0f32; 50];
/// let mut spikes = vec![0.0f32; 100];
/// spikes[3] = 1.0;
/// c.propagate(&spikes, &mut out);                   // adds row 3 of the matrix
/// assert!(out.iter().all(|&v| v == 0.0 || (v - 0.6).abs() < 1e-6));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Conn {
    /// A dense matrix, row-major `[n_pre][n_post]`.
    Dense {
        /// Presynaptic size.
        n_pre: usize,
        /// Postsynaptic size.
        n_post: usize,
        /// `w[pre·n_post + post]`.
        w: Vec<f32>,
        /// The weights' dimension (`None`: canonical units of the projection, unchecked).
        dim: Option<Dim>,
    },
    /// A sparse matrix by presynaptic rows.
    Csr {
        /// Presynaptic size.
        n_pre: usize,
        /// Postsynaptic size.
        n_post: usize,
        /// Row `pre` is `indices[indptr[pre]..indptr[pre + 1]]`.
        indptr: Vec<u32>,
        /// Postsynaptic indices.
        indices: Vec<u32>,
        /// Weights.
        weights: Weights,
        /// The weights' dimension (`None`: canonical units of the projection, unchecked).
        dim: Option<Dim>,
    },
}

/// A distribution of per-synapse values (weights, delays), in canonical units. A normal
/// distribution with bounds redraws every value outside `[min, max]` (NEST's `redraw` and
/// `normal_clipped`), so its values are never clipped onto a bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dist {
    /// Normal with mean and standard deviation, redrawn outside `[min, max]`.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation (≥ 0).
        std: f64,
        /// Lower bound (`f64::NEG_INFINITY`: none).
        min: f64,
        /// Upper bound (`f64::INFINITY`: none).
        max: f64,
    },
    /// Uniform on `[low, high)`.
    Uniform {
        /// Lower end.
        low: f64,
        /// Upper end.
        high: f64,
    },
}

impl Dist {
    /// A normal distribution without bounds.
    pub fn normal(mean: f64, std: f64) -> Dist {
        Dist::Normal { mean, std, min: f64::NEG_INFINITY, max: f64::INFINITY }
    }
    /// Check the parameters (finite, `std ≥ 0`, `min ≤ max`, an interval the normal reaches).
    pub fn check(&self, what: &str) -> Result<()> {
        match *self {
            Dist::Normal { mean, std, min, max } => {
                if !(mean.is_finite() && std.is_finite() && std >= 0.0) {
                    return Err(SomataError::param(what, "std", std, "a normal distribution needs a finite mean and std ≥ 0"));
                }
                if min.is_nan() || max.is_nan() || min > max {
                    return Err(SomataError::param(what, "min", min, "must be ≤ max"));
                }
                // redrawing needs a reachable interval: at least one value in 10⁴ inside it
                let cdf = |x: f64| {
                    if std == 0.0 {
                        f64::from(u8::from(x >= mean))
                    } else {
                        0.5 * (1.0 + erf((x - mean) / (std * std::f64::consts::SQRT_2)))
                    }
                };
                if std > 0.0 && cdf(max) - cdf(min) < 1e-4 {
                    return Err(SomataError::param(
                        what,
                        "min",
                        min,
                        "the interval [min, max] holds less than 10⁻⁴ of the normal distribution",
                    ));
                }
                if std == 0.0 && !(min..=max).contains(&mean) {
                    return Err(SomataError::param(what, "mean", mean, "lies outside [min, max] with std 0"));
                }
                Ok(())
            }
            Dist::Uniform { low, high } => {
                if !(low.is_finite() && high.is_finite() && low <= high) {
                    return Err(SomataError::param(what, "low", low, "a uniform distribution needs finite low ≤ high"));
                }
                Ok(())
            }
        }
    }
    /// One value (a normal's redraws included).
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> f64 {
        match *self {
            Dist::Normal { mean, std, min, max } => loop {
                let v = mean + std * rng.normal();
                if v >= min && v <= max {
                    return v;
                }
            },
            Dist::Uniform { low, high } => low + (high - low) * rng.uniform(),
        }
    }
}

fn check_w(w: f64) -> Result<f32> {
    if w.is_finite() {
        Ok(w as f32)
    } else {
        Err(SomataError::param("connectivity", "weight", w, "must be finite"))
    }
}

impl Conn {
    /// A dense matrix from row-major values `[n_pre][n_post]`, raw numbers in the canonical unit
    /// of the projection (S for conductance projections, mV for delta projections onto V, 1 for
    /// align-pre); [`Conn::unit`] gives them a unit that the network checks.
    pub fn dense(n_pre: usize, n_post: usize, w: Vec<f32>) -> Result<Conn> {
        if w.len() != n_pre * n_post {
            return Err(SomataError::ShapeMismatch {
                what: "dense weight matrix".into(),
                expected: vec![n_pre, n_post],
                got: vec![w.len()],
            });
        }
        if let Some(x) = w.iter().find(|x| !x.is_finite()) {
            return Err(SomataError::param("connectivity", "weight", *x as f64, "must be finite"));
        }
        Ok(Conn::Dense { n_pre, n_post, w, dim: None })
    }

    /// The explicit weights ([`Conn::dense`], [`Conn::from_triplets`]) are numbers in `unit`: each
    /// is multiplied by its canonical value (`1.0 * mS`: by 10⁻³; `1.0 * siemens`: unchanged),
    /// and the network checks the dimension against the projection.
    ///
    /// ```
    /// use somata::net::Conn;
    /// use somata::units::{mS, Dim};
    /// let c = Conn::dense(1, 2, vec![0.5, 2.0]).unwrap().unit(1.0 * mS).unwrap();
    /// assert_eq!(c.synapses().map(|s| s.2).collect::<Vec<_>>(), [0.5e-3, 2e-3]);
    /// assert_eq!(c.dim(), Some(Dim::CONDUCTANCE));
    /// ```
    pub fn unit(mut self, unit: impl Into<Weight>) -> Result<Conn> {
        let u = unit.into();
        let k = check_w(u.value)?;
        let scale = |v: &mut f32| *v *= k;
        match &mut self {
            Conn::Dense { w, dim, .. } => {
                if k != 1.0 {
                    w.iter_mut().for_each(scale);
                }
                *dim = Some(u.dim);
            }
            Conn::Csr { weights, dim, .. } => {
                if k != 1.0 {
                    match weights {
                        Weights::Homogeneous(w) => scale(w),
                        Weights::PerSynapse(v) => v.iter_mut().for_each(scale),
                    }
                }
                *dim = Some(u.dim);
            }
        }
        Ok(self)
    }

    /// The weights' dimension, `None` for raw canonical numbers.
    pub fn dim(&self) -> Option<Dim> {
        match self {
            Conn::Dense { dim, .. } | Conn::Csr { dim, .. } => *dim,
        }
    }

    fn with_dim(mut self, d: Dim) -> Conn {
        match &mut self {
            Conn::Dense { dim, .. } | Conn::Csr { dim, .. } => *dim = Some(d),
        }
        self
    }

    /// All-to-all with one weight (`0.6 * mS`, or a bare `f64` for a dimensionless weight).
    pub fn all_to_all(n_pre: usize, n_post: usize, w: impl Into<Weight>) -> Result<Conn> {
        let w = w.into();
        Ok(Conn::dense(n_pre, n_post, vec![check_w(w.value)?; n_pre * n_post])?.with_dim(w.dim))
    }

    /// One-to-one (`n` → `n`, the identity times `w`).
    pub fn one_to_one(n: usize, w: impl Into<Weight>) -> Result<Conn> {
        let wq = w.into();
        let w = check_w(wq.value)?;
        Ok(Conn::Csr {
            n_pre: n,
            n_post: n,
            indptr: (0..=n as u32).collect(),
            indices: (0..n as u32).collect(),
            weights: Weights::Homogeneous(w),
            dim: Some(wq.dim),
        })
    }

    /// Explicit synapses `(pre, post, weight)` (any order; duplicates are separate synapses).
    pub fn from_triplets(n_pre: usize, n_post: usize, syn: &[(usize, usize, f32)]) -> Result<Conn> {
        let mut pairs = Vec::with_capacity(syn.len());
        let mut ws = Vec::with_capacity(syn.len());
        for &(i, j, w) in syn {
            if i >= n_pre || j >= n_post {
                return Err(SomataError::ShapeMismatch {
                    what: format!("synapse ({i}, {j})"),
                    expected: vec![n_pre, n_post],
                    got: vec![i, j],
                });
            }
            check_w(w as f64)?;
            pairs.push((i as u32, j as u32));
            ws.push(w);
        }
        Ok(Conn::csr_from_pairs(n_pre, n_post, pairs, Some(ws), 0.0))
    }

    /// Explicit synapses with per-connection delays `(pre, post, weight, delay_ms)`: the
    /// connectivity of [`Conn::from_triplets`] and the delays (ms) in the order in which it stores
    /// its synapses (grouped by presynaptic neuron, the given order kept within a row), ready for
    /// [`Projection::delays_per_synapse_ms`](super::Projection::delays_per_synapse_ms).
    ///
    /// ```
    /// use somata::net::Conn;
    /// let (c, d) = Conn::from_triplets_with_delays(2, 2, &[(1, 0, 0.5, 3.0), (0, 1, 0.25, 1.5)]).unwrap();
    /// assert_eq!(c.synapses().collect::<Vec<_>>(), [(0, 1, 0.25), (1, 0, 0.5)]);
    /// assert_eq!(d, [1.5, 3.0]);
    /// ```
    pub fn from_triplets_with_delays(n_pre: usize, n_post: usize, syn: &[(usize, usize, f32, f64)]) -> Result<(Conn, Vec<f64>)> {
        let tr: Vec<(usize, usize, f32)> = syn.iter().map(|&(i, j, w, _)| (i, j, w)).collect();
        let conn = Conn::from_triplets(n_pre, n_post, &tr)?;
        let Conn::Csr { indptr, .. } = &conn else { unreachable!("from_triplets builds a CSR matrix") };
        // the same stable counting sort as `csr_from_pairs`
        let mut fill: Vec<usize> = indptr.iter().map(|&x| x as usize).collect();
        let mut d = vec![0.0; syn.len()];
        for &(i, _, _, dk) in syn {
            d[fill[i]] = dk;
            fill[i] += 1;
        }
        Ok((conn, d))
    }

    /// Each (pre, post) pair connected independently with probability `p` (no self-connections
    /// are excluded: pass `n_pre`/`n_post` of different populations, or use
    /// [`Conn::fixed_prob_no_self`] within one), weight `w`, from a seeded generator.
    pub fn fixed_prob(n_pre: usize, n_post: usize, p: f64, w: impl Into<Weight>, seed: u64) -> Result<Conn> {
        let w = w.into();
        Ok(Conn::fixed_prob_impl(n_pre, n_post, p, w.value, seed, false)?.with_dim(w.dim))
    }

    /// [`Conn::fixed_prob`] without `i → i` synapses (a population onto itself).
    pub fn fixed_prob_no_self(n: usize, p: f64, w: impl Into<Weight>, seed: u64) -> Result<Conn> {
        let w = w.into();
        Ok(Conn::fixed_prob_impl(n, n, p, w.value, seed, true)?.with_dim(w.dim))
    }

    fn fixed_prob_impl(n_pre: usize, n_post: usize, p: f64, w: f64, seed: u64, no_self: bool) -> Result<Conn> {
        if !(0.0..=1.0).contains(&p) {
            return Err(SomataError::param("connectivity", "probability", p, "must lie in [0, 1]"));
        }
        let w = check_w(w)?;
        let mut rng = Rng::new(seed);
        let mut indptr = Vec::with_capacity(n_pre + 1);
        let mut indices = Vec::with_capacity((n_pre as f64 * n_post as f64 * p * 1.05) as usize + 16);
        indptr.push(0u32);
        // geometric skipping: the gap to the next synapse is Geometric(p), so the cost is
        // proportional to the synapses made, not to n_pre·n_post
        // a p so small that 1 − p rounds to 1: ln(1 − p) from ln_1p, not 0 (a gap of −∞)
        let ln_q = if 1.0 - p == 1.0 { (-p).ln_1p() } else { (1.0 - p).ln() };
        for i in 0..n_pre {
            if p > 0.0 {
                let mut j: i64 = -1;
                loop {
                    let skip = if p >= 1.0 { 0.0 } else { ((1.0 - rng.uniform()).ln() / ln_q).floor() };
                    // saturating: a gap past i64::MAX (p ≈ 1e-30) ends the row
                    j = j.saturating_add(1).saturating_add(skip as i64);
                    if j >= n_post as i64 {
                        break;
                    }
                    if !(no_self && j as usize == i) {
                        indices.push(j as u32);
                    }
                }
            }
            indptr.push(indices.len() as u32);
        }
        Ok(Conn::Csr { n_pre, n_post, indptr, indices, weights: Weights::Homogeneous(w), dim: None })
    }

    /// Every postsynaptic neuron receives exactly `k` synapses from distinct presynaptic neurons
    /// chosen uniformly (seeded).
    pub fn fixed_in_degree(n_pre: usize, n_post: usize, k: usize, w: impl Into<Weight>, seed: u64) -> Result<Conn> {
        if k > n_pre {
            return Err(SomataError::param("connectivity", "in-degree", k as f64, "must not exceed the presynaptic size"));
        }
        let wq = w.into();
        let w = check_w(wq.value)?;
        let mut rng = Rng::new(seed);
        let mut pairs = Vec::with_capacity(n_post * k);
        let mut pick = Vec::with_capacity(k);
        for j in 0..n_post {
            sample_distinct(&mut rng, n_pre, k, &mut pick);
            pairs.extend(pick.iter().map(|&i| (i, j as u32)));
        }
        Ok(Conn::csr_from_pairs(n_pre, n_post, pairs, None, w).with_dim(wq.dim))
    }

    /// Every presynaptic neuron sends exactly `k` synapses to distinct postsynaptic neurons
    /// chosen uniformly (seeded).
    pub fn fixed_out_degree(n_pre: usize, n_post: usize, k: usize, w: impl Into<Weight>, seed: u64) -> Result<Conn> {
        if k > n_post {
            return Err(SomataError::param("connectivity", "out-degree", k as f64, "must not exceed the postsynaptic size"));
        }
        let wq = w.into();
        let w = check_w(wq.value)?;
        let mut rng = Rng::new(seed);
        let mut indptr = Vec::with_capacity(n_pre + 1);
        let mut indices = Vec::with_capacity(n_pre * k);
        indptr.push(0);
        let mut pick = Vec::with_capacity(k);
        for _ in 0..n_pre {
            sample_distinct(&mut rng, n_post, k, &mut pick);
            pick.sort_unstable();
            indices.extend_from_slice(&pick);
            indptr.push(indices.len() as u32);
        }
        Ok(Conn::Csr { n_pre, n_post, indptr, indices, weights: Weights::Homogeneous(w), dim: Some(wq.dim) })
    }

    /// Exactly `n` synapses, each from a presynaptic neuron and to a postsynaptic neuron drawn
    /// uniformly and independently (seeded): NEST's `fixed_total_number` rule with autapses and
    /// multapses allowed, as the cortical microcircuit (Potjans & Diesmann 2014) uses it.
    ///
    /// Drawn per postsynaptic neuron ([`Conn::fixed_total_number_posts`]: the same synapses on
    /// any number of ranks), in two passes (count the synapses of each presynaptic row, then
    /// replay and fill), so nothing but the matrix itself is allocated: 4 bytes per synapse and
    /// 4 per presynaptic neuron.
    ///
    /// ```
    /// use somata::net::Conn;
    /// use somata::units::mS;
    /// let c = Conn::fixed_total_number(100, 50, 1234, 0.5 * mS, 7).unwrap();
    /// assert_eq!(c.num_synapses(), 1234);
    /// // the same seed, the same synapses
    /// let d = Conn::fixed_total_number(100, 50, 1234, 0.5 * mS, 7).unwrap();
    /// assert!(c.synapses().eq(d.synapses()));
    /// ```
    pub fn fixed_total_number(n_pre: usize, n_post: usize, n: usize, w: impl Into<Weight>, seed: u64) -> Result<Conn> {
        Ok(Conn::fixed_total_number_posts(n_pre, n_post, n, w, seed, 0..n_post, None, None)?.0)
    }

    /// [`Conn::fixed_total_number`] for the postsynaptic neurons `posts` only (one rank's
    /// block; columns `0..posts.len()`), with weights and whole-step delays drawn per synapse
    /// from `weights` and `delays` (`(distribution in ms, dt in ms)`, as
    /// [`Delay::steps_from_dist`](super::Delay::steps_from_dist)).
    ///
    /// Rank-independent: the in-degree of every postsynaptic neuron comes from the `n` uniform
    /// draws of one stream (every rank draws them all, about a nanosecond each), and the
    /// sources, weights and delays of postsynaptic neuron `j` from streams keyed by `(seed, j)`,
    /// so any split of the postsynaptic neurons gives the same synapses, and the whole matrix
    /// is the union of the blocks. Rows are filled in postsynaptic order, two passes over the
    /// keyed streams (count, then fill), so nothing but the matrix is allocated.
    ///
    /// ```
    /// use somata::net::Conn;
    /// let whole = Conn::fixed_total_number_posts(30, 20, 500, 1.0, 9, 0..20, None, None).unwrap().0;
    /// let (a, _) = Conn::fixed_total_number_posts(30, 20, 500, 1.0, 9, 0..7, None, None).unwrap();
    /// let (b, _) = Conn::fixed_total_number_posts(30, 20, 500, 1.0, 9, 7..20, None, None).unwrap();
    /// assert_eq!(a.num_synapses() + b.num_synapses(), 500);
    /// let mut u: Vec<_> = a.synapses().map(|(i, j, _)| (i, j)).chain(b.synapses().map(|(i, j, _)| (i, j + 7))).collect();
    /// let mut w: Vec<_> = whole.synapses().map(|(i, j, _)| (i, j)).collect();
    /// u.sort();
    /// w.sort();
    /// assert_eq!(u, w);
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn fixed_total_number_posts(
        n_pre: usize,
        n_post: usize,
        n: usize,
        w: impl Into<Weight>,
        seed: u64,
        posts: std::ops::Range<usize>,
        weights: Option<Dist>,
        delays: Option<(Dist, f64)>,
    ) -> Result<(Conn, Option<Vec<u16>>)> {
        if n > 0 && (n_pre == 0 || n_post == 0) {
            return Err(SomataError::param("connectivity", "total number", n as f64, "needs non-empty populations"));
        }
        if n > u32::MAX as usize {
            return Err(SomataError::param("connectivity", "total number", n as f64, "must be below 2³² per projection"));
        }
        if posts.end > n_post || posts.start > posts.end {
            return Err(SomataError::ShapeMismatch {
                what: "postsynaptic block of fixed_total_number".into(),
                expected: vec![n_post],
                got: vec![posts.start, posts.end],
            });
        }
        let wq = w.into();
        let w = check_w(wq.value)?;
        if let Some(d) = &weights {
            d.check("connectivity weight")?;
        }
        if let Some((d, dt)) = &delays {
            d.check("delay")?;
            if !(dt.is_finite() && *dt > 0.0) {
                return Err(SomataError::InvalidDt(*dt));
            }
        }
        let draw = |rng: &mut Rng, m: usize| (((rng.next_u64() >> 32) * m as u64) >> 32) as u32;
        // in-degrees: n postsynaptic indices from one stream
        let (lo, m) = (posts.start, posts.len());
        let mut indeg = vec![0u32; m];
        let mut rng = Rng::new(seed);
        for _ in 0..n {
            let j = draw(&mut rng, n_post) as usize;
            if let Some(d) = j.checked_sub(lo).and_then(|k| indeg.get_mut(k)) {
                *d += 1;
            }
        }
        let src_seed = super::dist::key(seed, 0x5052_4531);
        let (w_seed, d_seed) = (super::dist::key(seed, 0x5745_4947), super::dist::key(seed, 0x4445_4c41));
        // pass 1: synapses per presynaptic row
        let mut counts = vec![0u32; n_pre + 1];
        for (k, &kj) in indeg.iter().enumerate() {
            let mut r = Rng::new(super::dist::key(src_seed, (lo + k) as u64));
            for _ in 0..kj {
                counts[draw(&mut r, n_pre) as usize + 1] += 1;
            }
        }
        for i in 0..n_pre {
            counts[i + 1] += counts[i];
        }
        let total = counts[n_pre] as usize;
        let indptr = counts.clone();
        let mut fill = counts;
        let mut indices = vec![0u32; total];
        let mut wv = if weights.is_some() { vec![0f32; total] } else { vec![] };
        let mut dv = if delays.is_some() { vec![0u16; total] } else { vec![] };
        // pass 2: replay the sources, draw weights and delays, fill
        for (k, &kj) in indeg.iter().enumerate() {
            let j = (lo + k) as u64;
            let mut r = Rng::new(super::dist::key(src_seed, j));
            let mut rw = Rng::new(super::dist::key(w_seed, j));
            let mut rd = Rng::new(super::dist::key(d_seed, j));
            for _ in 0..kj {
                let i = draw(&mut r, n_pre) as usize;
                let pos = fill[i] as usize;
                fill[i] += 1;
                indices[pos] = k as u32;
                if let Some(d) = &weights {
                    wv[pos] = d.sample(&mut rw) as f32;
                }
                if let Some((d, dt)) = &delays {
                    dv[pos] = super::delay_steps(d.sample(&mut rd), *dt)?;
                }
            }
        }
        let weights = if weights.is_some() { Weights::PerSynapse(wv) } else { Weights::Homogeneous(w) };
        let conn = Conn::Csr { n_pre, n_post: m, indptr, indices, weights, dim: Some(wq.dim) };
        Ok((conn, delays.map(|_| dv)))
    }

    /// The synapses onto postsynaptic neurons `posts` only (one rank's block), renumbered
    /// `0..posts.len()`, and the storage positions they had (to cut per-synapse delays alike).
    ///
    /// ```
    /// use somata::net::Conn;
    /// let c = Conn::fixed_prob(40, 30, 0.2, 1.0, 3).unwrap();
    /// let (a, ka) = c.clone().restrict_posts(0..10);
    /// let (b, kb) = c.clone().restrict_posts(10..30);
    /// assert_eq!(a.num_synapses() + b.num_synapses(), c.num_synapses());
    /// assert_eq!((a.n_post(), b.n_post()), (10, 20));
    /// assert_eq!(ka.len() + kb.len(), c.num_synapses());
    /// ```
    pub fn restrict_posts(self, posts: std::ops::Range<usize>) -> (Conn, Vec<usize>) {
        let (lo, m) = (posts.start, posts.len());
        match self {
            Conn::Dense { n_pre, n_post, w, dim } => {
                let mut keep = Vec::with_capacity(n_pre * m);
                let mut out = Vec::with_capacity(n_pre * m);
                for i in 0..n_pre {
                    for j in posts.clone() {
                        keep.push(i * n_post + j);
                        out.push(w[i * n_post + j]);
                    }
                }
                (Conn::Dense { n_pre, n_post: m, w: out, dim }, keep)
            }
            Conn::Csr { n_pre, indptr, indices, weights, dim, .. } => {
                let mut keep = vec![];
                let mut ip = Vec::with_capacity(n_pre + 1);
                let mut ix = vec![];
                ip.push(0u32);
                for i in 0..n_pre {
                    let row = indptr[i] as usize..indptr[i + 1] as usize;
                    for (pos, &j) in row.clone().zip(&indices[row]) {
                        let j = j as usize;
                        if posts.contains(&j) {
                            keep.push(pos);
                            ix.push((j - lo) as u32);
                        }
                    }
                    ip.push(ix.len() as u32);
                }
                let weights = match weights {
                    Weights::Homogeneous(w) => Weights::Homogeneous(w),
                    Weights::PerSynapse(v) => Weights::PerSynapse(keep.iter().map(|&p| v[p]).collect()),
                };
                (Conn::Csr { n_pre, n_post: m, indptr: ip, indices: ix, weights, dim }, keep)
            }
        }
    }

    fn csr_from_pairs(n_pre: usize, n_post: usize, pairs: Vec<(u32, u32)>, ws: Option<Vec<f32>>, w: f32) -> Conn {
        let mut counts = vec![0u32; n_pre + 1];
        for &(i, _) in &pairs {
            counts[i as usize + 1] += 1;
        }
        for i in 0..n_pre {
            counts[i + 1] += counts[i];
        }
        let indptr = counts.clone();
        let mut fill = counts;
        let mut indices = vec![0u32; pairs.len()];
        let mut wv = ws.as_ref().map(|_| vec![0f32; pairs.len()]);
        for (k, &(i, j)) in pairs.iter().enumerate() {
            let pos = fill[i as usize] as usize;
            fill[i as usize] += 1;
            indices[pos] = j;
            if let (Some(wv), Some(ws)) = (wv.as_mut(), ws.as_ref()) {
                wv[pos] = ws[k];
            }
        }
        let weights = match wv {
            Some(v) => Weights::PerSynapse(v),
            None => Weights::Homogeneous(w),
        };
        Conn::Csr { n_pre, n_post, indptr, indices, weights, dim: None }
    }

    /// Give every synapse its own weight drawn by `f` (e.g. from a distribution), turning a
    /// homogeneous sparse matrix into a per-synapse one.
    pub fn with_weights(self, mut f: impl FnMut() -> f32) -> Conn {
        match self {
            Conn::Csr { n_pre, n_post, indptr, indices, dim, .. } => {
                let w = (0..indices.len()).map(|_| f()).collect();
                Conn::Csr { n_pre, n_post, indptr, indices, weights: Weights::PerSynapse(w), dim }
            }
            Conn::Dense { n_pre, n_post, w, dim } => Conn::Dense { n_pre, n_post, w: w.iter().map(|_| f()).collect(), dim },
        }
    }

    /// Give every synapse its own weight drawn from `d` (canonical units of the weights),
    /// seeded, in storage order.
    pub fn with_weight_dist(self, d: Dist, seed: u64) -> Result<Conn> {
        d.check("connectivity weight")?;
        let mut rng = Rng::new(seed);
        let c = self.with_weights(|| d.sample(&mut rng) as f32);
        Ok(c)
    }

    /// Presynaptic size.
    pub fn n_pre(&self) -> usize {
        match self {
            Conn::Dense { n_pre, .. } | Conn::Csr { n_pre, .. } => *n_pre,
        }
    }
    /// Postsynaptic size.
    pub fn n_post(&self) -> usize {
        match self {
            Conn::Dense { n_post, .. } | Conn::Csr { n_post, .. } => *n_post,
        }
    }
    /// Number of stored synapses (all entries of a dense matrix).
    pub fn num_synapses(&self) -> usize {
        match self {
            Conn::Dense { w, .. } => w.len(),
            Conn::Csr { indices, .. } => indices.len(),
        }
    }
    /// Bytes of storage per synapse (indices and weights; the row pointer is not counted).
    pub fn bytes_per_synapse(&self) -> usize {
        match self {
            Conn::Dense { .. } => 4,
            Conn::Csr { weights: Weights::Homogeneous(_), .. } => 4,
            Conn::Csr { weights: Weights::PerSynapse(_), .. } => 8,
        }
    }

    /// Every stored synapse `(pre, post, weight)` in storage order (row by row; a dense matrix
    /// lists all `n_pre·n_post` entries, zeros included): the order of per-connection delays
    /// ([`Projection::delays_per_synapse_ms`](super::Projection::delays_per_synapse_ms)).
    pub fn synapses(&self) -> impl Iterator<Item = (usize, usize, f32)> + '_ {
        let n_pre = self.n_pre();
        (0..n_pre).flat_map(move |i| {
            let (r, cols, w): (std::ops::Range<usize>, Option<&[u32]>, WeightsRef<'_>) = self.row(i);
            r.map(move |pos| {
                let j = match cols {
                    Some(c) => c[pos] as usize,
                    None => pos - i * self.n_post(),
                };
                (i, j, w.at(pos))
            })
        })
    }

    /// The storage positions of row `pre`, its column indices (sparse) and its weights.
    #[inline]
    fn row(&self, pre: usize) -> (std::ops::Range<usize>, Option<&[u32]>, WeightsRef<'_>) {
        match self {
            Conn::Dense { n_post, w, .. } => (pre * n_post..(pre + 1) * n_post, None, WeightsRef::PerSynapse(w)),
            Conn::Csr { indptr, indices, weights, .. } => {
                let w = match weights {
                    Weights::Homogeneous(w) => WeightsRef::Homogeneous(*w),
                    Weights::PerSynapse(v) => WeightsRef::PerSynapse(v),
                };
                (indptr[pre] as usize..indptr[pre + 1] as usize, Some(indices), w)
            }
        }
    }

    /// Calls `f(position, post, weight)` for every synapse of row `pre` (event-driven delivery
    /// with per-connection delays); returns the synapses visited.
    #[inline]
    pub(crate) fn visit_row(&self, pre: usize, mut f: impl FnMut(usize, usize, f32)) -> usize {
        let (r, cols, w) = self.row(pre);
        let base = r.start;
        let n = r.len();
        match (cols, w) {
            (None, WeightsRef::PerSynapse(ws)) => {
                for (k, &wv) in ws[r].iter().enumerate() {
                    f(base + k, k, wv);
                }
            }
            (Some(c), WeightsRef::Homogeneous(wv)) => {
                for (k, &j) in c[r].iter().enumerate() {
                    f(base + k, j as usize, wv);
                }
            }
            (Some(c), WeightsRef::PerSynapse(ws)) => {
                for (k, (&j, &wv)) in c[r.clone()].iter().zip(&ws[r]).enumerate() {
                    f(base + k, j as usize, wv);
                }
            }
            (None, WeightsRef::Homogeneous(_)) => unreachable!("a dense matrix stores every weight"),
        }
        n
    }

    /// `out[post] += Σ_pre x[pre]·w[pre, post]`, visiting only the rows with `x[pre] ≠ 0`
    /// (event-driven for spikes). Returns the number of synapses visited.
    #[inline]
    pub fn propagate(&self, x: &[f32], out: &mut [f32]) -> usize {
        let mut visited = 0;
        for (i, &s) in x.iter().enumerate() {
            if s != 0.0 {
                visited += self.propagate_row(i, s, out);
            }
        }
        visited
    }
}

impl Conn {
    /// `out[post] += s·w[pre, post]` for one presynaptic row (event-driven propagation of the
    /// spike of neuron `pre`); returns the synapses visited.
    #[inline]
    pub fn propagate_row(&self, pre: usize, s: f32, out: &mut [f32]) -> usize {
        match self {
            Conn::Dense { n_post, w, .. } => {
                for (o, &wv) in out.iter_mut().zip(&w[pre * n_post..(pre + 1) * n_post]) {
                    *o += s * wv;
                }
                *n_post
            }
            Conn::Csr { indptr, indices, weights, .. } => {
                let (a, b) = (indptr[pre] as usize, indptr[pre + 1] as usize);
                let idx = &indices[a..b];
                match weights {
                    Weights::Homogeneous(w) => {
                        let v = s * w;
                        for &j in idx {
                            out[j as usize] += v;
                        }
                    }
                    Weights::PerSynapse(ws) => {
                        for (&j, &wv) in idx.iter().zip(&ws[a..b]) {
                            out[j as usize] += s * wv;
                        }
                    }
                }
                b - a
            }
        }
    }
}

impl Conn {
    /// Whether every row lists its postsynaptic indices in ascending order (dense matrices,
    /// and every generator; explicit triplets may not be).
    pub(crate) fn rows_sorted(&self) -> bool {
        match self {
            Conn::Dense { .. } => true,
            Conn::Csr { indptr, indices, .. } => indptr.windows(2).all(|r| indices[r[0] as usize..r[1] as usize].is_sorted()),
        }
    }

    /// [`Conn::propagate_row`] restricted to the postsynaptic indices `lo..hi`, into `out`
    /// (which points at postsynaptic index 0); `sorted`: [`Conn::rows_sorted`]. Returns the
    /// synapses visited. Contributions arrive in row order, as in `propagate_row`.
    ///
    /// # Safety
    /// `out` points at `n_post` values, and nothing else touches `out[lo..hi]` meanwhile.
    #[inline]
    pub(crate) unsafe fn propagate_row_part(&self, pre: usize, s: f32, out: *mut f32, lo: usize, hi: usize, sorted: bool) -> usize {
        match self {
            Conn::Dense { n_post, w, .. } => {
                let row = &w[pre * n_post + lo..pre * n_post + hi];
                for (k, &wv) in row.iter().enumerate() {
                    // SAFETY: lo + k < hi ≤ n_post.
                    unsafe { *out.add(lo + k) += s * wv };
                }
                hi - lo
            }
            Conn::Csr { n_post, indptr, indices, weights, .. } => {
                let (mut a, mut b) = (indptr[pre] as usize, indptr[pre + 1] as usize);
                if sorted {
                    let idx = &indices[a..b];
                    let (l, h) = (
                        if lo == 0 { 0 } else { idx.partition_point(|&j| (j as usize) < lo) },
                        if hi >= *n_post { idx.len() } else { idx.partition_point(|&j| (j as usize) < hi) },
                    );
                    (a, b) = (a + l, a + h);
                }
                let idx = &indices[a..b];
                let inside = |j: u32| sorted || (lo..hi).contains(&(j as usize));
                let mut n = 0;
                match weights {
                    Weights::Homogeneous(w) => {
                        let v = s * w;
                        for &j in idx {
                            if inside(j) {
                                // SAFETY: j < n_post, in this caller's lo..hi.
                                unsafe { *out.add(j as usize) += v };
                                n += 1;
                            }
                        }
                    }
                    Weights::PerSynapse(ws) => {
                        for (&j, &wv) in idx.iter().zip(&ws[a..b]) {
                            if inside(j) {
                                // SAFETY: as above.
                                unsafe { *out.add(j as usize) += s * wv };
                                n += 1;
                            }
                        }
                    }
                }
                n
            }
        }
    }
}

/// Borrowed weights of a row.
#[derive(Clone, Copy)]
enum WeightsRef<'a> {
    Homogeneous(f32),
    PerSynapse(&'a [f32]),
}

impl WeightsRef<'_> {
    #[inline]
    fn at(self, pos: usize) -> f32 {
        match self {
            WeightsRef::Homogeneous(w) => w,
            WeightsRef::PerSynapse(v) => v[pos],
        }
    }
}

/// `k` distinct values of `0..n`, uniformly (Floyd's algorithm), into `out`.
fn sample_distinct(rng: &mut Rng, n: usize, k: usize, out: &mut Vec<u32>) {
    out.clear();
    if k * 4 > n {
        // dense case: partial Fisher–Yates
        let mut all: Vec<u32> = (0..n as u32).collect();
        for i in 0..k {
            let j = i + (rng.uniform() * (n - i) as f64) as usize;
            all.swap(i, j.min(n - 1));
        }
        out.extend_from_slice(&all[..k]);
        return;
    }
    for j in (n - k)..n {
        let t = (rng.uniform() * (j + 1) as f64) as usize;
        let t = t.min(j) as u32;
        if out.contains(&t) {
            out.push(j as u32);
        } else {
            out.push(t);
        }
    }
}
