//! [`Vf`]: `R` registers of `f32` lanes of an instruction set [`Isa`], as a [`Scalar`].
//!
//! The engine evaluates a model's one generic step on this type when the layer is `f32` with
//! shared parameters and the model declares [`NeuronModel::VECTOR`]. Compared with the
//! compiler's own vectorisation of the scalar loop, the vector kernel
//!
//! * skips work that no lane needs: `exprel` is only its Taylor polynomial for the whole value
//!   when every `|z| < 1`, which is nearly always true of exponential Euler's `dt·J` between
//!   spikes (and of HH's gates during them), and only its reduced path when no lane is small;
//! * evaluates only the branch of a select that some lane takes (HH's rate series);
//! * keeps the model's constants in registers (one broadcast per run instead of per neuron);
//! * reads HH's gate tables by in-register permutes.
//!
//! Everything here is written once; an [`Isa`] supplies the register operations (AVX-512:
//! `vscalefps`, `vrangeps`, `vreduceps`, `vpermt2ps` and mask registers; AVX2: the same values by
//! exponent-bit arithmetic, compares to vector masks and `vpermps` blends). The methods are all
//! `#[inline(always)]`: they are only ever inlined into the engine's
//! `#[target_feature(enable = ...)]` kernels, where each becomes one or a few instructions (a
//! step closure passed to [`super::super::Step::ee`] must be `#[inline(always)]` too, or its body
//! is compiled without the target features).
//!
//! Every operation performs **the same IEEE operations in the same order** as the scalar `f32`
//! code of [`super::super::fastmath`] (fused multiply-adds included), so every back end is bit
//! for bit identical to the scalar kernel (tests/all/simd.rs checks all models on every back end
//! the machine has). The one exception is [`Scalar::tabulated`]: only the vector scalars read
//! a model's [`GateTable`] (HH's gates), which plain scalar loops cannot do fast; both vector
//! back ends read it identically, and a layer built with `gate_tables(false)` keeps identical
//! bits everywhere. Functions no built-in model calls per step (`ln`, `powi`, the derivative of
//! `exprel`) are evaluated lane by lane with the scalar code.
//!
//! [`NeuronModel::VECTOR`]: super::super::NeuronModel::VECTOR

use super::super::fastmath;
use super::super::scalar::{exprel_deriv_generic, Scalar};
use super::super::table::{GateTable, COEFS, FUNCS, INV_WIDTH};
use crate::surrogate::SurrogateGrad;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// The most lanes any vector type has (the size of the buffers that hold a vector's lanes).
pub const MAX_LANES: usize = 64;

