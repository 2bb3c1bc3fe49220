//! Vector back ends: one vector type written once over a small instruction-set trait, chosen at
//! run time.
//!
//! A model's step is written once, generic over [`Scalar`](super::Scalar). The engine evaluates
//! it on plain `f32`/`f64` (the **scalar** back end, every target), or on a vector of lanes
//! when the CPU allows:
//!
//! | [`Backend`] | type | lanes | registers per value | needs |
//! |---|---|---|---|---|
//! | `Avx512` | [`F32x64`] | 64 | four `zmm` | AVX-512 F, VL, DQ + FMA |
//! | `Avx2` | [`F32x16`] | 16 | two `ymm` | AVX2 + FMA (x86-64-v3) |
//! | `Scalar` | `f32`, `f64` | 1 | — | nothing: plain loops, compiled with AVX2 + FMA where the CPU has them (the compiler vectorises what it can), for the target's baseline elsewhere |
//!
//! **Every back end gives the same bits.** Both vector types are [`Vf`], one implementation of
//! `exp`, `expm1`, `exprel`, `tanh`, the reciprocal, the selects and the gate tables over the
//! register operations of an [`Isa`]; each operation is the IEEE operation the scalar code of
//! [`super::fastmath`] performs, in the same order, so `SOMATA_SIMD=avx512`, `avx2` and
//! `scalar` produce identical results (tests/all/simd.rs and tests/all/simd_bptt.rs check every model
//! on every back end the machine has). The one documented exception is HH's gate tables
//! ([`super::GateTable`]): both vector back ends read them (and agree bit for bit), the scalar
//! loop evaluates the exact rates; a layer built with `gate_tables(false)` is identical on all
//! three.
//!
//! **Choosing.** The best back end the CPU has is used by default. `SOMATA_SIMD=avx512|avx2|scalar`
//! forces one for the whole process (read once; a back end the CPU lacks is reported by
//! [`from_env`], which the CLI turns into an error, and ignored with a warning by the library),
//! and [`LayerBuilder::simd`](crate::engine::LayerBuilder::simd) forces one per layer.
//!
//! ```
//! use somata::dynamics::simd::{self, Backend};
//! let best = simd::active();
//! assert!(simd::available().contains(&best));
//! assert!(simd::available().contains(&Backend::Scalar)); // on every CPU
//! assert_eq!("avx2".parse::<Backend>().unwrap(), Backend::Avx2);
//! ```

use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod vector;

#[cfg(target_arch = "x86_64")]
pub use avx2::Avx2;
#[cfg(target_arch = "x86_64")]
pub use avx512::Avx512;
#[cfg(target_arch = "x86_64")]
pub(crate) use vector::VecF32;
#[cfg(target_arch = "x86_64")]
pub use vector::{Isa, Vf, MAX_LANES};

/// 64 `f32` lanes in four AVX-512 registers.
#[cfg(target_arch = "x86_64")]
pub type F32x64 = Vf<Avx512, 4>;
/// 16 `f32` lanes in two AVX2 registers (AVX2 has 16 vector registers, AVX-512 32: two
/// registers per value leave room for a step's live values; measured in BENCHMARKS.md).
#[cfg(target_arch = "x86_64")]
pub type F32x16 = Vf<Avx2, 2>;
/// Lanes of [`F32x64`] (the widest vector).
#[cfg(target_arch = "x86_64")]
pub const LANES: usize = 64;

/// A vector back end of the simulation and BPTT kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Backend {
    /// Plain scalar loops (auto-vectorised where the compiler can); every target.
    Scalar,
    /// 16 lanes on AVX2 + FMA (x86-64-v3: Intel since Haswell, AMD since Zen).
    Avx2,
    /// 64 lanes on AVX-512 F/VL/DQ + FMA (Intel Skylake-SP and later servers, AMD Zen 4+).
    Avx512,
}

impl Backend {
    /// Every back end, narrowest first.
    pub const ALL: [Backend; 3] = [Backend::Scalar, Backend::Avx2, Backend::Avx512];

