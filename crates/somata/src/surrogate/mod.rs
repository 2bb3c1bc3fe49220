//! The 18 surrogate-gradient functions of `braintools.surrogate` (braintools 0.4.0), with
//! BrainPy's names, parameters and defaults.
//!
//! Every surrogate has the same forward pass, the Heaviside step with `H(0) = 1`:
//! `spike(x) = 1 if x >= 0 else 0`. They differ in the gradient `g(x)` used in its place by
//! backpropagation ([`SurrogateGrad::grad`]), and some define a smooth primitive
//! ([`SurrogateGrad::surrogate_fun`]) whose derivative is `g`.
//!
//! | class | defaults | g(x) |
//! |---|---|---|
//! | [`Sigmoid`] (`SigmoidGrad`) | α = 4 | α·σ(αx)(1 − σ(αx)) |
//! | [`PiecewiseQuadratic`] | α = 1 | 0 if \|x\| > 1/α else α − α²\|x\| |
//! | [`PiecewiseExp`] | α = 1 | (α/2)·e^{−α\|x\|} |
//! | [`SoftSign`] | α = 1 | α/(2(1 + \|αx\|)²) |
//! | [`Arctan`] (`ATan`) | α = 1 | α/(2(1 + (παx/2)²)) |
//! | [`NonzeroSignLog`] | α = 1 | 1/(1/α + \|x\|) |
//! | [`ERF`] | α = 1 | (α/√π)·e^{−α²x²} |
//! | [`PiecewiseLeakyRelu`] | c = 0.01, w = 1 | c if \|x\| > w else 1/(2w) |
//! | [`SquarewaveFourierSeries`] | n = 2, t_period = 8 | (4/T)·Σ_{i=1}^{n} cos((2i−1)ωx), ω = 2π/T |
//! | [`S2NN`] | α = 4, β = 1, ε = 1e-8 | x < 0: α·σ(αx)(1 − σ(αx)); x ≥ 0: β/(x + 1) |
//! | [`QPseudoSpike`] | α = 2 | (1 + 2\|x\|/(α + 1))^{−α} |
//! | [`LeakyRelu`] | α = 0.1, β = 1 | x < 0: α; else β |
//! | [`LogTailedRelu`] | α = 0 | x > 1: 1/x; 0 < x ≤ 1: 1; x ≤ 0: α |
//! | [`ReluGrad`] | α = 0.3, width = 1 | max(α·width − α\|x\|, 0) |
//! | [`GaussianGrad`] | σ = 0.5, α = 0.5 | α·N(x; 0, σ) |
//! | [`InvSquareGrad`] | α = 100 | 1/(α\|x\| + 1)² |
//! | [`MultiGaussianGrad`] | h = 0.15, s = 6, σ = 0.5, scale = 0.5 | scale·[(1+h)N(x;0,σ) − hN(x;σ,sσ) − hN(x;−σ,sσ)] |
//! | [`SlayerGrad`] | α = 1 | e^{−α\|x\|} |
//!
//! ```
//! use somata::surrogate::{Surrogate, SurrogateGrad, ReluGrad, Sigmoid};
//! let g = Surrogate::from(ReluGrad::default());
//! assert_eq!(g.grad(0.5), 0.15);
//! let s = Surrogate::from_name("SigmoidGrad", &[]).unwrap(); // seed-page alias of Sigmoid
//! assert_eq!(s.name(), "Sigmoid");
//! assert!((s.grad(0.0) - 1.0).abs() < 1e-12);
//! ```

mod funcs;

pub use funcs::*;

use crate::error::{Result, SomataError};
use std::fmt;
use std::sync::Arc;

