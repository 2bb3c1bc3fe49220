//! Branch-free `f32` elementary functions for the simulation kernels.
//!
//! The platform's `expf` is a library call, which stops the compiler from vectorising a neuron
//! loop. These versions are straight-line arithmetic (Cody–Waite range reduction, Cephes
//! polynomials, exponent construction by bit manipulation, `select` instead of branches), so a
//! loop over neurons compiles to SIMD code. Accuracy: `exp` within 2 ulp, `expm1` within 4 ulp,
//! `tanh`, `sinh`, `cosh` within a few ulp, over the whole float range (overflow gives `inf`,
//! NaN propagates). `exp(x)` for `x < −86.98` returns 0 rather than a subnormal: subnormal
//! arithmetic costs x86 cores over a hundred cycles per operation, and a runaway neuron whose
//! exponent is clamped there would otherwise slow a whole population down by 5x. XLA's own `expf`, which produced BrainPy's goldens, is likewise
//! a polynomial approximation.

const LOG2E: f32 = std::f32::consts::LOG2_E;
pub(crate) const LN2_HI: f32 = 0.693_359_4;
pub(crate) const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5·2^23: adding and subtracting it rounds a float to the nearest integer (|v| < 2^22).
const ROUND: f32 = 12_582_912.0;

#[inline(always)]
fn sel(c: bool, a: f32, b: f32) -> f32 {
    if c {
        a
    } else {
        b
    }
}

/// `n = round(x·log2 e)` as a float and as an integer. The integer is read from the bits of
/// `x·log2 e + 1.5·2^23` (whose low mantissa bits hold n): a float-to-int conversion would be
/// Rust's saturating cast, which does not vectorise. One fused multiply-add, so n is the exact
/// rounding of `x·log2 e`.
#[inline(always)]
fn round_log2(x: f32) -> (f32, i32) {
    let m = x.mul_add(LOG2E, ROUND);
    (m - ROUND, m.to_bits() as i32 - ROUND.to_bits() as i32)
}

/// Cody–Waite reduction `r = x − n·ln 2` (two fused steps; `n·LN2_HI` is exact).
#[inline(always)]
fn reduce(x: f32, n: f32) -> f32 {
    n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, x))
}

/// Below this, `exp` returns 0 (every result above it is a normal float).
pub const EXP_ZERO_BELOW: f32 = -86.98;

/// e^x.
///
/// Fused multiply-adds throughout (`f32::mul_add` is correctly rounded on every target, so all
/// code paths give the same bits). The clamp to [−86.98, 89] keeps `2^(n−1)` a normal float, so
/// the scale is one exponent construction and overflow to `inf` happens by itself.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let xc = x.clamp(EXP_ZERO_BELOW, 89.0);
    let (n, ni) = round_log2(xc);
    let r = reduce(xc, n);
    let r2 = r * r;
    let y = exp_poly(r, r2).mul_add(r2, r) + 1.0;
    // 2^n = 2·2^(n−1) with n in [−125, 128]; y·2 first, so that y·2^n is exact down to n = −125
    // (y >= 0.7: a normal result) and overflows only where the true value does
    let s = f32::from_bits(((ni + 126) as u32) << 23);
    let e = y * 2.0 * s;
    sel(x < EXP_ZERO_BELOW, 0.0, e)
}

/// Cephes' `expf` polynomial, highest degree first: `e^r ≈ 1 + r + r²·p(r)` on |r| <= ln2/2.
pub(crate) const EXP_P: [f32; 6] = [1.987_569_2e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 0.5];

/// `p(r)` of [`EXP_P`] by Estrin's scheme (`r2 = r²`): the same five fused multiply-adds as
/// Horner's rule, three deep instead of five. The neuron kernels are bound by the latency of
/// their dependency chains more than by throughput, and `exp` sits on the longest one.
#[inline(always)]
pub(crate) fn exp_poly(r: f32, r2: f32) -> f32 {
    let a = EXP_P[0].mul_add(r, EXP_P[1]);
    let b = EXP_P[2].mul_add(r, EXP_P[3]);
    let d = EXP_P[4].mul_add(r, EXP_P[5]);
    a.mul_add(r2, b).mul_add(r2, d)
}

