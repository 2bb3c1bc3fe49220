//! `F32x64`: 64 `f32` neurons evaluated together (four AVX-512 registers), as a [`Scalar`].
//!
//! The engine evaluates a model's one generic step on this type when the CPU has AVX-512, the
//! layer is `f32` with shared parameters and the model declares [`NeuronModel::VECTOR`].
//! Compared with the compiler's own vectorisation of the scalar loop, the vector kernel
//!
//! * skips work that no lane needs: `exprel` is only its Taylor polynomial for the whole value
//!   when every `|z| < 1`, which is nearly always true of exponential Euler's `dt·J` between
//!   spikes (and of HH's gates during them), and only its reduced path when no lane is small;
//! * scales by `2^n` with one `vscalefps` instead of exponent-bit arithmetic;
//! * keeps the model's constants in registers (one broadcast per run instead of per neuron).
//!
//! The methods call AVX-512 intrinsics and are all `#[inline(always)]`: they are only ever
//! inlined into the engine's `#[target_feature(enable = "avx512f,...")]` kernel, where each
//! becomes one instruction (a step closure passed to [`super::Step::ee`] must be
//! `#[inline(always)]` too, or its body is compiled without the target features).
//!
//! Every operation performs **the same IEEE operations in the same order** as the scalar `f32`
//! code of [`super::fastmath`] (fused multiply-adds included), so the vector kernel is bit for
//! bit identical to the scalar one: a layer gives the same numbers on every x86-64 CPU
//! (tests/simd.rs checks all models). The one exception is [`Scalar::tabulated`]: only this
//! scalar reads a model's [`super::GateTable`] (HH's gates), which plain scalar loops cannot
//! do fast; a layer built with `gate_tables(false)` keeps identical bits. `exp`, `expm1`,
//! `exprel`, `tanh`, `sinh`, `cosh` and the reciprocal are vector code; functions no built-in
//! model calls per step (`ln`, `powi`, the derivative of `exprel`) are evaluated lane by lane
//! with the scalar code.
//!
//! [`NeuronModel::VECTOR`]: super::NeuronModel::VECTOR

use super::fastmath;
use super::scalar::{exprel_deriv_generic, Scalar};
use super::table::{GateTable, COEFS, FUNCS, INV_WIDTH};
use crate::surrogate::SurrogateGrad;
use std::arch::x86_64::*;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// Registers per value.
const R: usize = 4;
/// Lanes per value: four AVX-512 registers, so that every operation issues four independent
/// instructions (the step's long dependency chains, e.g. exp → exprel → V, would otherwise leave
/// the core waiting on latency). Measured with 1, 2, 3, 4 and 8 registers (BENCHMARKS.md): 4 is
/// the best compromise; 8 helps AdEx further but spills registers in models with more state.
pub const LANES: usize = 16 * R;

/// 64 `f32` lanes in four AVX-512 registers.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct F32x64([__m512; R]);

impl std::fmt::Debug for F32x64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.lanes()).finish()
    }
}

type M = [__mmask16; R];

/// Every lane of `m` set: the registers' masks combined with `kandw` (mask-register operations,
/// not four moves to general registers and their shifts).
#[inline(always)]
fn all(m: M) -> bool {
    let mut a = m[0];
    for &k in &m[1..] {
        a = unsafe { _kand_mask16(a, k) };
    }
    a == u16::MAX
}

/// Lanes of `v` below `c` (ordered compare: NaN is not below).
#[inline(always)]
fn lanes_lt(v: __m512, c: f32) -> __mmask16 {
    unsafe { _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, _mm512_set1_ps(c)) }
}

/// No lane of `m` set (`korw`).
#[inline(always)]
fn none(m: M) -> bool {
    let mut a = m[0];
    for &k in &m[1..] {
        a = unsafe { _kor_mask16(a, k) };
    }
    a == 0
}

