//! Piecewise-polynomial tables of functions of the membrane potential, for the gate propagators
//! of the Hodgkin–Huxley family.
//!
//! A gate `dx/dt = α(V)(1 − x) − β(V)x` with V held over the step (BrainPy evaluates the rates at
//! the previous V) is linear in `x`, so BrainPy's exponential-Euler step
//! `x + dt·exprel(z)·(α − (α + β)x)`, `z = −dt(α + β)`, is
//!
//! ```text
//! x' = x + (B(V) + E(V)·x),   B = dt·α·exprel(z),   E = z·exprel(z) = e^z − 1
//! ```
//!
//! with two functions of V alone (for a given dt). Those are smooth, so they are tabulated once per
//! run: [`GateTable::fit`] interpolates each on 8 mV intervals by a degree-5 polynomial in the
//! local coordinate `u = V/8 − round(V/8)` (Chebyshev nodes, computed in f64, coefficients rounded
//! to f32), and checks the f32 evaluation against the f64 function at 65 points of every interval:
//! only intervals where every function stays within [`GateTable::TOLERANCE`] (relative) are used.
//! The table covers the longest run of such intervals around rest, at most [`SLOTS`] of them
//! (256 mV; HH at dt = 0.1 ms: −92 to +84 mV); `V` outside it (or NaN) is evaluated exactly.
//!
//! The increment form `x + (B + E·x)` keeps the fixed point `x* = −B/E` as accurate as `B` and `E`
//! (the product form `x·e^z + B` would lose it in `1 − e^z`, which is small for slow gates).
//!
//! Why: HH's exact step needs three exponentials, a reciprocal and three `exprel` for its gates;
//! a table needs six polynomials whose coefficients come from two registers each (`vpermt2ps`, 32
//! entries). `V/8` is exact and `u` is computed exactly (`vreduceps`), so the table adds no rounding
//! of its argument. This is what NEURON does by default for `hh.mod` (there with linear
//! interpolation on 1 mV steps, about 1e-4 relative; here about 1e-7).

/// Intervals a table holds (one `vpermt2ps` selects among 32 entries).
pub const SLOTS: usize = 32;
/// Coefficients per function (degree 5).
pub const COEFS: usize = 6;
/// Functions per table.
pub const FUNCS: usize = 6;
/// Interval width, mV: a power of two, so that `V/WIDTH` is exact.
pub const WIDTH: f64 = 8.0;
/// `1/WIDTH`.
pub const INV_WIDTH: f32 = 0.125;

/// Candidate interval centres, in units of `WIDTH` (−320 to +240 mV).
const CANDIDATES: std::ops::RangeInclusive<i32> = -40..=30;

/// Six functions of V as piecewise polynomials (see the module documentation).
///
/// ```
/// use somata::dynamics::table::GateTable;
/// // six smooth positive functions, tabulated around rest
/// let t = GateTable::fit(|v| [(v / 20.0).exp(), 2.0 + v / 300.0, 1.0, 2.0, (v / 30.0).sin() + 2.0, 0.5], -64.0, -172.0).unwrap();
/// assert_eq!(t.range(), (-172.0, 84.0));
/// let got = t.eval(-60.3).unwrap();
/// assert!((got[0] as f64 / (-60.3f64 / 20.0).exp() - 1.0).abs() < 1e-6);
/// assert!(t.eval(f32::NAN).is_none() && t.eval(90.0).is_none());
/// ```
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct GateTable {
    /// `coef[f][k][slot]`: coefficient of `u^(COEFS − 1 − k)` (Horner order) of function `f` on
    /// the interval whose centre `c` (in units of `WIDTH`) has `c mod 32 == slot`.
    pub(crate) coef: [[[f32; SLOTS]; COEFS]; FUNCS],
    /// The same coefficients by interval: `rows[slot][k][f]` (`f < FUNCS`, the two last lanes
    /// 0), so that one 8-lane load holds coefficient `k` of all six functions of one interval
    /// (the AVX2 and scalar lookups, which read one interval per element).
    pub(crate) rows: [[[f32; 8]; COEFS]; SLOTS],
    /// Covered range, open at both ends: `lo < V < hi` (mV).
    pub(crate) lo: f32,
    pub(crate) hi: f32,
}