/// The register operations of one instruction set, on one register of `W` `f32` lanes.
///
/// Every method, provided ones included, is `#[inline(always)]`: an outlined one would be
/// compiled without the kernel's target features and call each intrinsic out of line.
///
/// # Safety
/// Implementations call intrinsics of their instruction set: every method may only run on a CPU
/// that has it, inlined into a function compiled with its target features. The engine enters
/// such a function only after the run-time check of [`super::Backend::supported`].
/// Compares are IEEE compares with the stated NaN behaviour; `min`/`max` return their second
/// operand when either is NaN (x86's `vminps`/`vmaxps`).
pub unsafe trait Isa: Copy + Send + Sync + 'static {
    /// One register of `f32` lanes.
    type F: Copy + Send + Sync;
    /// One register of `i32` lanes.
    type I: Copy + Send + Sync;
    /// A lane mask for one register.
    type K: Copy + Send + Sync;
    /// Lanes per register.
    const W: usize;
    /// The [`super::Backend`] this is.
    const BACKEND: super::Backend;
    /// Whether [`Scalar::tabulated`] reads gate tables on this instruction set (AVX-512: one
    /// `vpermt2ps` per coefficient; AVX2: one interval's row per lane, [`Isa::table_rows`]).
    const GATE_TABLES: bool;

    /// All lanes `v`.
    fn splat(v: f32) -> Self::F;
    /// All lanes `v`.
    fn splat_i(v: i32) -> Self::I;
    /// Load `n <= W` lanes (the others 0).
    ///
    /// # Safety
    /// `p..p + n` readable.
    unsafe fn load(p: *const f32, n: usize) -> Self::F;
    /// Store the first `n <= W` lanes.
    ///
    /// # Safety
    /// `p..p + n` writable.
    unsafe fn store(p: *mut f32, v: Self::F, n: usize);
    /// Load `n <= W` integer lanes (the others 0).
    ///
    /// # Safety
    /// `p..p + n` readable.
    unsafe fn load_i(p: *const i32, n: usize) -> Self::I;
    /// Store the first `n <= W` integer lanes.
    ///
    /// # Safety
    /// `p..p + n` writable.
    unsafe fn store_i(p: *mut i32, v: Self::I, n: usize);
    /// Float to integer, truncating.
    fn cvtt(a: Self::F) -> Self::I;
    /// `a + b`.
    fn add(a: Self::F, b: Self::F) -> Self::F;
    /// `a − b`.
    fn sub(a: Self::F, b: Self::F) -> Self::F;
    /// `a · b`.
    fn mul(a: Self::F, b: Self::F) -> Self::F;
    /// `a / b`.
    fn div(a: Self::F, b: Self::F) -> Self::F;
    /// `a·b + c`, one rounding.
    fn fma(a: Self::F, b: Self::F, c: Self::F) -> Self::F;
    /// `a·b + c` on the lanes of `k`, `a` elsewhere.
    #[inline(always)]
    fn mask_fma(a: Self::F, k: Self::K, b: Self::F, c: Self::F) -> Self::F {
        Self::blend(k, Self::fma(a, b, c), a)
    }
    /// Lane-wise minimum (`b` where either is NaN).
    fn min(a: Self::F, b: Self::F) -> Self::F;
    /// Lane-wise maximum (`b` where either is NaN).
    fn max(a: Self::F, b: Self::F) -> Self::F;
    /// Square root.
    fn sqrt(a: Self::F) -> Self::F;
    /// Sign bit cleared.
    fn abs(a: Self::F) -> Self::F;
    /// Sign bit flipped.
    fn neg(a: Self::F) -> Self::F;
    /// Magnitude of `x`, sign of `s`.
    fn copysign(x: Self::F, s: Self::F) -> Self::F;
    /// `a < b` (false for NaN).
    fn lt(a: Self::F, b: Self::F) -> Self::K;
    /// `!(a < b)` (true for NaN).
    fn nlt(a: Self::F, b: Self::F) -> Self::K;
    /// `a >= b` (false for NaN).
    fn ge(a: Self::F, b: Self::F) -> Self::K;
    /// `a <= b` (false for NaN).
    fn le(a: Self::F, b: Self::F) -> Self::K;
    /// `a` is NaN.
    fn isnan(a: Self::F) -> Self::K;
    /// Lanes of `t` where `k`, of `e` elsewhere.
    fn blend(k: Self::K, t: Self::F, e: Self::F) -> Self::F;
    /// Both masks.
    fn kand(a: Self::K, b: Self::K) -> Self::K;
    /// Either mask.
    fn kor(a: Self::K, b: Self::K) -> Self::K;
    /// The complement.
    fn knot(a: Self::K) -> Self::K;
    /// Every lane set.
    fn kall(a: Self::K) -> bool;
    /// No lane set.
    fn knone(a: Self::K) -> bool;
    /// The bits of `a`.
    fn to_bits(a: Self::F) -> Self::I;
    /// A float from bits.
    fn from_bits(a: Self::I) -> Self::F;
    /// Integer `a − b` (wrapping).
    fn isub(a: Self::I, b: Self::I) -> Self::I;
    /// Integer `a + b` (wrapping).
    fn iadd(a: Self::I, b: Self::I) -> Self::I;
    /// Arithmetic shift right by one.
    fn sra1(a: Self::I) -> Self::I;
    /// Shift left by 23 (an exponent field from a biased exponent).
    fn shl23(a: Self::I) -> Self::I;
    /// Nearest integer, ties to even (the default rounding mode).
    fn round_to_int(a: Self::F) -> Self::I;
    /// `y·2^n` for float integers `n` in [−125, 128] (`ni` the same as integers) and
    /// `y >= 0.7` or NaN: exact, or overflow to inf, as fastmath's `y·2·2^(n−1)`.
    #[inline(always)]
    fn scale_pow2(y: Self::F, n: Self::F, ni: Self::I) -> Self::F {
        let _ = n;
        let s = Self::from_bits(Self::shl23(Self::iadd(ni, Self::splat_i(126))));
        Self::mul(Self::mul(y, Self::splat(2.0)), s)
    }
    /// `x − round(x)`, ties to even (exact).
    fn reduce_frac(x: Self::F) -> Self::F;
    /// `row[idx mod 32]` on every lane (`row` 64-byte aligned).
    fn permute32(row: &[f32; 32], idx: Self::I) -> Self::F;
    /// Whether [`Isa::table_rows`] looks up gate tables (one interval's row per lane) instead
    /// of [`Isa::permute32`] per coefficient.
    const ROW_LOOKUP: bool = false;
    /// The six functions of `t` on one register: lane `l` evaluates interval `idx[l] mod 32` at
    /// `u[l]` by Horner with fused multiply-adds ([`GateTable::eval_unchecked`]'s operations).
    /// Only called where [`Isa::ROW_LOOKUP`] is true.
    #[inline(always)]
    fn table_rows(t: &GateTable, idx: Self::I, u: Self::F) -> [Self::F; FUNCS] {
        let mut out = [Self::splat(0.0); FUNCS];
        for (o, rows) in out.iter_mut().zip(&t.coef) {
            let mut acc = Self::permute32(&rows[0], idx);
            for row in &rows[1..] {
                acc = Self::fma(acc, u, Self::permute32(row, idx));
            }
            *o = acc;
        }
        out
    }
    /// Every lane of every register has `|x| < c` (false for NaN lanes).
    #[inline(always)]
    fn all_abs_lt(x: &[Self::F], c: f32) -> bool {
        let cc = Self::splat(c);
        let mut m = Self::lt(Self::abs(x[0]), cc);
        for &v in &x[1..] {
            m = Self::kand(m, Self::lt(Self::abs(v), cc));
        }
        Self::kall(m)
    }
    /// No lane of any register has `|x| < c` (NaN lanes count as not below).
    #[inline(always)]
    fn none_abs_lt(x: &[Self::F], c: f32) -> bool {
        let cc = Self::splat(c);
        let mut m = Self::lt(Self::abs(x[0]), cc);
        for &v in &x[1..] {
            m = Self::kor(m, Self::lt(Self::abs(v), cc));
        }
        Self::knone(m)
    }
}

