//! Map BrainPy class names to models, for trace files and configs.

use super::*;
use crate::dynamics::NeuronModel;
use crate::error::{Result, SomataError};

/// A computation generic over the model, run by [`dispatch`] for a model chosen by name.
pub trait ModelFn {
    /// Result type.
    type Out;
    /// Run with model `M`.
    fn call<M: NeuronModel + Default>(self) -> Self::Out;
}

macro_rules! registry {
    ($($name:literal => $ty:ty),* $(,)?) => {
        /// BrainPy class names of every built-in model.
        pub const MODEL_NAMES: &[&str] = &[$($name),*];
        /// Run `f` with the model named `name` (BrainPy's class name).
        pub fn dispatch<F: ModelFn<Out = Result<R>>, R>(name: &str, f: F) -> Result<R> {
            match name {
                $($name => f.call::<$ty>(),)*
                _ => Err(SomataError::UnknownModel { name: name.to_string(), known: MODEL_NAMES.join(", ") }),
            }
        }
    };
}

registry! {
    "IF" => If,
    "LIF" => Lif,
    "LIFRef" => LifRef,
    "ALIF" => Alif,
    "ExpIF" => ExpIf,
    "ExpIFRef" => ExpIfRef,
    "AdExIF" => AdExIf,
    "AdExIFRef" => AdExIfRef,
    "QuaIF" => QuaIf,
    "AdQuaIF" => AdQuaIf,
    "AdQuaIFRef" => AdQuaIfRef,
    "Gif" => Gif,
    "GifRef" => GifRef,
    "CubaLIF" => CubaLif,
    "CobaLIF" => CobaLif,
    "HH" => Hh,
    "MorrisLecar" => MorrisLecar,
    "WangBuzsakiHH" => WangBuzsakiHh,
    "Izhikevich" => Izhikevich,
    "IzhikevichRef" => IzhikevichRef,
    "FitzHughNagumo" => FitzHughNagumo,
    "HindmarshRose" => HindmarshRose,
    // not a brainpy.state class: the neuron of BrainPy's COBA-HH example (Brette et al. 2007)
    "TraubHH" => TraubHh,
}