/// e^x − 1, accurate near 0: one range reduction `x = n·ln2 + r` (|r| ≤ ln2/2), a polynomial for
/// `e^r − 1`, and `e^x − 1 = (2^n − 1) + 2^n·(e^r − 1)` (exact for n = 0, no cancellation).
#[inline(always)]
pub fn expm1(x: f32) -> f32 {
    let xc = x.clamp(-18.0, 88.722_8);
    let (n, ni) = round_log2(xc);
    let r = reduce(xc, n);
    // e^r − 1 = r + r²/2 + … + r⁸/8! on |r| ≤ 0.347 (truncation < 4e-10 relative)
    let q = horner(r, &TAYLOR_EXPREL[2..9]);
    let p = (q * r).mul_add(r, r);
    let a = ni >> 1;
    let (sa, sb) = (f32::from_bits(((a + 127) as u32) << 23), f32::from_bits(((ni - a + 127) as u32) << 23));
    // n > 0: 2^n·(1 + p) − 1 (the product scaled in two steps so n = 128 cannot overflow);
    // n <= 0: (2^n − 1) + 2^n·p, exact for n = 0.
    let t = sa * sb;
    let e = sel(n > 0.5, (1.0 + p) * sa * sb - 1.0, t.mul_add(p, t - 1.0));
    let e = sel(x > 88.722_84, f32::INFINITY, e);
    let e = sel(x < -18.0, -1.0, e);
    sel(x.is_nan(), x, e)
}

/// `1/|a|` for `a` in [2^-125, 2^125] (a NaN gives NaN): Newton's iteration from an
/// exponent-bit guess (relative error 0.12, then 0.014, 2e-4, 4e-8), so within 2 ulp. Seven
/// fused operations instead of a vector division, which costs about as much as twenty.
#[inline(always)]
fn recip_abs(a: f32) -> f32 {
    let y = f32::from_bits(0x7EF3_11C3u32.wrapping_sub(a.to_bits()));
    let y = y.mul_add(a.mul_add(-y, 1.0), y);
    let y = y.mul_add(a.mul_add(-y, 1.0), y);
    y.mul_add(a.mul_add(-y, 1.0), y)
}

/// `1/x`, within 2 ulp for 2^-125 <= |x| <= 2^125; smaller magnitudes (0 and subnormals
/// included) give ±inf, larger ones ±0, NaN gives NaN. Branch-free and division-free.
#[inline(always)]
pub fn recip(x: f32) -> f32 {
    const LO: f32 = 2.350_988_7e-38; // 2^-125
    const HI: f32 = 4.253_529_6e37; // 2^125
    let a = x.abs();
    let y = recip_abs(a.clamp(LO, HI));
    let y = sel(a < LO, f32::INFINITY, y);
    let y = sel(a > HI, 0.0, y);
    f32::copysign(y, x)
}

/// `exprel(z) = (e^z − 1)/z` (1 at 0), the factor of exponential Euler.
///
/// For |z| < 1 (every `dt·J` of a neuron between spikes, and most of them during one) a
/// Taylor polynomial in z: degree 4 for |z| < 1/16 (`exprel_taylor4`, four fused multiply-adds:
/// AdEx's membrane, HH's h and n gates and most `dt·J` at dt = 0.1 ms fall here) and degree 9
/// otherwise (`exprel_taylor`, nine); no division, no cancellation, truncation below 0.5 ulp.
/// Otherwise one range reduction
/// `z = n·ln 2 + r` (|r| <= ln2/2, n ≠ 0), a degree-7 Taylor polynomial `q` for `exprel(r)` and
/// `(2^n·r·q + (2^n − 1))/z`, the numerator as accurate as `expm1`, the division by Newton's
/// iteration. Within 4 ulp of the exact value for −2^100 < z <= 88 (below, `−1/z` is taken at
/// −2^100: at most 8e-31); `inf` above 88 (the exact value overflows near 93). No `exp`, no
/// `expm1`, no vector division: this is what makes per-step exponential Euler cheap.
#[inline(always)]
pub fn exprel(z: f32) -> f32 {
    let zc = z.clamp(-87.0, 88.0);
    let (n, ni) = round_log2(zc);
    let r = reduce(zc, n);
    let q = exprel_poly(r);
    // 2^n, n in [−126, 127]
    let t = f32::from_bits(((ni + 127) as u32) << 23);
    let num = t.mul_add(r * q, t - 1.0);
    let rz = f32::copysign(recip_abs(z.abs().clamp(0.25, 1.267_650_6e30)), z);
    let e = sel(z.abs() < EXPREL_TAYLOR, exprel_taylor_tiered(z, z.abs() < EXPREL_TAYLOR4), num * rz);
    sel(z > 88.0, f32::INFINITY, e)
}