/// A surrogate gradient: the derivative used in place of the Heaviside step's.
pub trait SurrogateGrad: Send + Sync {
    /// The surrogate gradient g(x).
    fn grad(&self, x: f64) -> f64;
    /// `grad` of every value of `xs`, in place, each evaluated in `f64` and rounded to `f32`
    /// (the same numbers as `grad` one by one). The vector BPTT kernel calls it on 64 lanes:
    /// [`Surrogate`] picks the class once per call, so the loop runs on one concrete formula.
    #[inline]
    fn grad_batch(&self, xs: &mut [f32]) {
        for x in xs.iter_mut() {
            *x = self.grad(*x as f64) as f32;
        }
    }
    /// The smooth primitive whose derivative is g, where the class defines one.
    fn surrogate_fun(&self, _x: f64) -> Option<f64> {
        None
    }
    /// The braintools class name.
    fn name(&self) -> &str;
    /// The forward value: Heaviside with H(0) = 1.
    fn forward(&self, x: f64) -> f64 {
        if x >= 0.0 {
            1.0
        } else {
            0.0
        }
    }
}

macro_rules! surrogate_enum {
    ($($v:ident),* $(,)?) => {
        /// Any surrogate: one of the 18 braintools classes, or a user-defined one.
        #[derive(Clone)]
        #[non_exhaustive]
        pub enum Surrogate {
            $( #[doc = concat!("[`", stringify!($v), "`]")] $v($v), )*
            /// A user-defined surrogate.
            Custom(Arc<dyn SurrogateGrad>),
        }
        impl SurrogateGrad for Surrogate {
            #[inline(always)]
            fn grad(&self, x: f64) -> f64 {
                match self { $( Surrogate::$v(s) => s.grad(x), )* Surrogate::Custom(s) => s.grad(x) }
            }
            fn grad_batch(&self, xs: &mut [f32]) {
                match self { $( Surrogate::$v(s) => s.grad_batch(xs), )* Surrogate::Custom(s) => s.grad_batch(xs) }
            }
            fn surrogate_fun(&self, x: f64) -> Option<f64> {
                match self { $( Surrogate::$v(s) => s.surrogate_fun(x), )* Surrogate::Custom(s) => s.surrogate_fun(x) }
            }
            fn name(&self) -> &str {
                match self { $( Surrogate::$v(s) => s.name(), )* Surrogate::Custom(s) => s.name() }
            }
        }
        $( impl From<$v> for Surrogate { fn from(s: $v) -> Self { Surrogate::$v(s) } } )*
        impl Surrogate {
            /// The 18 class names, in braintools' spelling.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($v)),*];
            fn build(name: &str, params: &[(String, f64)]) -> Result<Surrogate> {
                match name {
                    $( stringify!($v) => Ok(Surrogate::$v($v::from_params(params)?)), )*
                    _ => Err(SomataError::UnknownSurrogate(name.to_string())),
                }
            }
        }
    };
}

surrogate_enum!(
    Sigmoid,
    PiecewiseQuadratic,
    PiecewiseExp,
    SoftSign,
    Arctan,
    NonzeroSignLog,
    ERF,
    PiecewiseLeakyRelu,
    SquarewaveFourierSeries,
    S2NN,
    QPseudoSpike,
    LeakyRelu,
    LogTailedRelu,
    ReluGrad,
    GaussianGrad,
    InvSquareGrad,
    MultiGaussianGrad,
    SlayerGrad,
);

impl Surrogate {
    /// Build a surrogate by its braintools class name and keyword parameters (missing ones take
    /// the defaults). Accepts the seed page's aliases `SigmoidGrad` (for `Sigmoid`) and `ATan`
    /// (for `Arctan`). Unknown names or parameters are typed errors.
    pub fn from_name(name: &str, params: &[(String, f64)]) -> Result<Surrogate> {
        let canonical = match name {
            "SigmoidGrad" => "Sigmoid",
            "ATan" => "Arctan",
            n => n,
        };
        Surrogate::build(canonical, params)
    }
    /// Wrap a user-defined surrogate.
    pub fn custom(s: impl SurrogateGrad + 'static) -> Surrogate {
        Surrogate::Custom(Arc::new(s))
    }
}

impl Default for Surrogate {
    /// `ReluGrad(alpha=0.3, width=1.0)`: the default `spk_fun` of every concrete BrainPy model.
    fn default() -> Self {
        Surrogate::ReluGrad(ReluGrad::default())
    }
}

impl fmt::Debug for Surrogate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())
    }
}
