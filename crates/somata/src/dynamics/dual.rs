//! Forward-mode dual numbers with a fixed-size tangent array.
//!
//! `Dual<T, D>` carries a value and `D` partial derivatives. One evaluation of a model step with
//! `D` seeded directions yields the step's whole local Jacobian (state, input and parameters), which
//! is what the BPTT engine needs; `T` may itself be a dual (nesting), which is how exponential
//! Euler's `J = ∂f/∂y` is differentiated.
//!
//! ```
//! use somata::dynamics::{Dual, Scalar};
//! let x = Dual::<f64, 1>::var(2.0, 0);
//! let y = x * x + x.exp();
//! assert!((y.d[0] - (4.0 + 2f64.exp())).abs() < 1e-12);
//! ```

// Index loops over the fixed-size tangent arrays compile to straight-line SIMD code; the
// iterator forms measured up to 40% slower in the BPTT kernel.
#![allow(clippy::needless_range_loop)]

use super::scalar::Scalar;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// A value `v` with tangents `d` (∂v/∂seed_i).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dual<T, const D: usize> {
    /// Primal value.
    pub v: T,
    /// Partial derivatives.
    pub d: [T; D],
}

impl<T: Scalar, const D: usize> Dual<T, D> {
    /// A constant: zero tangents.
    #[inline(always)]
    pub fn constant(v: T) -> Self {
        Dual { v, d: [T::lit(0.0); D] }
    }
    /// An independent variable: tangent 1 in direction `i`.
    #[inline(always)]
    pub fn var(v: T, i: usize) -> Self {
        let mut d = [T::lit(0.0); D];
        d[i] = T::lit(1.0);
        Dual { v, d }
    }
    /// f(self) with value `f` and derivative `df` (chain rule).
    #[inline(always)]
    pub(crate) fn chain(self, f: T, df: T) -> Self {
        let mut d = self.d;
        for x in d.iter_mut() {
            *x *= df;
        }
        Dual { v: f, d }
    }
}

impl<T: Scalar, const D: usize> Add for Dual<T, D> {
    type Output = Self;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        let mut d = self.d;
        for i in 0..D {
            d[i] += o.d[i];
        }
        Dual { v: self.v + o.v, d }
    }
}
impl<T: Scalar, const D: usize> Sub for Dual<T, D> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        let mut d = self.d;
        for i in 0..D {
            d[i] -= o.d[i];
        }
        Dual { v: self.v - o.v, d }
    }
}
impl<T: Scalar, const D: usize> Mul for Dual<T, D> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        let mut d = self.d;
        for i in 0..D {
            d[i] = d[i] * o.v + self.v * o.d[i];
        }
        Dual { v: self.v * o.v, d }
    }
}
impl<T: Scalar, const D: usize> Div for Dual<T, D> {
    type Output = Self;
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        // The value is an exact division (bit-identical to the plain-float kernel); the tangents
        // use one reciprocal instead of D divisions.
        let v = self.v / o.v;
        let inv = T::lit(1.0) / o.v;
        let mut d = self.d;
        for i in 0..D {
            d[i] = (d[i] - v * o.d[i]) * inv;
        }
        Dual { v, d }
    }
}
impl<T: Scalar, const D: usize> Neg for Dual<T, D> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        let mut d = self.d;
        for x in d.iter_mut() {
            *x = -*x;
        }
        Dual { v: -self.v, d }
    }
}
impl<T: Scalar, const D: usize> AddAssign for Dual<T, D> {
    #[inline(always)]
    fn add_assign(&mut self, o: Self) {
        *self = *self + o;
    }
}
impl<T: Scalar, const D: usize> SubAssign for Dual<T, D> {
    #[inline(always)]
    fn sub_assign(&mut self, o: Self) {
        *self = *self - o;
    }
}
impl<T: Scalar, const D: usize> MulAssign for Dual<T, D> {
    #[inline(always)]
    fn mul_assign(&mut self, o: Self) {
        *self = *self * o;
    }
}