/// A vector of `R` registers of `I`: `R·I::W` neurons evaluated together, as a [`Scalar`].
///
/// Several independent registers per value let every operation issue `R` independent
/// instructions: the step's long dependency chains (exp → exprel → V) would otherwise leave the
/// core waiting on latency. Four is the measured compromise on AVX-512 (BENCHMARKS.md).
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Vf<I: Isa, const R: usize>([I::F; R]);

impl<I: Isa, const R: usize> std::fmt::Debug for Vf<I, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.lanes()[..Self::LANES]).finish()
    }
}

/// What the engine's kernels need of a vector type besides [`Scalar`].
pub(crate) trait VecF32: Scalar<Real = f32> + Copy + AddAssign + Mul<Output = Self> {
    /// Lanes per value.
    const LANES: usize;
    /// All lanes `v`.
    fn splat(v: f32) -> Self;
    /// Load `n <= LANES` lanes (the others 0).
    ///
    /// # Safety
    /// `p..p + n` readable.
    unsafe fn load(p: *const f32, n: usize) -> Self;
    /// Store the first `n <= LANES` lanes.
    ///
    /// # Safety
    /// `p..p + n` writable.
    unsafe fn store(self, p: *mut f32, n: usize);
    /// The lanes, padded with zeros to [`MAX_LANES`].
    fn lanes(self) -> [f32; MAX_LANES];
    /// `c[l] += self[l]` for the first `n` lanes, `self` holding spikes (0 or 1).
    ///
    /// # Safety
    /// `c..c + n` readable and writable.
    unsafe fn add_counts(self, c: *mut u32, n: usize);
}

impl<I: Isa, const R: usize> VecF32 for Vf<I, R> {
    const LANES: usize = R * I::W;
    #[inline(always)]
    fn splat(v: f32) -> Self {
        Vf([I::splat(v); R])
    }
    #[inline(always)]
    unsafe fn load(p: *const f32, n: usize) -> Self {
        unsafe { Vf::load(p, n) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, n: usize) {
        unsafe { Vf::store(self, p, n) }
    }
    #[inline(always)]
    fn lanes(self) -> [f32; MAX_LANES] {
        Vf::lanes(self)
    }
    #[inline(always)]
    unsafe fn add_counts(self, c: *mut u32, n: usize) {
        unsafe {
            for i in 0..R {
                let lo = I::W * i;
                let m = n.saturating_sub(lo).min(I::W);
                let p = c.add(lo) as *mut i32;
                I::store_i(p, I::iadd(I::load_i(p, m), I::cvtt(self.0[i])), m);
            }
        }
    }
}

type Mask<I, const R: usize> = [<I as Isa>::K; R];

#[inline(always)]
fn all<I: Isa, const R: usize>(m: Mask<I, R>) -> bool {
    let mut a = m[0];
    for &k in &m[1..] {
        a = I::kand(a, k);
    }
    I::kall(a)
}

#[inline(always)]
fn none<I: Isa, const R: usize>(m: Mask<I, R>) -> bool {
    let mut a = m[0];
    for &k in &m[1..] {
        a = I::kor(a, k);
    }
    I::knone(a)
}

impl<I: Isa, const R: usize> Vf<I, R> {
    /// Lanes per value.
    pub const LANES: usize = R * I::W;