/// `u^(COEFS−1)·c[0] + … + c[COEFS−1]` by Horner with fused multiply-adds (the vector kernel's
/// order).
#[inline(always)]
fn horner(c: impl Fn(usize) -> f32, u: f32) -> f32 {
    let mut acc = c(0);
    for k in 1..COEFS {
        acc = acc.mul_add(u, c(k));
    }
    acc
}

impl GateTable {
    /// Largest relative error (against the f64 function) an interval may have to be used: 2^-21,
    /// about 4 ulp at the top of the f32 mantissa range (the exact f32 path is within about 10
    /// ulp). Values below 1e-30 in magnitude are held to 2^-21·1e-30 absolute.
    pub const TOLERANCE: f64 = 1.0 / 2_097_152.0;

    /// Tabulate `f` (six functions of V in mV, evaluated in f64). `anchor` (mV) must lie in the
    /// covered range (`None` if the interval holding it fails the check); `prefer_lo` (mV) is
    /// where the range should start when the valid intervals allow more than [`SLOTS`]. The check
    /// is relative, so an interval where a function crosses zero fails (the gate propagators
    /// keep one sign).
    pub fn fit(f: impl Fn(f64) -> [f64; FUNCS], anchor: f64, prefer_lo: f64) -> Option<GateTable> {
        // Chebyshev nodes on [−1/2, 1/2] and the monomial interpolation matrix
        let nodes: [f64; COEFS] = std::array::from_fn(|j| 0.5 * ((2 * j + 1) as f64 * std::f64::consts::PI / (2 * COEFS) as f64).cos());
        let mut fits: Vec<(i32, [[f32; COEFS]; FUNCS])> = Vec::new();
        for c in CANDIDATES {
            let vals: [[f64; FUNCS]; COEFS] = std::array::from_fn(|j| f(WIDTH * (c as f64 + nodes[j])));
            let mut poly = [[0f32; COEFS]; FUNCS];
            let mut ok = vals.iter().all(|r| r.iter().all(|v| v.is_finite()));
            for (fi, p) in poly.iter_mut().enumerate() {
                if !ok {
                    break;
                }
                let Some(a) = interpolate(&nodes, &std::array::from_fn(|j| vals[j][fi])) else {
                    ok = false;
                    break;
                };
                // Horner order: highest power first
                for k in 0..COEFS {
                    p[k] = a[COEFS - 1 - k] as f32;
                }
                ok = p.iter().all(|x| x.is_finite());
            }
            if ok {
                // the f32 evaluation at 65 points of the interval (u = k/64 − 1/2, exact)
                ok = (0..=64).all(|k| {
                    let u = k as f32 / 64.0 - 0.5;
                    let want = f(WIDTH * (c as f64 + u as f64));
                    (0..FUNCS).all(|fi| {
                        let got = horner(|j| poly[fi][j], u) as f64;
                        let w = want[fi];
                        w.is_finite() && (got - w).abs() <= Self::TOLERANCE * w.abs().max(1e-30)
                    })
                });
            }
            if ok {
                fits.push((c, poly));
            }
        }
        // the run of consecutive valid intervals holding the anchor
        let a = (anchor / WIDTH).round() as i32;
        let pos = fits.iter().position(|(c, _)| *c == a)?;
        let mut first = pos;
        while first > 0 && fits[first - 1].0 == fits[first].0 - 1 {
            first -= 1;
        }
        let mut last = pos;
        while last + 1 < fits.len() && fits[last + 1].0 == fits[last].0 + 1 {
            last += 1;
        }
        let (run_lo, run_hi) = (fits[first].0, fits[last].0);
        let want_lo = ((prefer_lo / WIDTH) + 0.5).ceil() as i32;
        let start = want_lo.min(run_hi - (SLOTS as i32 - 1)).max(run_lo);
        let end = (start + SLOTS as i32 - 1).min(run_hi);
        let mut t = GateTable { coef: [[[0.0; SLOTS]; COEFS]; FUNCS], rows: [[[0.0; 8]; COEFS]; SLOTS], lo: 0.0, hi: 0.0 };
        for (c, poly) in &fits[first..=last] {
            if (start..=end).contains(c) {
                let slot = c.rem_euclid(SLOTS as i32) as usize;
                for (f, (rows, p)) in t.coef.iter_mut().zip(poly).enumerate() {
                    for (k, (row, &ck)) in rows.iter_mut().zip(p).enumerate() {
                        row[slot] = ck;
                        t.rows[slot][k][f] = ck;
                    }
                }
            }
        }
        t.lo = (WIDTH * (start as f64 - 0.5)) as f32;
        t.hi = (WIDTH * (end as f64 + 0.5)) as f32;
        Some(t)
    }

