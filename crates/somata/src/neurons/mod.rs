//! The built-in neuron models of `brainpy.state`, one file per family.
//!
//! Every model is a zero-sized type implementing [`crate::dynamics::NeuronModel`]; build a layer
//! with `Model::builder(in_size)` ([`crate::engine::Build`]), set parameters with typed setters
//! (`.tau(10.0 * ms)`) and call `.build()?`.

mod lif;
pub mod registry;

pub use lif::{Alif, If, Lif, LifRef};

/// Typed builder setters for a model's parameters: `setters!(Lif { tau: Time => "tau", ... })`.
macro_rules! setters {
    ($model:ty { $($(#[$m:meta])* $f:ident : $ty:ty => $name:literal),* $(,)? }) => {
        impl<T: $crate::dynamics::Real> $crate::engine::LayerBuilder<$model, T> {
            $(
                $(#[$m])*
                #[doc = concat!("Set `", $name, "` (typed: a wrong dimension does not compile).")]
                pub fn $f(self, v: $ty) -> Self { self.set_raw($name, v.canonical()) }
            )*
        }
    };
}
pub(crate) use setters;

/// Reject `a == b` where a spike scaling divides by `a − b`.
pub(crate) fn distinct(model: &str, name: &str, a: f64, b: f64, what: &str) -> crate::Result<()> {
    if a == b {
        return Err(crate::SomataError::param(
            model,
            name,
            a,
            format!("must differ from {what}: the spike scaling divides by their difference"),
        ));
    }
    Ok(())
}