/// Both Taylor branches in one chain: the degree-9 Horner chain of `exprel_taylor`, restarted
/// at 1/5! after its fifth step when `tiny`, so that its last four steps are `exprel_taylor4`
/// bit for bit. The selection sits mid-chain, where the compare is long done: one blend more
/// than a single polynomial, on neither the operation count nor the latency of two.
#[inline(always)]
fn exprel_taylor_tiered(z: f32, tiny: bool) -> f32 {
    let c = &TAYLOR_EXPREL;
    let mut acc = c[0];
    for &ck in &c[1..6] {
        acc = acc.mul_add(z, ck);
    }
    acc = sel(tiny, c[5], acc);
    for &ck in &c[6..] {
        acc = acc.mul_add(z, ck);
    }
    acc
}

/// Below this |z|, [`exprel`] is [`exprel_taylor`].
pub(crate) const EXPREL_TAYLOR: f32 = 1.0;
/// Below this |z|, [`exprel`] is [`exprel_taylor4`].
pub(crate) const EXPREL_TAYLOR4: f32 = 0.0625;

/// Taylor coefficients of `exprel(z) = Σ z^k/(k+1)!`, highest degree first: 1/10!, 1/9!, …,
/// 1/2, 1. Every polynomial of this module's `exprel` and `expm1` is a slice of it.
pub(crate) const TAYLOR_EXPREL: [f32; 10] =
    [1.0 / 3_628_800.0, 1.0 / 362_880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0];

/// `c[0]·x^(n−1) + … + c[n−1]` by Horner's rule with fused multiply-adds (highest degree first).
#[inline(always)]
fn horner(x: f32, c: &[f32]) -> f32 {
    // (the closure inlined: the kernels' target features, hence `fma`, must reach it)
    c[1..].iter().fold(
        c[0],
        #[inline(always)]
        |acc, &ck| acc.mul_add(x, ck),
    )
}

/// `exprel(z)` for |z| < 1: Taylor to z^9 (truncation below 3e-8 relative, under half an ulp).
#[cfg(test)]
pub(crate) fn exprel_taylor(z: f32) -> f32 {
    horner(z, &TAYLOR_EXPREL)
}

/// `exprel(z)` for |z| < 1/16: Taylor to z^4 (truncation below |z|^5/6! < 1.4e-9 relative,
/// under 0.03 ulp).
#[cfg(test)]
pub(crate) fn exprel_taylor4(z: f32) -> f32 {
    // Horner, deliberately: these are the last four steps of `exprel_taylor`'s Horner chain
    // started at 1/5!, so the vector kernel evaluates a register whose lanes straddle 1/16 with
    // one masked degree-9 chain instead of two polynomials.
    horner(z, &TAYLOR_EXPREL[5..])
}

/// `exprel(r)` for |r| <= ln2/2: Taylor to r^7 (the reduced argument of [`exprel`]).
#[inline(always)]
pub(crate) fn exprel_poly(r: f32) -> f32 {
    horner(r, &TAYLOR_EXPREL[2..])
}

/// Hyperbolic tangent.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs().min(9.0);
    let e = expm1(2.0 * a);
    let t = e / (e + 2.0);
    let t = sel(x < 0.0, -t, t);
    sel(x.is_nan(), x, t)
}

/// Hyperbolic sine.
#[inline(always)]
pub fn sinh(x: f32) -> f32 {
    let a = x.abs();
    let small = 0.5 * (expm1(a) - expm1(-a));
    let big = half_exp(a) - 0.5 * exp(-a);
    let s = sel(a <= 0.35, small, big);
    sel(x < 0.0, -s, s)
}

/// Hyperbolic cosine.
#[inline(always)]
pub fn cosh(x: f32) -> f32 {
    let a = x.abs();
    half_exp(a) + 0.5 * exp(-a)
}

/// e^a / 2 for a >= 0; e^(a − ln 2) where e^a alone would overflow.
#[inline(always)]
fn half_exp(a: f32) -> f32 {
    // a − LN2_HI is exact (LN2_HI has 9 significant bits); e^(−LN2_LO) is a constant factor
    sel(a < 88.0, 0.5 * exp(a), exp(a - LN2_HI) * 1.000_212_2)
}

#[cfg(test)]
mod tests {
    fn ulps(a: f32, b: f32) -> u32 {
        if a == b {
            return 0;
        }
        ((a.to_bits() as i64) - (b.to_bits() as i64)).unsigned_abs() as u32
    }