    /// The covered range `(lo, hi)`, mV, open at both ends.
    pub fn range(&self) -> (f32, f32) {
        (self.lo, self.hi)
    }

    /// Whether `lo < v < hi` (false for NaN).
    #[inline(always)]
    pub fn covers(&self, v: f32) -> bool {
        self.lo < v && v < self.hi
    }

    /// The six functions at `v`, or `None` outside the covered range: the vector kernel's
    /// values, by the same operations (the reference its tests compare with; plain scalar
    /// kernels do not read tables): `x = v/8` (exact), `r = round(x)` (ties to even, as
    /// `vreduceps` and `vcvtps2dq`), `u = x − r` (exact), slot `r mod 32`, Horner with fused
    /// multiply-adds.
    pub fn eval(&self, v: f32) -> Option<[f32; FUNCS]> {
        if !self.covers(v) {
            return None;
        }
        Some(self.eval_unchecked(v))
    }

    /// [`GateTable::eval`] without the range check (any finite `v` reads some interval; the
    /// caller uses the result only where [`GateTable::covers`] holds): the scalar kernels'
    /// lookup, by the same operations as the vector kernels'.
    #[inline(always)]
    pub fn eval_unchecked(&self, v: f32) -> [f32; FUNCS] {
        let x = v * INV_WIDTH;
        let r = x.round_ties_even();
        // `as i32` saturates (NaN gives 0); the slot is in range for any v
        let slot = (r as i32).rem_euclid(SLOTS as i32) as usize;
        let u = x - r;
        let row = &self.rows[slot];
        let mut acc = row[0];
        for c in &row[1..] {
            for f in 0..FUNCS {
                acc[f] = acc[f].mul_add(u, c[f]);
            }
        }
        [acc[0], acc[1], acc[2], acc[3], acc[4], acc[5]]
    }
}

