//! The scalar abstraction every model step is written against.
//!
//! A model's per-neuron step is one generic function `fn step<S: Scalar>(..)`. With `S = f32` or
//! `f64` it is the simulation kernel; with `S = Dual<f32, D>` (forward-mode dual numbers) the same
//! code yields the step's local Jacobian for BPTT; nested duals (`Dual<Dual<f32, D>, 1>`) give the
//! exponential-Euler Jacobian `J = ∂f/∂y` *and* its derivative, exactly as JAX differentiates
//! BrainPy's `exp_euler_step`.

use super::dual::Dual;
use super::table::{GateTable, FUNCS};
use crate::surrogate::SurrogateGrad;
use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// Arithmetic, elementary functions and the two non-smooth primitives of spiking models
/// (`spike` and `stop_grad`), for plain floats and dual numbers alike.
pub trait Scalar:
    Copy
    + Send
    + Sync
    + Debug
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
{
    /// The underlying float (`f32` or `f64`).
    type Real: Real;
    /// Whether this scalar holds several lanes (the vector scalar, or dual numbers over it):
    /// generic code must then branch through selects, never on [`Scalar::re`].
    const LANEWISE: bool = false;
    /// A constant (zero tangent).
    fn cst(v: Self::Real) -> Self;
    /// A constant from an `f64` literal (rounded to the real type first).
    #[inline(always)]
    fn lit(v: f64) -> Self {
        Self::cst(Self::Real::from_f64(v))
    }
    /// The primal value.
    fn re(self) -> Self::Real;
    /// e^x.
    fn exp(self) -> Self;
    /// `e^min(x, cap)` (BrainPy's clamped exponentials, e.g. ExpIF's `exp(min(u, 20))`), with
    /// `jnp.minimum`'s tangent convention of [`Scalar::min`]. `cap` must be at most 88. The vector
    /// scalar folds the cap into `exp`'s own range clamp (same bits as `min` then `exp`).
    #[inline(always)]
    fn exp_min(self, cap: f64) -> Self {
        self.min(Self::lit(cap)).exp()
    }
    /// e^x − 1.
    fn expm1(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Hyperbolic cosine.
    fn cosh(self) -> Self;
    /// Hyperbolic sine.
    fn sinh(self) -> Self;
    /// Integer power.
    fn powi(self, n: i32) -> Self;
    /// `1/x`. f32: [`super::fastmath::recip`] (division-free, within 2 ulp; |x| < 2^-125 gives
    /// ±inf); otherwise a division.
    #[inline(always)]
    fn recip(self) -> Self {
        Self::lit(1.0) / self
    }
    /// `self·a + b`: one rounding (a fused multiply-add, as [`f32::mul_add`]) for `f32`, `f64` and
    /// the vector scalar; unfused for dual numbers, whose values only serve BPTT's local Jacobians.
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
    }
    /// `exprel(z) = (e^z − 1)/z`, 1 at 0. f64: saiunit's own evaluation (its 5th-order Taylor
    /// branch for `|z| <= 1e-7`, `expm1(z)/z` otherwise); f32: [`super::fastmath::exprel`], within
    /// 4 ulp of the exact value everywhere.
    fn exprel(self) -> Self;
    /// Derivative of `exprel`, evaluated stably (series near 0).
    fn exprel_deriv(self) -> Self;
    /// Heaviside spike `H(x)` (H(0) = 1) whose derivative is the surrogate gradient `g(x)`.
    fn spike<G: SurrogateGrad + ?Sized>(self, g: &G) -> Self;
    /// The surrogate gradient `g(x)` at the primal value, as a constant (lane by lane on a
    /// vector scalar): the tangent factor of [`Scalar::spike`] on dual numbers.
    #[inline(always)]
    fn surrogate_grad<G: SurrogateGrad + ?Sized>(self, g: &G) -> Self {
        Self::lit(g.grad(self.re().to_f64()))
    }
    /// `jax.lax.stop_gradient`: the value with every tangent removed.
    #[inline(always)]
    fn stop_grad(self) -> Self {
        Self::cst(self.re())
    }
    /// Absolute value (by primal value: `−x` where `x < 0`).
    #[inline(always)]
    fn abs(self) -> Self {
        Self::select_lt(self, Self::lit(0.0), -self, self)
    }
    /// `jnp.minimum(self, o)` by primal value.
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        Self::select_lt(o, self, o, self)
    }
    /// `jnp.maximum(self, o)` by primal value.
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        Self::select_lt(self, o, o, self)
    }
    /// `where(cond, a, b)` for a condition that is the same for every neuron (a flag, a
    /// parameter test). Per-neuron conditions use [`Scalar::select_ge`] / [`Scalar::select_lt`],
    /// which also work lane-wise on vector scalars.
    #[inline(always)]
    fn select(cond: bool, a: Self, b: Self) -> Self {
        if cond {
            a
        } else {
            b
        }
    }
    /// `where(a >= b, t, e)`, comparing primal values (false for NaN).
    #[inline(always)]
    fn select_ge(a: Self, b: Self, t: Self, e: Self) -> Self {
        if a.re() >= b.re() {
            t
        } else {
            e
        }
    }
    /// `where(a < b, t, e)`, comparing primal values (false for NaN).
    #[inline(always)]
    fn select_lt(a: Self, b: Self, t: Self, e: Self) -> Self {
        if a.re() < b.re() {
            t
        } else {
            e
        }
    }
    /// [`Scalar::select_lt`] with the two branches as closures. Scalars evaluate both (so a
    /// neuron loop stays branch-free and vectorises); a vector scalar evaluates only the branches
    /// some lane takes, which pays off when a branch is costly and lanes mostly agree (HH's rate
    /// functions: series near their removable singularity, closed form elsewhere). Closures
    /// passed here from a model's step must be `#[inline(always)]`, as those of [`super::Step::ee`].
    #[inline(always)]
    fn select_lt_with(a: Self, b: Self, t: impl FnOnce() -> Self, e: impl FnOnce() -> Self) -> Self {
        Self::select_lt(a, b, t(), e())
    }
    /// `general()`, or `fast()` where that is known to give the same values: on a vector scalar
    /// when `a < b` in every lane, never on a plain scalar (whose loop stays branch-free). The
    /// caller guarantees that `fast` equals `general` bit for bit wherever `a < b`; `fast` is the
    /// cheaper form that is only valid there (HH's batched reciprocals, valid while a product
    /// stays in range). Closures must be `#[inline(always)]`, as those of
    /// [`Scalar::select_lt_with`].
    #[inline(always)]
    fn fast_when_all_lt<const N: usize>(
        a: Self,
        b: Self,
        fast: impl FnOnce() -> [Self; N],
        general: impl FnOnce() -> [Self; N],
    ) -> [Self; N] {
        let _ = (a, b, fast);
        general()
    }
    /// On the vector scalars, `from_table(f)` (`f` the six functions of `t` at `self`,
    /// [`GateTable::eval_unchecked`]'s operations) on the lanes `t` covers and `exact()` on the
    /// others, each evaluated only if some lane needs it; on every other scalar (plain `f32`,
    /// `f64`, dual numbers for BPTT) `exact()`. A plain scalar loop with table look-ups does not
    /// vectorise (measured twice: HH's scalar kernel 10× and, with one row per interval, 3.6×
    /// slower, even with the table absent, since the loop then holds both branches), while the
    /// vector kernels select coefficients in registers (AVX-512: `vpermt2ps`; AVX2: one row per
    /// lane and a transpose); see [`GateTable`] for the accuracy this trades. Closures must be
    /// `#[inline(always)]`, as those of [`Scalar::select_lt_with`].
    #[inline(always)]
    fn tabulated<const N: usize>(
        self,
        t: &GateTable,
        from_table: impl FnOnce([Self; FUNCS]) -> [Self; N],
        exact: impl FnOnce() -> [Self; N],
    ) -> [Self; N] {
        let _ = (t, from_table);
        exact()
    }
}