    #[inline(always)]
    fn un(self, f: impl Fn(I::F) -> I::F) -> Self {
        Vf(std::array::from_fn(
            #[inline(always)]
            |i| f(self.0[i]),
        ))
    }
    #[inline(always)]
    fn bin(self, o: Self, f: impl Fn(I::F, I::F) -> I::F) -> Self {
        Vf(std::array::from_fn(
            #[inline(always)]
            |i| f(self.0[i], o.0[i]),
        ))
    }
    #[inline(always)]
    fn cmp(self, o: Self, f: impl Fn(I::F, I::F) -> I::K) -> Mask<I, R> {
        std::array::from_fn(
            #[inline(always)]
            |i| f(self.0[i], o.0[i]),
        )
    }
    /// All lanes `v`.
    #[inline(always)]
    pub fn splat(v: f32) -> Self {
        Vf([I::splat(v); R])
    }
    /// Load `n <= LANES` lanes from `p` (the others 0).
    ///
    /// # Safety
    /// `p..p + n` must be readable, on a CPU with the instruction set.
    #[inline(always)]
    pub unsafe fn load(p: *const f32, n: usize) -> Self {
        unsafe {
            Vf(std::array::from_fn(
                #[inline(always)]
                |i| {
                    let lo = I::W * i;
                    I::load(p.add(lo), n.saturating_sub(lo).min(I::W))
                },
            ))
        }
    }
    /// Store the first `n <= LANES` lanes to `p`.
    ///
    /// # Safety
    /// `p..p + n` must be writable, on a CPU with the instruction set.
    #[inline(always)]
    pub unsafe fn store(self, p: *mut f32, n: usize) {
        unsafe {
            for i in 0..R {
                let lo = I::W * i;
                I::store(p.add(lo), self.0[i], n.saturating_sub(lo).min(I::W));
            }
        }
    }
    /// The lanes, padded with zeros to [`MAX_LANES`].
    #[inline(always)]
    pub fn lanes(self) -> [f32; MAX_LANES] {
        let mut a = [0.0f32; MAX_LANES];
        // SAFETY: LANES <= MAX_LANES (checked at compile time below).
        unsafe { self.store(a.as_mut_ptr(), Self::LANES) };
        a
    }
    /// From lanes (`a.len() >= LANES`).
    #[inline(always)]
    pub fn from_lanes(a: &[f32]) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::FITS;
        assert!(a.len() >= Self::LANES);
        // SAFETY: length checked.
        unsafe { Self::load(a.as_ptr(), Self::LANES) }
    }
    const FITS: () = assert!(R * I::W <= MAX_LANES);
    #[inline(always)]
    fn map(self, f: impl Fn(f32) -> f32) -> Self {
        let mut a = self.lanes();
        for x in a.iter_mut() {
            *x = f(*x);
        }
        Self::from_lanes(&a)
    }
    #[inline(always)]
    fn bits(self) -> [I::I; R] {
        std::array::from_fn(
            #[inline(always)]
            |i| I::to_bits(self.0[i]),
        )
    }
    #[inline(always)]
    fn from_bits(b: [I::I; R]) -> Self {
        Vf(std::array::from_fn(
            #[inline(always)]
            |i| I::from_bits(b[i]),
        ))
    }
    /// `f32::mul_add`: `self·a + b`, one rounding.
    #[inline(always)]
    fn fma(self, a: Self, b: Self) -> Self {
        Vf(std::array::from_fn(
            #[inline(always)]
            |i| I::fma(self.0[i], a.0[i], b.0[i]),
        ))
    }
    #[inline(always)]
    fn fmac(self, a: f32, b: f32) -> Self {
        self.fma(Self::splat(a), Self::splat(b))
    }
    #[inline(always)]
    fn fabs(self) -> Self {
        self.un(
            #[inline(always)]
            |x| I::abs(x),
        )
    }
    /// `f32::clamp(lo, hi)`; NaN stays NaN (`max`/`min` return their second operand when one is
    /// NaN, and equal values keep `self` as Rust's `clamp` does).
    #[inline(always)]
    fn clamp(self, lo: f32, hi: f32) -> Self {
        self.un(
            #[inline(always)]
            |x| I::min(I::splat(hi), I::max(I::splat(lo), x)),
        )
    }
    #[inline(always)]
    fn copysign(self, sign: Self) -> Self {
        self.bin(
            sign,
            #[inline(always)]
            |x, s| I::copysign(x, s),
        )
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Mask<I, R> {
        self.cmp(
            o,
            #[inline(always)]
            |a, b| I::lt(a, b),
        )
    }
    /// `!(self < o)`, true where either is NaN: the complement of `lt` in one compare (on
    /// AVX-512 a blend written with `lt` would need a `knotw`).
    #[inline(always)]
    fn nlt(self, o: Self) -> Mask<I, R> {
        self.cmp(
            o,
            #[inline(always)]
            |a, b| I::nlt(a, b),
        )
    }
    #[inline(always)]
    fn ge(self, o: Self) -> Mask<I, R> {
        self.cmp(
            o,
            #[inline(always)]
            |a, b| I::ge(a, b),
        )
    }
    /// Lanes of `t` where `m` is set, of `e` elsewhere.
    #[inline(always)]
    fn blend(m: Mask<I, R>, t: Self, e: Self) -> Self {
        Vf(std::array::from_fn(
            #[inline(always)]
            |i| I::blend(m[i], t.0[i], e.0[i]),
        ))
    }
    /// `fastmath::round_log2`: n as floats, and the integers n.
    #[inline(always)]
    fn round_log2(self) -> (Self, [I::I; R]) {
        const ROUND: f32 = 12_582_912.0;
        let m = self.fmac(std::f32::consts::LOG2_E, ROUND);
        let n = m - Self::splat(ROUND);
        let mb = m.bits();
        let ni = std::array::from_fn(
            #[inline(always)]
            |i| I::isub(mb[i], I::splat_i(ROUND.to_bits() as i32)),
        );
        (n, ni)
    }
    /// 2^k for integer lanes k in [−126, 127] (exact).
    #[inline(always)]
    fn pow2(k: [I::I; R]) -> Self {
        Vf(std::array::from_fn(
            #[inline(always)]
            |i| I::from_bits(I::shl23(I::iadd(k[i], I::splat_i(127)))),
        ))
    }
    /// `fastmath::half_exp`.
    #[inline(always)]
    fn half_exp(self) -> Self {
        // the overflow-avoiding branch only when some lane needs it
        Self::select_lt_with(
            self,
            Self::splat(88.0),
            #[inline(always)]
            || Self::splat(0.5) * self.exp(),
            #[inline(always)]
            || (self - Self::splat(fastmath::LN2_HI)).exp() * Self::splat(1.000_212_2),
        )
    }
    /// `fastmath::reduce`.
    #[inline(always)]
    fn reduce(self, n: Self) -> Self {
        n.fma(Self::splat(-fastmath::LN2_LO), n.fma(Self::splat(-fastmath::LN2_HI), self))
    }
    /// `fastmath::recip_abs`.
    #[inline(always)]
    fn recip_abs(self) -> Self {
        let one = Self::splat(1.0);
        let b = self.bits();
        let y = Self::from_bits(std::array::from_fn(
            #[inline(always)]
            |i| I::isub(I::splat_i(0x7EF3_11C3), b[i]),
        ));
        let y = y.fma(self.fma(-y, one), y);
        let y = y.fma(self.fma(-y, one), y);
        y.fma(self.fma(-y, one), y)
    }
    /// `fastmath::horner`: `c[0]·x^(n−1) + … + c[n−1]`, same fused operations in the same order.
    #[inline(always)]
    fn horner(self, c: &[f32]) -> Self {
        c[1..].iter().fold(
            Self::splat(c[0]),
            #[inline(always)]
            |acc, &ck| acc.fma(self, Self::splat(ck)),
        )
    }
    /// `fastmath::exprel_taylor`.
    #[inline(always)]
    fn exprel_taylor(self) -> Self {
        self.horner(&fastmath::TAYLOR_EXPREL)
    }
    /// `fastmath::exprel` when some lane has |z| >= 1 (or is NaN): the Taylor branches
    /// (degree 4 on the lanes in `tiny`, 9 on the others) where |z| < 1, the range-reduced one
    /// elsewhere.
    #[inline(always)]
    fn exprel_wide(self, tiny: Mask<I, R>) -> Self {
        let small = self.fabs().lt(Self::splat(fastmath::EXPREL_TAYLOR));
        let zc = self.clamp(-87.0, 88.0);
        let (n, ni) = zc.round_log2();
        let r = zc.reduce(n);
        let q = r.exprel_poly();
        // 2^n, n in [−126, 127]: exact
        let t = Self::pow2(ni);
        let num = t.fma(r * q, t - Self::splat(1.0));
        let rz = self.fabs().clamp(0.25, 1.267_650_6e30).recip_abs().copysign(self);
        let e = num * rz;
        let e = if none::<I, R>(small) {
            e
        } else if none::<I, R>(tiny) {
            Self::blend(small, self.exprel_taylor(), e)
        } else {
            Self::blend(small, self.exprel_taylor_tiered(tiny), e)
        };
        Self::blend(Self::splat(88.0).lt(self), Self::splat(f32::INFINITY), e)
    }
    /// The lanes where `fastmath::exprel` takes its degree-4 branch. (A method, not a closure in
    /// `exprel`: a closure does not inherit the kernel's target features, so an outlined one
    /// called every intrinsic out of line.)
    #[inline(always)]
    fn tiny(self) -> Mask<I, R> {
        self.fabs().lt(Self::splat(fastmath::EXPREL_TAYLOR4))
    }
    /// `fastmath::exprel_taylor4`.
    #[inline(always)]
    fn exprel_taylor4(self) -> Self {
        self.horner(&fastmath::TAYLOR_EXPREL[5..])
    }
    /// `exprel_taylor` on lanes outside `tiny`, `exprel_taylor4` on lanes in it, bit for bit,
    /// in one chain: a `tiny` lane starts at 1/5! and skips the first five steps (masked fused
    /// multiply-adds), after which both chains are the same four steps.
    #[inline(always)]
    fn exprel_taylor_tiered(self, tiny: Mask<I, R>) -> Self {
        let c = &fastmath::TAYLOR_EXPREL;
        let wide: Mask<I, R> = std::array::from_fn(
            #[inline(always)]
            |i| I::knot(tiny[i]),
        );
        let mut acc = Self::blend(tiny, Self::splat(c[5]), Self::splat(c[0]));
        for &ck in &c[1..6] {
            acc = Vf(std::array::from_fn(
                #[inline(always)]
                |i| I::mask_fma(acc.0[i], wide[i], self.0[i], I::splat(ck)),
            ));
        }
        for &ck in &c[6..] {
            acc = acc.fma(self, Self::splat(ck));
        }
        acc
    }
    /// e^min(x, hi) for `hi` in (EXP_ZERO_BELOW, 89] (see [`Scalar::exp_min`]).
    #[inline(always)]
    fn exp_clamped(self, hi: f32) -> Self {
        let xc = self.clamp(fastmath::EXP_ZERO_BELOW, hi);
        let (n, ni) = xc.round_log2();
        let r = xc.reduce(n);
        // fastmath::exp_poly (Estrin)
        let c = |i: usize| Self::splat(fastmath::EXP_P[i]);
        let r2 = r * r;
        let p = c(0).fma(r, c(1)).fma(r2, c(2).fma(r, c(3))).fma(r2, c(4).fma(r, c(5)));
        let y = p.fma(r2, r) + Self::splat(1.0);
        // y·2^n is exact (or overflows) for n in [−125, 128], as fastmath's y·2^(n−1)·2
        let e = Vf(std::array::from_fn(
            #[inline(always)]
            |i| I::scale_pow2(y.0[i], n.0[i], ni[i]),
        ));
        Self::blend(self.nlt(Self::splat(fastmath::EXP_ZERO_BELOW)), e, Self::splat(0.0))
    }
    /// One function of a [`GateTable`]: Horner on the coefficients `rows[k][idx mod 32]`.
    #[inline(always)]
    fn table_poly(rows: &[[f32; 32]; COEFS], idx: [I::I; R], u: Self) -> Self {
        let mut acc = Self::permute32(&rows[0], idx);
        for row in &rows[1..] {
            acc = acc.fma(u, Self::permute32(row, idx));
        }
        acc
    }
    #[inline(always)]
    fn permute32(row: &[f32; 32], idx: [I::I; R]) -> Self {
        // A loop, not `array::from_fn`: its adapter is not `#[inline(always)]`, and with the
        // AVX2 permute's body it was outlined and ran without the target features (every
        // intrinsic a call: AVX2 HH 150× slower).
        let mut v = [I::splat(0.0); R];
        for (x, &i) in v.iter_mut().zip(&idx) {
            *x = I::permute32(row, i);
        }
        Vf(v)
    }
    /// `GateTable::eval_unchecked` on every lane: `x = v/8`, `u = x − round(x)` (exact), the slot
    /// `round(x) mod 32` (ties to even, as the scalar's rounding), each coefficient from the
    /// table's row by an in-register permute.
    #[inline(always)]
    fn table_eval(self, t: &GateTable) -> [Self; FUNCS] {
        let x = self * Self::splat(INV_WIDTH);
        let u = x.un(
            #[inline(always)]
            |a| I::reduce_frac(a),
        );
        let idx: [I::I; R] = std::array::from_fn(
            #[inline(always)]
            |i| I::round_to_int(x.0[i]),
        );
        if I::ROW_LOOKUP {
            // uninitialised, as below: zero-filling the output cost a store per register
            let mut out = std::mem::MaybeUninit::<[Self; FUNCS]>::uninit();
            let p = out.as_mut_ptr() as *mut I::F;
            #[inline(always)]
            fn put<F: Copy>(p: *mut F, r: usize, regs: usize, f: [F; FUNCS]) {
                for (k, v) in f.into_iter().enumerate() {
                    // SAFETY: `[Vf; FUNCS]` is `FUNCS·regs` registers (`Vf` is transparent)
                    unsafe { p.add(k * regs + r).write(v) };
                }
            }
            // written out for up to four registers (a loop over them was not unrolled: its
            // outputs went through the stack; HH 13–17% slower)
            assert!(R <= 4, "row look-ups are written out for at most four registers");
            put(p, 0, R, I::table_rows(t, idx[0], u.0[0]));
            if R > 1 {
                put(p, 1, R, I::table_rows(t, idx[1 % R], u.0[1 % R]));
            }
            if R > 2 {
                put(p, 2, R, I::table_rows(t, idx[2 % R], u.0[2 % R]));
            }
            if R > 3 {
                put(p, 3, R, I::table_rows(t, idx[3 % R], u.0[3 % R]));
            }
            // SAFETY: every register was written above
            return unsafe { out.assume_init() };
        }
        // A loop: `array::from_fn`'s wrapper closure of a body this size is not inlined (and
        // would run without the kernel's target features); the six written out in a row were
        // 50% slower (LLVM hoists all 72 loop-invariant table loads and spills them). The
        // array starts uninitialised: filling it first cost 24 stores per step.
        let mut out = [std::mem::MaybeUninit::<Self>::uninit(); FUNCS];
        for (o, rows) in out.iter_mut().zip(&t.coef) {
            o.write(Self::table_poly(rows, idx, u));
        }
        // SAFETY: every element was written above. (A pointer read, not `out.map(assume_init)`:
        // that closure was outlined in one build, a `memmove` and a call per step, HH 15% slower.)
        unsafe { std::ptr::read(out.as_ptr() as *const [Self; FUNCS]) }
    }
    /// `fastmath::exprel_poly`.
    #[inline(always)]
    fn exprel_poly(self) -> Self {
        self.horner(&fastmath::TAYLOR_EXPREL[2..])
    }
}

macro_rules! binop {
    ($tr:ident, $f:ident, $atr:ident, $af:ident) => {
        impl<I: Isa, const R: usize> $tr for Vf<I, R> {
            type Output = Self;
            #[inline(always)]
            fn $f(self, o: Self) -> Self {
                self.bin(
                    o,
                    #[inline(always)]
                    |x, y| I::$f(x, y),
                )
            }
        }
        impl<I: Isa, const R: usize> $atr for Vf<I, R> {
            #[inline(always)]
            fn $af(&mut self, o: Self) {
                *self = $tr::$f(*self, o);
            }
        }
    };
}
binop!(Add, add, AddAssign, add_assign);
binop!(Sub, sub, SubAssign, sub_assign);
binop!(Mul, mul, MulAssign, mul_assign);

impl<I: Isa, const R: usize> Div for Vf<I, R> {
    type Output = Self;
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        self.bin(
            o,
            #[inline(always)]
            |x, y| I::div(x, y),
        )
    }
}