/// The coefficients `a[0] + a[1]u + …` of the polynomial through `(nodes[j], y[j])`, by Gaussian
/// elimination with partial pivoting on the Vandermonde system (f64; well conditioned at six
/// Chebyshev nodes on [−1/2, 1/2]).
fn interpolate(nodes: &[f64; COEFS], y: &[f64; COEFS]) -> Option<[f64; COEFS]> {
    let mut m = [[0f64; COEFS + 1]; COEFS];
    for (j, row) in m.iter_mut().enumerate() {
        let mut p = 1.0;
        for entry in row.iter_mut().take(COEFS) {
            *entry = p;
            p *= nodes[j];
        }
        row[COEFS] = y[j];
    }
    for col in 0..COEFS {
        let piv = (col..COEFS).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        m.swap(col, piv);
        if m[col][col] == 0.0 {
            return None;
        }
        let pivot_row = m[col];
        for row in &mut m[col + 1..] {
            let k = row[col] / pivot_row[col];
            for (x, &p) in row.iter_mut().zip(&pivot_row).skip(col) {
                *x -= k * p;
            }
        }
    }
    let mut a = [0f64; COEFS];
    for r in (0..COEFS).rev() {
        let s: f64 = (r + 1..COEFS).map(|c| m[r][c] * a[c]).sum();
        a[r] = (m[r][COEFS] - s) / m[r][r];
    }
    Some(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smooth(v: f64) -> [f64; FUNCS] {
        [(v / 20.0).exp(), (v / 80.0).exp() * 0.125, 1.0 / (1.0 + (-(v + 35.0) / 10.0).exp()), 2.0 + v / 300.0, 3.0, (v / 30.0).cos() + 2.0]
    }

    #[test]
    fn interpolation_reproduces_a_quintic_exactly() {
        let nodes: [f64; COEFS] = std::array::from_fn(|j| 0.5 * ((2 * j + 1) as f64 * std::f64::consts::PI / 12.0).cos());
        let q = |u: f64| 1.0 - 2.0 * u + 0.5 * u * u + 3.0 * u.powi(3) - u.powi(4) + 0.25 * u.powi(5);
        let a = interpolate(&nodes, &nodes.map(q)).unwrap();
        for (got, want) in a.iter().zip([1.0, -2.0, 0.5, 3.0, -1.0, 0.25]) {
            assert!((got - want).abs() < 1e-12, "{a:?}");
        }
    }

    #[test]
    fn table_is_within_tolerance_everywhere_it_covers() {
        let t = GateTable::fit(smooth, -64.0, -172.0).unwrap();
        assert_eq!(t.range(), (-172.0, 84.0));
        let mut v = -171.999f32;
        while v < 84.0 {
            let got = t.eval(v).unwrap();
            let want = smooth(v as f64);
            for f in 0..FUNCS {
                let err = (got[f] as f64 - want[f]).abs() / want[f].abs().max(1e-30);
                assert!(err <= GateTable::TOLERANCE, "f{f} at {v}: {} vs {}", got[f], want[f]);
            }
            v += 0.0137;
        }
        for v in [-172.0f32, 84.0, 200.0, -1e30, f32::NAN, f32::INFINITY] {
            assert!(t.eval(v).is_none(), "{v}");
        }
    }

    #[test]
    fn range_shrinks_to_the_intervals_that_pass() {
        // e^{e^{−V/10}} changes too fast for a quintic on 8 mV below about +10 mV (and is not
        // representable below about −50 mV): the table starts above that
        let f = |v: f64| [(-v / 10.0).exp().exp(), 1.0, 1.0, 1.0, 1.0, 1.0];
        let t = GateTable::fit(f, 40.0, -172.0).unwrap();
        let (lo, hi) = t.range();
        // (up to the last candidate interval, centred on +240 mV)
        assert!(lo > 0.0 && lo < 40.0 && hi == 244.0, "{lo} {hi}");
        let e = t.eval(lo + 0.01).unwrap()[0] as f64;
        let w = (-(lo as f64 + 0.01) / 10.0).exp().exp();
        assert!((e - w).abs() <= GateTable::TOLERANCE * w);
        assert!(t.eval(lo - 0.01).is_none());
        // an anchor in a failing interval gives no table
        assert!(GateTable::fit(f, -200.0, -172.0).is_none());
    }

    #[test]
    fn ties_and_interval_edges_use_a_validated_interval() {
        let t = GateTable::fit(smooth, -64.0, -172.0).unwrap();
        // x = V/8 exactly halfway: both neighbours were validated at u = ±1/2
        for v in [-68.0f32, -60.0, -4.0, 4.0, 12.0, -171.99998, 83.99999] {
            let got = t.eval(v).unwrap();
            let want = smooth(v as f64);
            for f in 0..FUNCS {
                assert!((got[f] as f64 - want[f]).abs() <= GateTable::TOLERANCE * want[f].abs(), "f{f} at {v}");
            }
        }
    }

    /// Each instruction set's 32-entry permute returns `row[idx mod 32]` for every index,
    /// negative ones included (the slot of a negative `round(V/8)`).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn permute32_reads_every_slot() {
        use crate::dynamics::simd::{Avx2, Avx512, Backend, Isa};
        #[repr(align(64))]
        struct Row([f32; 32]);
        let row = Row(std::array::from_fn(|i| 1.5 + i as f32));
        #[target_feature(enable = "avx2,fma")]
        unsafe fn on_avx2(row: &[f32; 32], idx: [i32; 8]) -> [f32; 8] {
            unsafe {
                use std::arch::x86_64::*;
                let v = <Avx2 as Isa>::permute32(row, _mm256_loadu_si256(idx.as_ptr() as *const __m256i));
                std::mem::transmute::<__m256, [f32; 8]>(v)
            }
        }
        #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
        unsafe fn on_avx512(row: &[f32; 32], idx: [i32; 16]) -> [f32; 16] {
            unsafe {
                use std::arch::x86_64::*;
                let v = <Avx512 as Isa>::permute32(row, _mm512_loadu_si512(idx.as_ptr() as *const __m512i));
                std::mem::transmute::<__m512, [f32; 16]>(v)
            }
        }
        let idx: Vec<i32> = (-64..64).collect();
        if Backend::Avx2.supported() {
            for c in idx.chunks(8) {
                let got = unsafe { on_avx2(&row.0, c.try_into().unwrap()) };
                for (g, &i) in got.iter().zip(c) {
                    assert_eq!(*g, row.0[i.rem_euclid(32) as usize], "avx2 at {i}");
                }
            }
        }
        if Backend::Avx512.supported() {
            for c in idx.chunks(16) {
                let got = unsafe { on_avx512(&row.0, c.try_into().unwrap()) };
                for (g, &i) in got.iter().zip(c) {
                    assert_eq!(*g, row.0[i.rem_euclid(32) as usize], "avx512 at {i}");
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    struct Lookup<'a>(&'a GateTable, &'a [f32; crate::dynamics::simd::MAX_LANES]);
    #[cfg(target_arch = "x86_64")]
    impl crate::dynamics::simd::VecFn for Lookup<'_> {
        type Out = [[f32; crate::dynamics::simd::MAX_LANES]; FUNCS];
        #[inline(always)]
        fn call<V: crate::dynamics::simd::VecF32>(self) -> Self::Out {
            // SAFETY: MAX_LANES values
            let v = unsafe { V::load(self.1.as_ptr(), V::LANES) };
            // the exact branch marked by a constant no table value has
            let r = v.tabulated(self.0, |f| f, || [V::splat(-7.0); FUNCS]);
            r.map(V::lanes)
        }
    }

    /// On every vector back end this CPU has (AVX-512: coefficients by `vpermt2ps`; AVX2: one
    /// interval row per lane and a transpose), `tabulated` gives `eval`'s bits on covered lanes
    /// and the exact branch on the others, with all lanes covered, none, and mixed (NaN
    /// included).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_lookup_equals_scalar_bit_for_bit() {
        use crate::dynamics::simd::{available, with_vector, Backend, MAX_LANES};
        let t = GateTable::fit(smooth, -64.0, -172.0).unwrap();
        let mut vs: Vec<f32> = Vec::new();
        let mut v = -171.99f32;
        while v < 84.0 {
            vs.push(v);
            v += 0.173;
        }
        vs.extend([-68.0, -60.0, -4.0, 4.0]); // ties
        let outside = [-172.0f32, 84.0, 300.0, -1e9, f32::NAN, f32::NEG_INFINITY];
        let mut mixed = vs.clone();
        for (i, o) in outside.iter().cycle().take(vs.len() / 7).enumerate() {
            mixed[7 * i + 3] = *o;
        }
        let outside = outside.repeat(MAX_LANES);
        for b in available().into_iter().filter(|&b| b != Backend::Scalar) {
            for set in [&vs, &mixed, &outside] {
                for chunk in set.chunks(b.lanes()) {
                    let mut x = [0.0f32; MAX_LANES];
                    x[..chunk.len()].copy_from_slice(chunk);
                    let got = with_vector(b, Lookup(&t, &x)).unwrap();
                    for (l, &v) in x[..b.lanes()].iter().enumerate() {
                        let want = t.eval(v).unwrap_or([-7.0; FUNCS]);
                        for f in 0..FUNCS {
                            assert_eq!(got[f][l].to_bits(), want[f].to_bits(), "{b}: f{f} at {v}");
                        }
                    }
                }
            }
        }
    }
}