/// A plain floating-point type: `f32` (default) or `f64`.
pub trait Real: Scalar<Real = Self> + PartialOrd + Default + std::fmt::Display + Into<f64> {
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Round an `f64`.
    fn from_f64(v: f64) -> Self;
    /// Widen to `f64`.
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self.into()
    }
    /// Is finite.
    fn finite(self) -> bool;
    /// Name for messages ("f32"/"f64").
    const NAME: &'static str;
    /// This type's entries of a model's kernel table.
    #[doc(hidden)]
    fn kernels_of<M: super::NeuronModel>(k: &crate::engine::Kernels<M>) -> &crate::engine::KernelsFor<M, Self>;
}

macro_rules! impl_real {
    ($t:ident, $exp:path, $expm1:path, $exprel:path, $recip:path, $tanh:path, $cosh:path, $sinh:path) => {
        impl Scalar for $t {
            type Real = $t;
            #[inline(always)]
            fn cst(v: $t) -> $t {
                v
            }
            #[inline(always)]
            fn re(self) -> $t {
                self
            }
            #[inline(always)]
            fn exp(self) -> $t {
                $exp(self)
            }
            #[inline(always)]
            fn expm1(self) -> $t {
                $expm1(self)
            }
            #[inline(always)]
            fn ln(self) -> $t {
                $t::ln(self)
            }
            #[inline(always)]
            fn sqrt(self) -> $t {
                $t::sqrt(self)
            }
            #[inline(always)]
            fn tanh(self) -> $t {
                $tanh(self)
            }
            #[inline(always)]
            fn cosh(self) -> $t {
                $cosh(self)
            }
            #[inline(always)]
            fn sinh(self) -> $t {
                $sinh(self)
            }
            #[inline(always)]
            fn powi(self, n: i32) -> $t {
                $t::powi(self, n)
            }
            #[inline(always)]
            fn exprel(self) -> $t {
                $exprel(self)
            }
            #[inline(always)]
            fn mul_add(self, a: $t, b: $t) -> $t {
                $t::mul_add(self, a, b)
            }
            #[inline(always)]
            fn recip(self) -> $t {
                $recip(self)
            }
            #[inline(always)]
            fn exprel_deriv(self) -> $t {
                exprel_deriv_generic(self)
            }
            #[inline(always)]
            fn spike<G: SurrogateGrad + ?Sized>(self, _g: &G) -> $t {
                if self >= 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
        }
        impl Real for $t {
            const ZERO: $t = 0.0;
            const ONE: $t = 1.0;
            const NAME: &'static str = stringify!($t);
            #[inline(always)]
            fn from_f64(v: f64) -> $t {
                v as $t
            }
            #[inline(always)]
            fn finite(self) -> bool {
                self.is_finite()
            }
            #[inline(always)]
            fn kernels_of<M: super::NeuronModel>(k: &crate::engine::Kernels<M>) -> &crate::engine::KernelsFor<M, $t> {
                k.$t()
            }
        }
    };
}

impl_real!(
    f32,
    super::fastmath::exp,
    super::fastmath::expm1,
    super::fastmath::exprel,
    super::fastmath::recip,
    super::fastmath::tanh,
    super::fastmath::cosh,
    super::fastmath::sinh
);
impl_real!(f64, f64::exp, f64::exp_m1, exprel_f64, recip_f64, f64::tanh, f64::cosh, f64::sinh);

#[inline(always)]
fn recip_f64(x: f64) -> f64 {
    1.0 / x
}

/// saiunit's `exprel` in float64: 1 + z/2! + … + z^5/6! by Horner for |z| <= 1e-7, else
/// `expm1(z)/z`.
#[inline(always)]
fn exprel_f64(z: f64) -> f64 {
    if z.abs() <= 1e-7 {
        1.0 + z * (1.0 / 2.0 + z * (1.0 / 6.0 + z * (1.0 / 24.0 + z * (1.0 / 120.0 + z * (1.0 / 720.0)))))
    } else {
        z.exp_m1() / z
    }
}

/// d/dz exprel(z) = (z·e^z − e^z + 1)/z², via its Taylor series Σ (k+1) z^k/(k+2)! for |z| < 0.5
/// (no cancellation), the closed form otherwise. Generic so nested duals differentiate it again.
#[inline(always)]
pub(crate) fn exprel_deriv_generic<S: Scalar>(z: S) -> S {
    if S::LANEWISE {
        // lanes choose their branch by select (the closed form's 0/0 at z = 0 is not selected)
        return S::select_lt_with(
            z.abs(),
            S::lit(0.5),
            #[inline(always)]
            || exprel_deriv_series(z),
            #[inline(always)]
            || (z * z.exp() - z.expm1()) / (z * z),
        );
    }
    let r = z.re().to_f64();
    if r.abs() < 0.5 {
        exprel_deriv_series(z)
    } else {
        let e = z.exp();
        (z * e - z.expm1()) / (z * z)
    }
}

/// The Taylor series of [`exprel_deriv_generic`], for |z| < 0.5.
#[inline(always)]
fn exprel_deriv_series<S: Scalar>(z: S) -> S {
    {
        // coefficients (k+1)/(k+2)! for k = 0..10
        const C: [f64; 11] = [
            1.0 / 2.0,
            2.0 / 6.0,
            3.0 / 24.0,
            4.0 / 120.0,
            5.0 / 720.0,
            6.0 / 5040.0,
            7.0 / 40320.0,
            8.0 / 362880.0,
            9.0 / 3628800.0,
            10.0 / 39916800.0,
            11.0 / 479001600.0,
        ];
        let mut acc = S::lit(C[10]);
        for k in (0..10).rev() {
            acc = acc * z + S::lit(C[k]);
        }
        acc
    }
}

impl<T: Scalar, const D: usize> Scalar for Dual<T, D> {
    type Real = T::Real;
    const LANEWISE: bool = T::LANEWISE;
    #[inline(always)]
    fn surrogate_grad<G: SurrogateGrad + ?Sized>(self, g: &G) -> Self {
        Dual::constant(self.v.surrogate_grad(g))
    }
    #[inline(always)]
    fn cst(v: T::Real) -> Self {
        Dual::constant(T::cst(v))
    }
    #[inline(always)]
    fn re(self) -> T::Real {
        self.v.re()
    }
    #[inline(always)]
    fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e)
    }
    #[inline(always)]
    fn expm1(self) -> Self {
        let e = self.v.exp();
        self.chain(self.v.expm1(), e)
    }
    #[inline(always)]
    fn ln(self) -> Self {
        self.chain(self.v.ln(), T::cst(T::Real::ONE) / self.v)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        let r = self.v.sqrt();
        self.chain(r, T::lit(0.5) / r)
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        let t = self.v.tanh();
        self.chain(t, T::lit(1.0) - t * t)
    }
    #[inline(always)]
    fn cosh(self) -> Self {
        self.chain(self.v.cosh(), self.v.sinh())
    }
    #[inline(always)]
    fn sinh(self) -> Self {
        self.chain(self.v.sinh(), self.v.cosh())
    }
    #[inline(always)]
    fn powi(self, n: i32) -> Self {
        if n == 0 {
            return Self::lit(1.0);
        }
        let p = self.v.powi(n - 1);
        self.chain(p * self.v, T::lit(n as f64) * p)
    }
    #[inline(always)]
    fn exprel(self) -> Self {
        self.chain(self.v.exprel(), self.v.exprel_deriv())
    }
    #[inline(always)]
    fn recip(self) -> Self {
        let r = self.v.recip();
        self.chain(r, -(r * r))
    }
    #[inline(always)]
    fn stop_grad(self) -> Self {
        Dual::constant(self.v.stop_grad())
    }
    // mul_add: the default `self * a + b`, unfused. Dual numbers only recompute a step's
    // local Jacobian in BPTT (the values on the tape come from the forward kernels), and the
    // unfused form keeps the tangent arithmetic vectorised across tangents: a fused one made
    // `lif-bptt` 30–60% slower.
    #[inline(always)]
    fn select_ge(a: Self, b: Self, t: Self, e: Self) -> Self {
        let mut d = e.d;
        for (i, x) in d.iter_mut().enumerate() {
            *x = T::select_ge(a.v, b.v, t.d[i], *x);
        }
        Dual { v: T::select_ge(a.v, b.v, t.v, e.v), d }
    }
    #[inline(always)]
    fn select_lt(a: Self, b: Self, t: Self, e: Self) -> Self {
        let mut d = e.d;
        for (i, x) in d.iter_mut().enumerate() {
            *x = T::select_lt(a.v, b.v, t.d[i], *x);
        }
        Dual { v: T::select_lt(a.v, b.v, t.v, e.v), d }
    }

    #[inline(always)]
    fn exprel_deriv(self) -> Self {
        exprel_deriv_generic(self)
    }
    #[inline(always)]
    fn spike<G: SurrogateGrad + ?Sized>(self, g: &G) -> Self {
        // value H(x) at every nesting depth; first-order tangent g(x)·dx (g treated as a constant
        // in higher orders, which no model needs: spikes never sit inside an EE right-hand side).
        let k = self.v.surrogate_grad(g);
        let mut d = self.d;
        for x in d.iter_mut() {
            *x *= k;
        }
        Dual { v: self.v.spike(g), d }
    }
}