    /// The name `SOMATA_SIMD` takes: `scalar`, `avx2`, `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Avx2 => "avx2",
            Backend::Avx512 => "avx512",
        }
    }

    /// `f32` lanes per vector evaluation (1 for the scalar back end).
    pub fn lanes(self) -> usize {
        match self {
            Backend::Scalar => 1,
            Backend::Avx2 => 16,
            Backend::Avx512 => 64,
        }
    }

    /// Whether this CPU can run the back end (detected once).
    pub fn supported(self) -> bool {
        match self {
            Backend::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => cpu_avx2(),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 => cpu_avx512(),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A back end that cannot be used: an unknown name, or one this CPU lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimdError {
    /// Not one of `scalar`, `avx2`, `avx512`.
    #[error("unknown SIMD back end '{0}' (expected scalar, avx2 or avx512)")]
    Unknown(String),
    /// The CPU does not have the instructions.
    #[error("SIMD back end '{wanted}' is not supported by this CPU (available: {available})")]
    Unsupported {
        /// The back end asked for.
        wanted: Backend,
        /// What the CPU supports, comma-separated.
        available: String,
    },
}

impl std::str::FromStr for Backend {
    type Err = SimdError;
    fn from_str(s: &str) -> Result<Self, SimdError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" => Ok(Backend::Scalar),
            "avx2" => Ok(Backend::Avx2),
            "avx512" | "avx-512" => Ok(Backend::Avx512),
            other => Err(SimdError::Unknown(other.to_string())),
        }
    }
}

/// The back ends this CPU supports, narrowest first (always including [`Backend::Scalar`]).
pub fn available() -> Vec<Backend> {
    Backend::ALL.into_iter().filter(|b| b.supported()).collect()
}

/// The widest back end this CPU supports.
pub fn best() -> Backend {
    *available().last().unwrap_or(&Backend::Scalar)
}

/// `b` if this CPU supports it, else [`SimdError::Unsupported`].
pub fn check(b: Backend) -> Result<Backend, SimdError> {
    if b.supported() {
        Ok(b)
    } else {
        Err(SimdError::Unsupported { wanted: b, available: available().iter().map(|b| b.name()).collect::<Vec<_>>().join(", ") })
    }
}

/// The back end `SOMATA_SIMD` asks for: `Ok(None)` when it is unset or empty, an error when it
/// names an unknown back end or one this CPU lacks. The CLI calls this at start and refuses to
/// run on an error.
pub fn from_env() -> Result<Option<Backend>, SimdError> {
    match std::env::var("SOMATA_SIMD") {
        Ok(v) if !v.trim().is_empty() => check(v.parse()?).map(Some),
        _ => Ok(None),
    }
}

/// The process-wide default back end: `SOMATA_SIMD` when it is set and usable, else [`best`].
/// (`SOMATA_NO_VECTOR=1`, the older switch, means `scalar`.) An unusable `SOMATA_SIMD` prints one
/// warning and falls back to [`best`].
pub fn active() -> Backend {
    static ACTIVE: OnceLock<Backend> = OnceLock::new();
    *ACTIVE.get_or_init(|| match from_env() {
        Ok(Some(b)) => b,
        Ok(None) if std::env::var_os("SOMATA_NO_VECTOR").is_some_and(|v| v == "1") => Backend::Scalar,
        Ok(None) => best(),
        Err(e) => {
            eprintln!("somata: warning: {e}; using {}", best());
            best()
        }
    })
}

/// AVX-512 (F, VL, DQ) and FMA, detected once.
#[cfg(target_arch = "x86_64")]
pub(crate) fn cpu_avx512() -> bool {
    static YES: OnceLock<bool> = OnceLock::new();
    *YES.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
    })
}

/// AVX2 and FMA, detected once.
#[cfg(target_arch = "x86_64")]
pub(crate) fn cpu_avx2() -> bool {
    static YES: OnceLock<bool> = OnceLock::new();
    *YES.get_or_init(|| std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"))
}

/// A computation generic over the vector type, for [`with_vector`] (tests).
#[cfg(all(test, target_arch = "x86_64"))]
pub(crate) trait VecFn {
    /// What it returns.
    type Out;
    /// Run on vector type `V` (inlined into a function compiled with `V`'s target features).
    fn call<V: VecF32>(self) -> Self::Out;
}

/// `f` on the vector type of back end `b` ([`F32x64`] or [`F32x16`]), inside a function compiled
/// with its target features; `None` for the scalar back end or one this CPU lacks.
#[cfg(all(test, target_arch = "x86_64"))]
pub(crate) fn with_vector<F: VecFn>(b: Backend, f: F) -> Option<F::Out> {
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    unsafe fn on512<F: VecFn>(f: F) -> F::Out {
        f.call::<F32x64>()
    }
    #[target_feature(enable = "avx2,fma")]
    unsafe fn on256<F: VecFn>(f: F) -> F::Out {
        f.call::<F32x16>()
    }
    if !b.supported() {
        return None;
    }
    // SAFETY: the CPU supports the back end (checked above).
    match b {
        Backend::Avx512 => Some(unsafe { on512(f) }),
        Backend::Avx2 => Some(unsafe { on256(f) }),
        Backend::Scalar => None,
    }
}