#[inline(always)]
fn un(a: F32x64, f: impl Fn(__m512) -> __m512) -> F32x64 {
    F32x64(std::array::from_fn(
        #[inline(always)]
        |i| f(a.0[i]),
    ))
}
#[inline(always)]
fn bin(a: F32x64, b: F32x64, f: impl Fn(__m512, __m512) -> __m512) -> F32x64 {
    F32x64(std::array::from_fn(
        #[inline(always)]
        |i| f(a.0[i], b.0[i]),
    ))
}
#[inline(always)]
fn tri(a: F32x64, b: F32x64, c: F32x64, f: impl Fn(__m512, __m512, __m512) -> __m512) -> F32x64 {
    F32x64(std::array::from_fn(
        #[inline(always)]
        |i| f(a.0[i], b.0[i], c.0[i]),
    ))
}
#[inline(always)]
fn ibin(a: [__m512i; R], f: impl Fn(__m512i) -> __m512i) -> [__m512i; R] {
    std::array::from_fn(
        #[inline(always)]
        |i| f(a[i]),
    )
}

// SAFETY (every `unsafe` block on intrinsics below): values of this type are created only
// inside the engine's AVX-512 kernel, entered after a run-time CPU check, into which these
// `#[inline(always)]` methods are inlined.
impl F32x64 {
    /// All lanes `v`.
    #[inline(always)]
    pub fn splat(v: f32) -> Self {
        let x = unsafe { _mm512_set1_ps(v) };
        F32x64([x; R])
    }
    /// The lanes as an array.
    #[inline(always)]
    pub fn lanes(self) -> [f32; LANES] {
        // SAFETY: same size; every bit pattern is valid.
        unsafe { std::mem::transmute::<[__m512; R], [f32; LANES]>(self.0) }
    }
    /// From an array of lanes.
    #[inline(always)]
    pub fn from_lanes(a: [f32; LANES]) -> Self {
        // SAFETY: same size; every bit pattern is valid.
        F32x64(unsafe { std::mem::transmute::<[f32; LANES], [__m512; R]>(a) })
    }
    /// Load `n <= LANES` lanes from `p` (the others 0).
    ///
    /// # Safety
    /// `p..p + n` must be readable.
    #[inline(always)]
    pub unsafe fn load(p: *const f32, n: usize) -> Self {
        if n == LANES {
            F32x64(std::array::from_fn(
                #[inline(always)]
                |i| _mm512_loadu_ps(p.add(16 * i)),
            ))
        } else {
            let m = (1u128 << n) - 1;
            F32x64(std::array::from_fn(
                #[inline(always)]
                |i| _mm512_maskz_loadu_ps((m >> (16 * i)) as u16, p.add(16 * i)),
            ))
        }
    }
    /// Store the first `n <= LANES` lanes to `p`.
    ///
    /// # Safety
    /// `p..p + n` must be writable.
    #[inline(always)]
    pub unsafe fn store(self, p: *mut f32, n: usize) {
        if n == LANES {
            for i in 0..R {
                _mm512_storeu_ps(p.add(16 * i), self.0[i]);
            }
        } else {
            let m = (1u128 << n) - 1;
            for i in 0..R {
                _mm512_mask_storeu_ps(p.add(16 * i), (m >> (16 * i)) as u16, self.0[i]);
            }
        }
    }
    #[inline(always)]
    fn map(self, f: impl Fn(f32) -> f32) -> Self {
        let mut a = self.lanes();
        for x in a.iter_mut() {
            *x = f(*x);
        }
        F32x64::from_lanes(a)
    }
    #[inline(always)]
    fn bits(self) -> [__m512i; R] {
        std::array::from_fn(
            #[inline(always)]
            |i| unsafe { _mm512_castps_si512(self.0[i]) },
        )
    }
    #[inline(always)]
    fn from_bits(b: [__m512i; R]) -> Self {
        F32x64(std::array::from_fn(
            #[inline(always)]
            |i| unsafe { _mm512_castsi512_ps(b[i]) },
        ))
    }
    /// `f32::mul_add`: `self·a + b`, one rounding.
    #[inline(always)]
    fn fma(self, a: Self, b: Self) -> Self {
        tri(
            self,
            a,
            b,
            #[inline(always)]
            |x, y, z| unsafe { _mm512_fmadd_ps(x, y, z) },
        )
    }
    #[inline(always)]
    fn fmac(self, a: f32, b: f32) -> Self {
        self.fma(F32x64::splat(a), F32x64::splat(b))
    }
    /// `f32::abs` (clears the sign bit).
    #[inline(always)]
    fn fabs(self) -> Self {
        un(
            self,
            #[inline(always)]
            |x| unsafe { _mm512_abs_ps(x) },
        )
    }
    /// The registers folded lane-wise by `vrangeps` with `IMM`: `0b1011` gives the largest
    /// magnitude, `0b1010` the smallest (sign cleared; a NaN propagates).
    #[inline(always)]
    fn abs_fold<const IMM: i32>(self) -> __m512 {
        let mut m = self.0[0];
        for &b in &self.0[1..] {
            m = unsafe { _mm512_range_ps::<IMM>(m, b) };
        }
        // with one register there is nothing to fold; clear the sign as vrangeps would
        unsafe { _mm512_abs_ps(m) }
    }
    /// `f32::clamp(lo, hi)`; NaN stays NaN (`vmaxps`/`vminps` return their second operand when
    /// one is NaN, and equal values keep `self` as Rust's `clamp` does).
    #[inline(always)]
    fn clamp(self, lo: f32, hi: f32) -> Self {
        un(
            self,
            #[inline(always)]
            |x| unsafe { _mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), x)) },
        )
    }
    /// `f32::copysign(self, sign)`.
    #[inline(always)]
    fn copysign(self, sign: Self) -> Self {
        // bitwise select: sign bit from `sign`, the rest from `self`
        bin(
            sign,
            self,
            #[inline(always)]
            |s, x| unsafe {
                _mm512_castsi512_ps(_mm512_ternarylogic_epi32::<0xD8>(
                    _mm512_castps_si512(s),
                    _mm512_castps_si512(x),
                    _mm512_set1_epi32(i32::MAX),
                ))
            },
        )
    }
    #[inline(always)]
    fn lt(self, o: Self) -> M {
        std::array::from_fn(
            #[inline(always)]
            |i| unsafe { _mm512_cmp_ps_mask::<_CMP_LT_OQ>(self.0[i], o.0[i]) },
        )
    }
    /// `!(self < o)`, true where either is NaN: the complement of [`F32x64::lt`] in one
    /// compare. A blend that keeps `self` where `lt` is false and zeroes elsewhere, written with
    /// `lt`, compiles to a compare, a `knotw` and a zero-masked move; with `nlt` the `knotw` goes.
    #[inline(always)]
    fn nlt(self, o: Self) -> M {
        std::array::from_fn(
            #[inline(always)]
            |i| unsafe { _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(self.0[i], o.0[i]) },
        )
    }
    #[inline(always)]
    fn ge(self, o: Self) -> M {
        std::array::from_fn(
            #[inline(always)]
            |i| unsafe { _mm512_cmp_ps_mask::<_CMP_GE_OQ>(self.0[i], o.0[i]) },
        )
    }
    /// Lanes of `t` where `m` is set, of `e` elsewhere.
    #[inline(always)]
    fn blend(m: M, t: Self, e: Self) -> Self {
        F32x64(std::array::from_fn(
            #[inline(always)]
            |i| unsafe { _mm512_mask_blend_ps(m[i], e.0[i], t.0[i]) },
        ))
    }
    /// `fastmath::round_log2`: n as floats, and the integers n.
    #[inline(always)]
    fn round_log2(self) -> (Self, [__m512i; R]) {
        const ROUND: f32 = 12_582_912.0;
        let m = self.fmac(std::f32::consts::LOG2_E, ROUND);
        let n = m - F32x64::splat(ROUND);
        let ni = ibin(
            m.bits(),
            #[inline(always)]
            |b| unsafe { _mm512_sub_epi32(b, _mm512_set1_epi32(ROUND.to_bits() as i32)) },
        );
        (n, ni)
    }
    /// 2^k for integer lanes k in [−126, 127] (exact).
    #[inline(always)]
    fn pow2(k: [__m512i; R]) -> Self {
        F32x64(std::array::from_fn(
            #[inline(always)]
            |i| unsafe { _mm512_scalef_ps(_mm512_set1_ps(1.0), _mm512_cvtepi32_ps(k[i])) },
        ))
    }
    /// Lanes that are NaN.
    #[inline(always)]
    fn nan(self) -> M {
        std::array::from_fn(
            #[inline(always)]
            |i| unsafe { _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(self.0[i], self.0[i]) },
        )
    }
    /// `fastmath::half_exp`.
    #[inline(always)]
    fn half_exp(self) -> Self {
        // the overflow-avoiding branch only when some lane needs it
        F32x64::select_lt_with(
            self,
            F32x64::splat(88.0),
            #[inline(always)]
            || F32x64::splat(0.5) * self.exp(),
            #[inline(always)]
            || (self - F32x64::splat(fastmath::LN2_HI)).exp() * F32x64::splat(1.000_212_2),
        )
    }
    /// `fastmath::reduce`.
    #[inline(always)]
    fn reduce(self, n: Self) -> Self {
        n.fma(F32x64::splat(-fastmath::LN2_LO), n.fma(F32x64::splat(-fastmath::LN2_HI), self))
    }
    /// `fastmath::recip_abs`.
    #[inline(always)]
    fn recip_abs(self) -> Self {
        let one = F32x64::splat(1.0);
        let y = F32x64::from_bits(ibin(
            self.bits(),
            #[inline(always)]
            |b| unsafe { _mm512_sub_epi32(_mm512_set1_epi32(0x7EF3_11C3), b) },
        ));
        let y = y.fma(self.fma(-y, one), y);
        let y = y.fma(self.fma(-y, one), y);
        y.fma(self.fma(-y, one), y)
    }
    /// `fastmath::horner`: `c[0]·x^(n−1) + … + c[n−1]`, same fused operations in the same order.
    #[inline(always)]
    fn horner(self, c: &[f32]) -> Self {
        c[1..].iter().fold(
            F32x64::splat(c[0]),
            #[inline(always)]
            |acc, &ck| acc.fma(self, F32x64::splat(ck)),
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
    fn exprel_wide(self, tiny: M) -> Self {
        let small = self.fabs().lt(F32x64::splat(fastmath::EXPREL_TAYLOR));
        let zc = self.clamp(-87.0, 88.0);
        let (n, _) = zc.round_log2();
        let r = zc.reduce(n);
        let q = r.exprel_poly();
        // 2^n, n in [−126, 127]: exact
        let t = un(
            n,
            #[inline(always)]
            |b| unsafe { _mm512_scalef_ps(_mm512_set1_ps(1.0), b) },
        );
        let num = t.fma(r * q, t - F32x64::splat(1.0));
        let rz = self.fabs().clamp(0.25, 1.267_650_6e30).recip_abs().copysign(self);
        let e = num * rz;
        let e = if none(small) {
            e
        } else if none(tiny) {
            F32x64::blend(small, self.exprel_taylor(), e)
        } else {
            F32x64::blend(small, self.exprel_taylor_tiered(tiny), e)
        };
        F32x64::blend(F32x64::splat(88.0).lt(self), F32x64::splat(f32::INFINITY), e)
    }
    /// The lanes where `fastmath::exprel` takes its degree-4 branch. (A method, not a closure in
    /// `exprel`: a closure does not inherit the kernel's target features, so an outlined one
    /// called every intrinsic out of line.)
    #[inline(always)]
    fn tiny(self) -> M {
        self.fabs().lt(F32x64::splat(fastmath::EXPREL_TAYLOR4))
    }
    /// `fastmath::exprel_taylor4`.
    #[inline(always)]
    fn exprel_taylor4(self) -> Self {
        self.horner(&fastmath::TAYLOR_EXPREL[5..])
    }
    /// `exprel_taylor` on lanes outside `tiny`, `exprel_taylor4` on lanes in it, bit for bit,
    /// in one chain: a `tiny` lane starts at 1/5! and skips the first five steps (merge-masked
    /// fused multiply-adds), after which both chains are the same four steps.
    #[inline(always)]
    fn exprel_taylor_tiered(self, tiny: M) -> Self {
        let c = &fastmath::TAYLOR_EXPREL;
        let wide: M = std::array::from_fn(
            #[inline(always)]
            |i| !tiny[i],
        );
        let mut acc = F32x64::blend(tiny, F32x64::splat(c[5]), F32x64::splat(c[0]));
        for &ck in &c[1..6] {
            acc = F32x64(std::array::from_fn(
                #[inline(always)]
                |i| unsafe { _mm512_mask_fmadd_ps(acc.0[i], wide[i], self.0[i], _mm512_set1_ps(ck)) },
            ));
        }
        for &ck in &c[6..] {
            acc = acc.fma(self, F32x64::splat(ck));
        }
        acc
    }
    /// e^min(x, hi) for `hi` in (EXP_ZERO_BELOW, 89] (see [`Scalar::exp_min`]).
    #[inline(always)]
    fn exp_clamped(self, hi: f32) -> Self {
        let xc = self.clamp(fastmath::EXP_ZERO_BELOW, hi);
        let (n, _) = xc.round_log2();
        let r = xc.reduce(n);
        // fastmath::exp_poly (Estrin)
        let c = |i: usize| F32x64::splat(fastmath::EXP_P[i]);
        let r2 = r * r;
        let p = c(0).fma(r, c(1)).fma(r2, c(2).fma(r, c(3))).fma(r2, c(4).fma(r, c(5)));
        let y = p.fma(r2, r) + F32x64::splat(1.0);
        // y·2^n is exact (or overflows) for n in [−125, 128], as fastmath's y·2^(n−1)·2
        let e = bin(
            y,
            n,
            #[inline(always)]
            |a, b| unsafe { _mm512_scalef_ps(a, b) },
        );
        F32x64::blend(self.nlt(F32x64::splat(fastmath::EXP_ZERO_BELOW)), e, F32x64::splat(0.0))
    }
    /// One function of a [`GateTable`]: Horner on the coefficients `rows[k][idx mod 32]`.
    #[inline(always)]
    fn table_poly(rows: &[[f32; 32]; COEFS], idx: [__m512i; R], u: Self) -> Self {
        let mut acc = F32x64::permute32(&rows[0], idx);
        for row in &rows[1..] {
            acc = acc.fma(u, F32x64::permute32(row, idx));
        }
        acc
    }
    /// `row[idx mod 32]` on every lane (`vpermt2ps` on the row's two registers).
    #[inline(always)]
    fn permute32(row: &[f32; 32], idx: [__m512i; R]) -> Self {
        // SAFETY: `row` is 32 f32, 64-byte aligned (`GateTable` is `align(64)` and every row
        // starts a multiple of 128 bytes from its start)
        let (lo, hi) = unsafe { (_mm512_load_ps(row.as_ptr()), _mm512_load_ps(row.as_ptr().add(16))) };
        F32x64(std::array::from_fn(
            #[inline(always)]
            |i| unsafe { _mm512_permutex2var_ps(lo, idx[i], hi) },
        ))
    }
    /// `GateTable::eval_unchecked` on every lane: `x = v/8`, `u = x − round(x)` in one
    /// `vreduceps`, the slot `round(x) mod 32` from `vcvtps2dq` (ties to even, as the scalar's
    /// rounding), each coefficient from the table's two registers by `vpermt2ps`.
    #[inline(always)]
    fn table_eval(self, t: &GateTable) -> [Self; FUNCS] {
        let x = self * F32x64::splat(INV_WIDTH);
        let u = un(
            x,
            #[inline(always)]
            |a| unsafe { _mm512_reduce_ps::<0>(a) },
        );
        let idx: [__m512i; R] = std::array::from_fn(
            #[inline(always)]
            |i| unsafe { _mm512_cvtps_epi32(x.0[i]) },
        );
        // A loop: `array::from_fn`'s wrapper closure of a body this size is not inlined (and
        // would run without the kernel's target features); the six written out in a row were
        // 50% slower (LLVM hoists all 72 loop-invariant table loads and spills them). The
        // array starts uninitialised: filling it first cost 24 stores per step.
        let mut out = [std::mem::MaybeUninit::<F32x64>::uninit(); FUNCS];
        for (o, rows) in out.iter_mut().zip(&t.coef) {
            o.write(F32x64::table_poly(rows, idx, u));
        }
        // SAFETY: every element was written above. (A transmute, not `out.map(assume_init)`:
        // that closure was outlined in one build, a `memmove` and a call per step, HH 15% slower.)
        unsafe { std::mem::transmute::<[std::mem::MaybeUninit<F32x64>; FUNCS], [F32x64; FUNCS]>(out) }
    }
    /// `fastmath::exprel_poly`.
    #[inline(always)]
    fn exprel_poly(self) -> Self {
        self.horner(&fastmath::TAYLOR_EXPREL[2..])
    }
}

macro_rules! binop {
    ($tr:ident, $f:ident, $atr:ident, $af:ident, $intr:ident) => {
        impl $tr for F32x64 {
            type Output = F32x64;
            #[inline(always)]
            fn $f(self, o: F32x64) -> F32x64 {
                bin(
                    self,
                    o,
                    #[inline(always)]
                    |x, y| unsafe { $intr(x, y) },
                )
            }
        }
        impl $atr for F32x64 {
            #[inline(always)]
            fn $af(&mut self, o: F32x64) {
                *self = $tr::$f(*self, o);
            }
        }
    };
}
binop!(Add, add, AddAssign, add_assign, _mm512_add_ps);
binop!(Sub, sub, SubAssign, sub_assign, _mm512_sub_ps);
binop!(Mul, mul, MulAssign, mul_assign, _mm512_mul_ps);

impl Div for F32x64 {
    type Output = F32x64;
    #[inline(always)]
    fn div(self, o: F32x64) -> F32x64 {
        bin(
            self,
            o,
            #[inline(always)]
            |x, y| unsafe { _mm512_div_ps(x, y) },
        )
    }
}

impl Neg for F32x64 {
    type Output = F32x64;
    #[inline(always)]
    fn neg(self) -> F32x64 {
        F32x64::from_bits(ibin(
            self.bits(),
            #[inline(always)]
            |b| unsafe { _mm512_xor_si512(b, _mm512_set1_epi32(i32::MIN)) },
        ))
    }
}

impl Scalar for F32x64 {
    type Real = f32;
    const LANEWISE: bool = true;
    /// Lane by lane (the same `f64` evaluation, rounded to `f32`, as the scalar).
    #[inline(always)]
    fn surrogate_grad<G: SurrogateGrad + ?Sized>(self, g: &G) -> Self {
        let mut a = self.lanes();
        g.grad_batch(&mut a);
        F32x64::from_lanes(a)
    }
    #[inline(always)]
    fn cst(v: f32) -> Self {
        F32x64::splat(v)
    }
    /// Not available on a vector: models that declare [`super::NeuronModel::VECTOR`] compare
    /// through the `select_*` methods only.
    fn re(self) -> f32 {
        panic!("Scalar::re() called on a 64-lane vector: a model with VECTOR = true must compare through select_ge/select_lt")
    }
    #[inline(always)]
    fn stop_grad(self) -> Self {
        self
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        self.fma(a, b)
    }
    /// [`fastmath::exp`], with `vscalefps` for the exact scaling by `2^n`.
    #[inline(always)]
    fn exp(self) -> Self {
        self.exp_clamped(89.0)
    }
    /// `min(x, cap)` then `exp`, with the cap in `exp`'s own clamp: `max(lo, x)` then
    /// `min(cap, ·)` is `min(x, cap)` clamped to `[lo, 89]` for `lo < cap <= 89`, NaN staying NaN
    /// (`vmaxps`/`vminps` return their second operand), so the bits are those of
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
        let a = ibin(
            ni,
            #[inline(always)]
            |b| unsafe { _mm512_srai_epi32::<1>(b) },
        );
        let b: [__m512i; R] = std::array::from_fn(
            #[inline(always)]
            |i| unsafe { _mm512_sub_epi32(ni[i], a[i]) },
        );
        let (sa, sb) = (F32x64::pow2(a), F32x64::pow2(b));
        let one = F32x64::splat(1.0);
        let t = sa * sb;
        let e = F32x64::blend(F32x64::splat(0.5).lt(n), (one + p) * sa * sb - one, t.fma(p, t - one));
        let e = F32x64::blend(F32x64::splat(88.722_84).lt(self), F32x64::splat(f32::INFINITY), e);
        let e = F32x64::blend(self.lt(F32x64::splat(-18.0)), F32x64::splat(-1.0), e);
        F32x64::blend(self.nan(), self, e)
    }
    #[inline(always)]
    fn ln(self) -> Self {
        self.map(f32::ln)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        un(
            self,
            #[inline(always)]
            |x| unsafe { _mm512_sqrt_ps(x) },
        )
    }
    /// [`fastmath::tanh`].
    #[inline(always)]
    fn tanh(self) -> Self {
        let a = un(
            self.fabs(),
            #[inline(always)]
            |x| unsafe { _mm512_min_ps(x, _mm512_set1_ps(9.0)) },
        );
        let e = (F32x64::splat(2.0) * a).expm1();
        let t = e / (e + F32x64::splat(2.0));
        let t = F32x64::blend(self.lt(F32x64::splat(0.0)), -t, t);
        F32x64::blend(self.nan(), self, t)
    }
    /// [`fastmath::cosh`].
    #[inline(always)]
    fn cosh(self) -> Self {
        let a = self.fabs();
        a.half_exp() + F32x64::splat(0.5) * (-a).exp()
    }
    /// [`fastmath::sinh`].
    #[inline(always)]
    fn sinh(self) -> Self {
        let a = self.fabs();
        let small = F32x64::splat(0.5) * (a.expm1() - (-a).expm1());
        let big = a.half_exp() - F32x64::splat(0.5) * (-a).exp();
        let le: M = std::array::from_fn(
            #[inline(always)]
            |i| unsafe { _mm512_cmp_ps_mask::<_CMP_LE_OQ>(a.0[i], _mm512_set1_ps(0.35)) },
        );
        let s = F32x64::blend(le, small, big);
        F32x64::blend(self.lt(F32x64::splat(0.0)), -s, s)
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
        // only when some lane takes it.
        // The branch tests on the lane-wise largest and smallest magnitudes (`vrangeps` folds of
        // the registers: three instructions, then one compare), so the common cases, all lanes
        // in one Taylor branch, cost no per-register masks. A NaN lane makes `mx` NaN there and
        // goes to the general path, as in `fastmath`.
        let mx = self.abs_fold::<0b1011>();
        if lanes_lt(mx, fastmath::EXPREL_TAYLOR4) == u16::MAX {
            return self.exprel_taylor4();
        }
        if lanes_lt(mx, fastmath::EXPREL_TAYLOR) == u16::MAX {
            if lanes_lt(self.abs_fold::<0b1010>(), fastmath::EXPREL_TAYLOR4) == 0 {
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
        let y = F32x64::blend(a.lt(F32x64::splat(LO)), F32x64::splat(f32::INFINITY), y);
        let y = F32x64::blend(F32x64::splat(HI).nlt(a), y, F32x64::splat(0.0));
        y.copysign(self)
    }
    #[inline(always)]
    fn spike<G: SurrogateGrad + ?Sized>(self, _g: &G) -> Self {
        F32x64::blend(self.ge(F32x64::splat(0.0)), F32x64::splat(1.0), F32x64::splat(0.0))
    }
    #[inline(always)]
    fn select_ge(a: Self, b: Self, t: Self, e: Self) -> Self {
        F32x64::blend(a.ge(b), t, e)
    }
    #[inline(always)]
    fn select_lt(a: Self, b: Self, t: Self, e: Self) -> Self {
        // `e` where !(a < b): a zero `t` then needs no mask complement (see `nlt`)
        F32x64::blend(a.nlt(b), e, t)
    }
    #[inline(always)]
    fn select_lt_with(a: Self, b: Self, t: impl FnOnce() -> Self, e: impl FnOnce() -> Self) -> Self {
        let m = a.lt(b);
        if all(m) {
            t()
        } else if none(m) {
            e()
        } else {
            F32x64::blend(m, t(), e())
        }
    }
    #[inline(always)]
    fn fast_when_all_lt<const N: usize>(
        a: Self,
        b: Self,
        fast: impl FnOnce() -> [Self; N],
        general: impl FnOnce() -> [Self; N],
    ) -> [Self; N] {
        if all(a.lt(b)) {
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
        let (lo, hi) = t.range();
        let m: M = std::array::from_fn(
            #[inline(always)]
            |i| unsafe {
                _kand_mask16(
                    _mm512_cmp_ps_mask::<_CMP_LT_OQ>(_mm512_set1_ps(lo), self.0[i]),
                    _mm512_cmp_ps_mask::<_CMP_LT_OQ>(self.0[i], _mm512_set1_ps(hi)),
                )
            },
        );
        if all(m) {
            from_table(self.table_eval(t))
        } else if none(m) {
            exact()
        } else {
            let (tv, e) = (from_table(self.table_eval(t)), exact());
            std::array::from_fn(
                #[inline(always)]
                |f| F32x64::blend(m, tv[f], e[f]),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{F32x64, LANES};
    use crate::dynamics::{fastmath, Scalar};

    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    unsafe fn vector(x: [f32; LANES]) -> [[f32; LANES]; 9] {
        let v = F32x64::from_lanes(x);
        [v.exp(), v.expm1(), v.exprel(), v.tanh(), v.sinh(), v.cosh(), v.recip(), v.exp_min(20.0), v.exp_min(-3.5)].map(F32x64::lanes)
    }

    /// Every vector function gives the bits of its scalar `fastmath` counterpart, on a sweep of
    /// the float line and on the branch boundaries and special values of each function.
    #[test]
    fn vector_functions_equal_fastmath_bit_for_bit() {
        if !crate::engine::kernel::cpu_avx512() {
            return;
        }
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
        for chunk in xs.chunks(LANES) {
            let mut lanes = [0.5f32; LANES];
            lanes[..chunk.len()].copy_from_slice(chunk);
            // SAFETY: AVX-512 checked above.
            let got = unsafe { vector(lanes) };
            for (f, (g, sf)) in got.iter().zip(scalar.iter()).enumerate() {
                for (l, &z) in lanes.iter().enumerate() {
                    let want = sf(z);
                    assert!(
                        g[l].to_bits() == want.to_bits() || (g[l].is_nan() && want.is_nan()),
                        "function {f} at {z:e}: vector {:e}, scalar {want:e}",
                        g[l]
                    );
                }
            }
        }
    }
}
