//! State initializers and the explicit, seeded random number generator.
//!
//! There is no global RNG: a layer owns an [`Rng`] seeded from its builder (`seed`), so the same
//! seed always gives the same initial states.

/// How to initialize a state variable (values in canonical units).
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// Every element the same value.
    Constant(f64),
    /// Uniform on `[low, high)`, independent per element (and per batch row, as braintools).
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound (> low).
        high: f64,
    },
    /// Normal with `mean` and `std` (>= 0), independent per element.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// Explicit values: length `N` (broadcast over the batch) or `batch × N`.
    Values(Vec<f64>),
}

/// An initializer together with the dimension of its values, from typed quantities
/// ([`Init::constant_q`], [`Init::normal_q`], [`Init::uniform_q`]);
/// [`LayerBuilder::init_with`](crate::engine::LayerBuilder::init_with) checks the dimension
/// against the state's, so `-55.0 * mS` for `V` is an error, not a silent number.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedInit {
    /// The initializer, canonical units.
    pub init: Init,
    /// The dimension of its values.
    pub dim: crate::units::Dim,
}

impl Init {
    /// Every element `v` (`Init::constant_q(-55.0 * mV)`).
    ///
    /// ```
    /// use somata::prelude::*;
    /// let lif = Lif::builder(2).init_with("V", Init::normal_q(-55.0 * mV, 2.0 * mV)).build().unwrap();
    /// let bad = Lif::builder(2).init_with("V", Init::constant_q(-55.0 * mS)).build();
    /// assert!(bad.unwrap_err().to_string().contains("voltage"));
    /// # let _ = lif;
    /// ```
    pub fn constant_q<D: crate::units::Dimension>(v: crate::units::Quantity<D>) -> TypedInit {
        TypedInit { init: Init::Constant(v.canonical()), dim: D::DIM }
    }
    /// Normal with `mean` and `std` of one dimension.
    pub fn normal_q<D: crate::units::Dimension>(mean: crate::units::Quantity<D>, std: crate::units::Quantity<D>) -> TypedInit {
        TypedInit { init: Init::Normal { mean: mean.canonical(), std: std.canonical() }, dim: D::DIM }
    }
    /// Uniform on `[low, high)` of one dimension.
    pub fn uniform_q<D: crate::units::Dimension>(low: crate::units::Quantity<D>, high: crate::units::Quantity<D>) -> TypedInit {
        TypedInit { init: Init::Uniform { low: low.canonical(), high: high.canonical() }, dim: D::DIM }
    }
}

/// A small, fast, seedable generator (xoshiro256** seeded by SplitMix64).
///
/// ```
/// use somata::init::Rng;
/// let (mut a, mut b) = (Rng::new(7), Rng::new(7));
/// assert_eq!(a.next_u64(), b.next_u64());
/// let u = a.uniform();
/// assert!((0.0..1.0).contains(&u));
/// ```
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        let mut z = seed;
        let mut s = [0u64; 4];
        for x in s.iter_mut() {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut r = z;
            r = (r ^ (r >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            r = (r ^ (r >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            *x = r ^ (r >> 31);
        }
        Rng { s }
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let r = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        r
    }
    /// Uniform on [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

impl Init {
    /// Fill `out` (`batch × n` elements, batch-major).
    pub(crate) fn fill(&self, out: &mut [f64], n: usize, rng: &mut Rng) -> crate::Result<()> {
        match self {
            Init::Constant(v) => out.fill(*v),
            Init::Uniform { low, high } => {
                for x in out.iter_mut() {
                    *x = low + (high - low) * rng.uniform();
                }
            }
            Init::Normal { mean, std } => {
                for x in out.iter_mut() {
                    *x = mean + std * rng.normal();
                }
            }
            Init::Values(v) => {
                if v.len() == out.len() {
                    out.copy_from_slice(v);
                } else if v.len() == n {
                    for (i, x) in out.iter_mut().enumerate() {
                        *x = v[i % n];
                    }
                } else {
                    return Err(crate::SomataError::ShapeMismatch {
                        what: "initializer values".into(),
                        expected: vec![n],
                        got: vec![v.len()],
                    });
                }
            }
        }
        Ok(())
    }

    /// Reject NaN and inverted ranges.
    pub(crate) fn validate(&self, what: &str) -> crate::Result<()> {
        let bad = |m: &str| Err(crate::SomataError::InvalidInitializer(format!("{what}: {m}")));
        match self {
            Init::Constant(v) if !v.is_finite() => bad("value is not finite"),
            Init::Uniform { low, high } if !(low.is_finite() && high.is_finite() && low < high) => bad("Uniform needs finite low < high"),
            Init::Normal { mean, std } if !(mean.is_finite() && std.is_finite() && *std >= 0.0) => {
                bad("Normal needs finite mean and std >= 0")
            }
            Init::Values(v) if v.iter().any(|x| !x.is_finite()) => bad("values are not all finite"),
            _ => Ok(()),
        }
    }
}