impl<I: Isa, const R: usize> Neg for Vf<I, R> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        self.un(
            #[inline(always)]
            |x| I::neg(x),
        )
    }
}

impl<I: Isa, const R: usize> Scalar for Vf<I, R> {
    type Real = f32;
    const LANEWISE: bool = true;
    /// Lane by lane (the same `f64` evaluation, rounded to `f32`, as the scalar).
    #[inline(always)]
    fn surrogate_grad<G: SurrogateGrad + ?Sized>(self, g: &G) -> Self {
        let mut a = self.lanes();
        g.grad_batch(&mut a[..Self::LANES]);
        Self::from_lanes(&a)
    }
    #[inline(always)]
    fn cst(v: f32) -> Self {
        Self::splat(v)
    }
    /// Not available on a vector: models that declare [`super::super::NeuronModel::VECTOR`]
    /// compare through the `select_*` methods only.
    fn re(self) -> f32 {
        panic!("Scalar::re() called on a vector: a model with VECTOR = true must compare through select_ge/select_lt")
    }
    #[inline(always)]
    fn stop_grad(self) -> Self {
        self
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        self.fma(a, b)
    }
    /// [`fastmath::exp`].
    #[inline(always)]
    fn exp(self) -> Self {
        self.exp_clamped(89.0)
    }
    /// `min(x, cap)` then `exp`, with the cap in `exp`'s own clamp: `max(lo, x)` then
    /// `min(cap, ·)` is `min(x, cap)` clamped to `[lo, 89]` for `lo < cap <= 89`, NaN staying NaN
    /// (`max`/`min` return their second operand), so the bits are those of
    /// `self.min(cap).exp()`; one instruction fewer.
    #[inline(always)]
    fn exp_min(self, cap: f64) -> Self {
        debug_assert!(cap <= 88.0);
        self.exp_clamped(cap as f32)
    }
    /// [`fastmath::expm1`].
    #[inline(always)]
    fn expm1(self) -> Self {
        let xc = self.clamp(-18.0, 88.722_8);
        let (n, ni) = xc.round_log2();
        let r = xc.reduce(n);
        let q = r.horner(&fastmath::TAYLOR_EXPREL[2..9]);
        let p = (q * r).fma(r, r);
        let a: [I::I; R] = std::array::from_fn(
            #[inline(always)]
            |i| I::sra1(ni[i]),
        );
        let b: [I::I; R] = std::array::from_fn(
            #[inline(always)]
            |i| I::isub(ni[i], a[i]),
        );
        let (sa, sb) = (Self::pow2(a), Self::pow2(b));
        let one = Self::splat(1.0);
        let t = sa * sb;
        let e = Self::blend(Self::splat(0.5).lt(n), (one + p) * sa * sb - one, t.fma(p, t - one));
        let e = Self::blend(Self::splat(88.722_84).lt(self), Self::splat(f32::INFINITY), e);
        let e = Self::blend(self.lt(Self::splat(-18.0)), Self::splat(-1.0), e);
        let nan = self.cmp(
            self,
            #[inline(always)]
            |a, _| I::isnan(a),
        );
        Self::blend(nan, self, e)
    }
    #[inline(always)]
    fn ln(self) -> Self {
        self.map(f32::ln)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        self.un(
            #[inline(always)]
            |x| I::sqrt(x),
        )
    }
    /// [`fastmath::tanh`].
    #[inline(always)]
    fn tanh(self) -> Self {
        let a = self.fabs().un(
            #[inline(always)]
            |x| I::min(x, I::splat(9.0)),
        );
        let e = (Self::splat(2.0) * a).expm1();
        let t = e / (e + Self::splat(2.0));
        let t = Self::blend(self.lt(Self::splat(0.0)), -t, t);
        let nan = self.cmp(
            self,
            #[inline(always)]
            |a, _| I::isnan(a),
        );
        Self::blend(nan, self, t)
    }
    /// [`fastmath::cosh`].
    #[inline(always)]
    fn cosh(self) -> Self {
        let a = self.fabs();
        a.half_exp() + Self::splat(0.5) * (-a).exp()
    }
    /// [`fastmath::sinh`].
    #[inline(always)]
    fn sinh(self) -> Self {
        let a = self.fabs();
        let small = Self::splat(0.5) * (a.expm1() - (-a).expm1());
        let big = a.half_exp() - Self::splat(0.5) * (-a).exp();
        let le = a.cmp(
            Self::splat(0.35),
            #[inline(always)]
            |x, c| I::le(x, c),
        );
        let s = Self::blend(le, small, big);
        Self::blend(self.lt(Self::splat(0.0)), -s, s)
    }
    #[inline(always)]
    fn powi(self, n: i32) -> Self {
        self.map(|x| x.powi(n))
    }
    /// [`fastmath::exprel`]; only its Taylor polynomial when every lane has |z| < 1, only the
    /// reduced path when none has.
    #[inline(always)]
    fn exprel(self) -> Self {
        // Each lane takes the branch `fastmath::exprel` selects for it; a branch is evaluated
        // only when some lane takes it. The tests read all registers at once (AVX-512: `vrangeps`
        // folds, then one compare), so the common cases, all lanes in one Taylor branch, build no
        // per-register masks. A NaN lane is below nothing and goes to the general path, as in
        // `fastmath`.
        if I::all_abs_lt(&self.0, fastmath::EXPREL_TAYLOR4) {
            return self.exprel_taylor4();
        }
        if I::all_abs_lt(&self.0, fastmath::EXPREL_TAYLOR) {
            if I::none_abs_lt(&self.0, fastmath::EXPREL_TAYLOR4) {
                return self.exprel_taylor();
            }
            return self.exprel_taylor_tiered(self.tiny());
        }
        self.exprel_wide(self.tiny())
    }
    #[inline(always)]
    fn exprel_deriv(self) -> Self {
        self.map(exprel_deriv_generic::<f32>)
    }
    /// [`fastmath::recip`].
    #[inline(always)]
    fn recip(self) -> Self {
        const LO: f32 = 2.350_988_7e-38;
        const HI: f32 = 4.253_529_6e37;
        let a = self.fabs();
        let y = a.clamp(LO, HI).recip_abs();
        let y = Self::blend(a.lt(Self::splat(LO)), Self::splat(f32::INFINITY), y);
        let y = Self::blend(Self::splat(HI).nlt(a), y, Self::splat(0.0));
        y.copysign(self)
    }
    #[inline(always)]
    fn spike<G: SurrogateGrad + ?Sized>(self, _g: &G) -> Self {
        Self::blend(self.ge(Self::splat(0.0)), Self::splat(1.0), Self::splat(0.0))
    }
    #[inline(always)]
    fn select_ge(a: Self, b: Self, t: Self, e: Self) -> Self {
        Self::blend(a.ge(b), t, e)
    }
    #[inline(always)]
    fn select_lt(a: Self, b: Self, t: Self, e: Self) -> Self {
        // `e` where !(a < b): a zero `t` then needs no mask complement (see `nlt`)
        Self::blend(a.nlt(b), e, t)
    }
    #[inline(always)]
    fn select_lt_with(a: Self, b: Self, t: impl FnOnce() -> Self, e: impl FnOnce() -> Self) -> Self {
        let m = a.lt(b);
        if all::<I, R>(m) {
            t()
        } else if none::<I, R>(m) {
            e()
        } else {
            Self::blend(m, t(), e())
        }
    }
    #[inline(always)]
    fn fast_when_all_lt<const N: usize>(
        a: Self,
        b: Self,
        fast: impl FnOnce() -> [Self; N],
        general: impl FnOnce() -> [Self; N],
    ) -> [Self; N] {
        if all::<I, R>(a.lt(b)) {
            fast()
        } else {
            general()
        }
    }
    #[inline(always)]
    fn tabulated<const N: usize>(
        self,
        t: &GateTable,
        from_table: impl FnOnce([Self; FUNCS]) -> [Self; N],
        exact: impl FnOnce() -> [Self; N],
    ) -> [Self; N] {
        if !I::GATE_TABLES {
            let _ = (t, from_table);
            return exact();
        }
        let (lo, hi) = t.range();
        let (lo, hi) = (I::splat(lo), I::splat(hi));
        let m: Mask<I, R> = std::array::from_fn(
            #[inline(always)]
            |i| I::kand(I::lt(lo, self.0[i]), I::lt(self.0[i], hi)),
        );
        if all::<I, R>(m) {
            from_table(self.table_eval(t))
        } else if none::<I, R>(m) {
            exact()
        } else {
            let (tv, e) = (from_table(self.table_eval(t)), exact());
            std::array::from_fn(
                #[inline(always)]
                |f| Self::blend(m, tv[f], e[f]),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{with_vector, Backend, VecFn};
    use super::{VecF32, MAX_LANES};
    use crate::dynamics::{fastmath, Scalar};

    struct Funcs<'a>(&'a [f32]);
    impl VecFn for Funcs<'_> {
        type Out = [[f32; MAX_LANES]; 9];
        #[inline(always)]
        fn call<V: VecF32>(self) -> Self::Out {
            // SAFETY: the callers pass MAX_LANES values
            let v = unsafe { V::load(self.0.as_ptr(), V::LANES) };
            [v.exp(), v.expm1(), v.exprel(), v.tanh(), v.sinh(), v.cosh(), v.recip(), v.exp_min(20.0), v.exp_min(-3.5)].map(V::lanes)
        }
    }
    /// Every vector function, on every vector back end this CPU has, gives the bits of its
    /// scalar `fastmath` counterpart, on a sweep of the float line and on the branch boundaries
    /// and special values of each function.
    #[test]
    fn vector_functions_equal_fastmath_bit_for_bit() {
        // `exp_min` against the generic `min` then `exp` of the f32 scalar
        let scalar: [fn(f32) -> f32; 9] = [
            fastmath::exp,
            fastmath::expm1,
            fastmath::exprel,
            fastmath::tanh,
            fastmath::sinh,
            fastmath::cosh,
            fastmath::recip,
            |x| <f32 as Scalar>::exp(<f32 as Scalar>::min(x, 20.0)),
            |x| <f32 as Scalar>::exp(<f32 as Scalar>::min(x, -3.5)),
        ];
        let mut xs: Vec<f32> = vec![
            0.0,
            -0.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            1e-40,
            -1e-40,
            0.35,
            -0.35,
            9.0,
            -9.0,
            88.0,
            88.722_84,
            88.722_8,
            89.0,
            -18.0,
            -18.000_002,
            -86.98,
            -87.0,
            1.0,
            -1.0,
            0.3465,
            0.0625,
            -0.0625,
            0.062_499_996,
            -0.062_499_996,
            1e30,
            -1e30,
        ];
        let mut x = -120.0f32;
        while x < 120.0 {
            xs.push(x);
            x += 0.013_7;
        }
        // fine enough that whole vectors fall in one branch of exprel (|z| < 1/16, < 1)
        let mut x = -1.2f32;
        while x < 1.2 {
            xs.push(x);
            x += 1e-4;
        }
        for bits in (0..0x7F80_0000u32).step_by(0x1_0001) {
            xs.push(f32::from_bits(bits));
            xs.push(-f32::from_bits(bits));
        }
        let mut checked = Vec::new();
        for b in [Backend::Avx2, Backend::Avx512] {
            if !b.supported() {
                eprintln!("{b}: not supported by this CPU, not checked");
                continue;
            }
            let w = b.lanes();
            for chunk in xs.chunks(w) {
                let mut lanes = [0.5f32; MAX_LANES];
                lanes[..chunk.len()].copy_from_slice(chunk);
                let got = with_vector(b, Funcs(&lanes)).unwrap();
                for (f, (g, sf)) in got.iter().zip(scalar.iter()).enumerate() {
                    for (l, &z) in lanes[..w].iter().enumerate() {
                        let want = sf(z);
                        assert!(
                            g[l].to_bits() == want.to_bits() || (g[l].is_nan() && want.is_nan()),
                            "{b}: function {f} at {z:e}: vector {:e}, scalar {want:e}",
                            g[l]
                        );
                    }
                }
            }
            checked.push(b);
        }
        eprintln!("vector functions checked on: {checked:?}");
    }
}