    #[test]
    fn exprel_taylor_branch_is_accurate() {
        // every float of [-1, 1] whose low 7 mantissa bits are 0 (about 1.7e7 values)
        let mut worst = 0;
        for bits in (0..0x3F80_0000u32).step_by(128) {
            for z in [f32::from_bits(bits), -f32::from_bits(bits)] {
                let exact = if z == 0.0 { 1.0 } else { ((z as f64).exp_m1() / z as f64) as f32 };
                worst = worst.max(ulps(super::exprel(z), exact));
            }
        }
        assert!(worst <= 2, "exprel on |z| < 1: {worst} ulp");
        assert_eq!(super::exprel_taylor(0.0), 1.0);
        assert_eq!(super::exprel_taylor(-0.0), 1.0);
        assert_eq!(super::exprel(0.5), super::exprel_taylor(0.5));
        assert_eq!(super::exprel(0.05), super::exprel_taylor4(0.05));
        for z in [0.062_499_996f32, -0.03, 1e-3, -1e-20, 0.0] {
            assert_eq!(super::exprel_taylor_tiered(z, true).to_bits(), super::exprel_taylor4(z).to_bits());
            assert_eq!(super::exprel_taylor_tiered(z, false).to_bits(), super::exprel_taylor(z).to_bits());
        }
        assert_eq!(super::exprel(-0.0625), super::exprel_taylor(-0.0625));
    }

    #[test]
    fn recip_is_accurate_and_total() {
        let mut worst = 0;
        let mut x = 2.350_988_7e-38f32;
        while x < 4.2e37 {
            for v in [x, -x, x * 1.37, x * 1.999] {
                if v.abs() <= 4.253_529_6e37 {
                    worst = worst.max(ulps(super::recip(v), 1.0 / v));
                }
            }
            x *= 1.0137;
        }
        assert!(worst <= 2, "recip: {worst} ulp");
        assert_eq!(super::recip(0.0), f32::INFINITY);
        assert_eq!(super::recip(-0.0), f32::NEG_INFINITY);
        assert_eq!(super::recip(f32::INFINITY), 0.0);
        assert_eq!(super::recip(f32::NEG_INFINITY), -0.0);
        assert!(super::recip(f32::NAN).is_nan());
        assert_eq!(super::recip(4.0), 0.25);
    }

    #[test]
    fn exp_and_friends_are_accurate() {
        let mut worst = [0u32; 6];
        let mut x = -100.0f32;
        while x < 100.0 {
            let r = [
                (super::exp(x), (x as f64).exp() as f32),
                (super::expm1(x), (x as f64).exp_m1() as f32),
                (super::tanh(x), (x as f64).tanh() as f32),
                (super::sinh(x), (x as f64).sinh() as f32),
                (super::cosh(x), (x as f64).cosh() as f32),
                // exprel gives inf above 88 (its own overflow is near 93.2)
                if x <= 88.0 {
                    (super::exprel(x), if x == 0.0 { 1.0 } else { ((x as f64).exp_m1() / x as f64) as f32 })
                } else {
                    (f32::INFINITY, f32::INFINITY)
                },
            ];
            for (k, (a, b)) in r.iter().enumerate() {
                if b.is_finite() && b.abs() > 1.8e-38 {
                    worst[k] = worst[k].max(ulps(*a, *b));
                } else if b.is_infinite() {
                    assert_eq!(a, b, "fn {k} at {x}");
                }
            }
            x += 0.000_731;
        }
        assert!(worst[0] <= 2, "exp {worst:?}");
        assert!(worst[1] <= 4, "expm1 {worst:?}");
        assert!(worst[5] <= 4, "exprel {worst:?}");
        assert!(worst.iter().all(|&w| w <= 6), "{worst:?}");
        assert!(super::exp(f32::NAN).is_nan());
        assert_eq!(super::exp(100.0), f32::INFINITY);
        assert_eq!(super::exp(-200.0), 0.0);
        assert_eq!(super::expm1(0.0), 0.0);
        assert_eq!(super::exprel(0.0), 1.0);
        assert_eq!(super::exprel(-1e-30), 1.0);
        // −1/z saturates at 2^-100 for z below −2^100
        assert!((0.0..1e-30).contains(&super::exprel(f32::NEG_INFINITY)));
        assert_eq!(super::exprel(-1e20), 1e-20);
        assert_eq!(super::exprel(88.5), f32::INFINITY);
        assert_eq!(super::exprel(200.0), f32::INFINITY);
        assert!(super::exprel(f32::NAN).is_nan());
        assert!(super::exp(f32::NAN).is_nan() && super::expm1(f32::NAN).is_nan());
        assert_eq!(super::tanh(50.0), 1.0);
        assert_eq!(super::tanh(-50.0), -1.0);
    }
}
