//! `F32x16`: sixteen `f32` neurons evaluated together, as a [`Scalar`].
//!
//! The engine evaluates a model's one generic step on this type when the CPU has AVX-512, the
//! layer is `f32` with shared parameters and the model declares [`NeuronModel::VECTOR`].
//! Compared with the compiler's own vectorisation of the scalar loop, the vector kernel
//!
//! * skips work that no lane needs: `exprel` is only its Taylor polynomial for a whole register
//!   when every `|z| < ln 2/2`, which is nearly always true of exponential Euler's `dt·J`
//!   between spikes (AdExIF: 1.6× single thread);
//! * keeps the model's constants in registers (one broadcast per run instead of per neuron).
//!
//! The type is a plain `[f32; 16]` with lane-wise loops: inlined into the engine's AVX-512
//! kernel (a `#[target_feature]` function) each loop becomes one vector instruction. Intrinsics
//! are not used because they cannot be inlined through the `Scalar` trait's methods, which
//! carry no target features.
//!
//! Every operation performs **the same IEEE operations in the same order** as the scalar `f32`
//! code of [`super::fastmath`] (fused multiply-adds included), so the vector kernel is bit for
//! bit identical to the scalar one: a layer gives the same numbers on every x86-64 CPU
//! (tests/simd.rs checks all models). Transcendental functions are the scalar `fastmath` code
//! applied lane-wise, which the compiler turns into vector code.
//!
//! [`NeuronModel::VECTOR`]: super::NeuronModel::VECTOR

// Index loops over the lanes: fixed trip counts that the compiler turns into one vector
// instruction each (as in dual.rs).
#![allow(clippy::needless_range_loop)]

use super::fastmath;
use super::scalar::{exprel_deriv_generic, Scalar};
use crate::surrogate::SurrogateGrad;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// Sixteen `f32` lanes.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub struct F32x16(pub [f32; 16]);

impl std::fmt::Debug for F32x16 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0).finish()
    }
}

/// Lane-wise `f(a[i])`.
#[inline(always)]
fn map1(a: F32x16, f: impl Fn(f32) -> f32) -> F32x16 {
    let mut r = [0.0f32; 16];
    for i in 0..16 {
        r[i] = f(a.0[i]);
    }
    F32x16(r)
}

/// Lane-wise `f(a[i], b[i])`.
#[inline(always)]
fn map2(a: F32x16, b: F32x16, f: impl Fn(f32, f32) -> f32) -> F32x16 {
    let mut r = [0.0f32; 16];
    for i in 0..16 {
        r[i] = f(a.0[i], b.0[i]);
    }
    F32x16(r)
}

impl F32x16 {
    /// All lanes `v`.
    #[inline(always)]
    pub fn splat(v: f32) -> Self {
        F32x16([v; 16])
    }
    /// The lanes as an array.
    #[inline(always)]
    pub fn lanes(self) -> [f32; 16] {
        self.0
    }
    /// Load `n <= 16` lanes from `p` (the others 0).
    ///
    /// # Safety
    /// `p..p + n` must be readable.
    #[inline(always)]
    pub unsafe fn load(p: *const f32, n: usize) -> Self {
        let mut r = [0.0f32; 16];
        if n == 16 {
            r = *(p as *const [f32; 16]);
        } else {
            for (i, x) in r.iter_mut().enumerate().take(n) {
                *x = *p.add(i);
            }
        }
        F32x16(r)
    }
    /// Store the first `n <= 16` lanes to `p`.
    ///
    /// # Safety
    /// `p..p + n` must be writable.
    #[inline(always)]
    pub unsafe fn store(self, p: *mut f32, n: usize) {
        if n == 16 {
            *(p as *mut [f32; 16]) = self.0;
        } else {
            for i in 0..n {
                *p.add(i) = self.0[i];
            }
        }
    }
    /// Lanes of `t` where `c(a, b)`, of `e` elsewhere.
    #[inline(always)]
    fn pick(a: Self, b: Self, t: Self, e: Self, c: impl Fn(f32, f32) -> bool) -> Self {
        let mut r = [0.0f32; 16];
        for i in 0..16 {
            r[i] = if c(a.0[i], b.0[i]) { t.0[i] } else { e.0[i] };
        }
        F32x16(r)
    }
}

macro_rules! binop {
    ($tr:ident, $f:ident, $atr:ident, $af:ident, $op:tt) => {
        impl $tr for F32x16 {
            type Output = F32x16;
            #[inline(always)]
            fn $f(self, o: F32x16) -> F32x16 {
                map2(self, o, |a, b| a $op b)
            }
        }
        impl $atr for F32x16 {
            #[inline(always)]
            fn $af(&mut self, o: F32x16) {
                *self = $tr::$f(*self, o);
            }
        }
    };
}
binop!(Add, add, AddAssign, add_assign, +);
binop!(Sub, sub, SubAssign, sub_assign, -);
binop!(Mul, mul, MulAssign, mul_assign, *);

impl Div for F32x16 {
    type Output = F32x16;
    #[inline(always)]
    fn div(self, o: F32x16) -> F32x16 {
        map2(self, o, |a, b| a / b)
    }
}

impl Neg for F32x16 {
    type Output = F32x16;
    #[inline(always)]
    fn neg(self) -> F32x16 {
        map1(self, |a| -a)
    }
}

impl Scalar for F32x16 {
    type Real = f32;
    const LANES: usize = 16;
    #[inline(always)]
    fn cst(v: f32) -> Self {
        F32x16::splat(v)
    }
    /// Not available on a vector: models that declare [`super::NeuronModel::VECTOR`] compare
    /// through the `select_*` methods only.
    fn re(self) -> f32 {
        panic!("Scalar::re() called on a 16-lane vector: a model with VECTOR = true must compare through select_ge/select_lt")
    }
    #[inline(always)]
    fn stop_grad(self) -> Self {
        self
    }
    #[inline(always)]
    fn exp(self) -> Self {
        map1(self, fastmath::exp)
    }
    #[inline(always)]
    fn expm1(self) -> Self {
        map1(self, fastmath::expm1)
    }
    #[inline(always)]
    fn ln(self) -> Self {
        map1(self, f32::ln)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        map1(self, f32::sqrt)
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        map1(self, fastmath::tanh)
    }
    #[inline(always)]
    fn cosh(self) -> Self {
        map1(self, fastmath::cosh)
    }
    #[inline(always)]
    fn sinh(self) -> Self {
        map1(self, fastmath::sinh)
    }
    #[inline(always)]
    fn powi(self, n: i32) -> Self {
        map1(self, |x| x.powi(n))
    }
    /// [`fastmath::exprel`]; only its Taylor polynomial when every lane has |z| < ln2/2.
    #[inline(always)]
    fn exprel(self) -> Self {
        let mut small = true;
        for i in 0..16 {
            small &= self.0[i].abs() < fastmath::EXPREL_SMALL;
        }
        if small {
            map1(self, fastmath::exprel_poly)
        } else {
            map1(self, fastmath::exprel)
        }
    }
    #[inline(always)]
    fn exprel_deriv(self) -> Self {
        map1(self, exprel_deriv_generic::<f32>)
    }
    #[inline(always)]
    fn recip(self) -> Self {
        map1(self, fastmath::recip)
    }
    #[inline(always)]
    fn spike<G: SurrogateGrad + ?Sized>(self, _g: &G) -> Self {
        map1(self, |x| if x >= 0.0 { 1.0 } else { 0.0 })
    }
    #[inline(always)]
    fn select_ge(a: Self, b: Self, t: Self, e: Self) -> Self {
        F32x16::pick(a, b, t, e, |x, y| x >= y)
    }
    #[inline(always)]
    fn select_lt(a: Self, b: Self, t: Self, e: Self) -> Self {
        F32x16::pick(a, b, t, e, |x, y| x < y)
    }
}
