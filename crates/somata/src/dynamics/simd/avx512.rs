//! [`Isa`] for AVX-512 (F, VL, DQ): 16 lanes per `zmm` register, `__mmask16` lane masks.
//!
//! Uses what AVX-512 adds over AVX2 where it saves instructions on the kernels' hot paths:
//! mask registers (compares and blends without vector masks, merge-masked fused multiply-adds),
//! `vscalefps` for `y·2^n`, `vrangeps` to fold four registers' magnitudes before one compare,
//! `vreduceps` for `x − round(x)` and `vpermt2ps` for a 32-entry table in two registers.

use super::vector::Isa;
use std::arch::x86_64::*;

/// AVX-512 F/VL/DQ + FMA.
#[derive(Debug, Clone, Copy)]
pub struct Avx512;

// SAFETY (every `unsafe` block below): these methods are only inlined into functions compiled
// with `avx512f,avx512vl,avx512dq,avx2,fma`, entered after `cpu_avx512()` (see `Isa`).
unsafe impl Isa for Avx512 {
    type F = __m512;
    type I = __m512i;
    type K = __mmask16;
    const W: usize = 16;
    const BACKEND: super::Backend = super::Backend::Avx512;
    const GATE_TABLES: bool = true;

    #[inline(always)]
    fn splat(v: f32) -> __m512 {
        unsafe { _mm512_set1_ps(v) }
    }
    #[inline(always)]
    fn splat_i(v: i32) -> __m512i {
        unsafe { _mm512_set1_epi32(v) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32, n: usize) -> __m512 {
        unsafe {
            if n == 16 {
                _mm512_loadu_ps(p)
            } else {
                _mm512_maskz_loadu_ps(((1u32 << n) - 1) as u16, p)
            }
        }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512, n: usize) {
        unsafe {
            if n == 16 {
                _mm512_storeu_ps(p, v)
            } else {
                _mm512_mask_storeu_ps(p, ((1u32 << n) - 1) as u16, v)
            }
        }
    }
    #[inline(always)]
    unsafe fn load_i(p: *const i32, n: usize) -> __m512i {
        unsafe {
            if n == 16 {
                _mm512_loadu_si512(p as *const __m512i)
            } else {
                _mm512_maskz_loadu_epi32(((1u32 << n) - 1) as u16, p)
            }
        }
    }
    #[inline(always)]
    unsafe fn store_i(p: *mut i32, v: __m512i, n: usize) {
        unsafe {
            if n == 16 {
                _mm512_storeu_si512(p as *mut __m512i, v)
            } else {
                _mm512_mask_storeu_epi32(p, ((1u32 << n) - 1) as u16, v)
            }
        }
    }
    #[inline(always)]
    fn cvtt(a: __m512) -> __m512i {
        unsafe { _mm512_cvttps_epi32(a) }
    }
    #[inline(always)]
    fn add(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_div_ps(a, b) }
    }
    #[inline(always)]
    fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    fn mask_fma(a: __m512, k: __mmask16, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_mask_fmadd_ps(a, k, b, c) }
    }
    #[inline(always)]
    fn min(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_min_ps(a, b) }
    }
    #[inline(always)]
    fn max(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_max_ps(a, b) }
    }
    #[inline(always)]
    fn sqrt(a: __m512) -> __m512 {
        unsafe { _mm512_sqrt_ps(a) }
    }
    #[inline(always)]
    fn abs(a: __m512) -> __m512 {
        unsafe { _mm512_abs_ps(a) }
    }
    #[inline(always)]
    fn neg(a: __m512) -> __m512 {
        unsafe { _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32(i32::MIN))) }
    }
    #[inline(always)]
    fn copysign(x: __m512, s: __m512) -> __m512 {
        // bitwise select: sign bit from `s`, the rest from `x`
        unsafe {
            _mm512_castsi512_ps(_mm512_ternarylogic_epi32::<0xD8>(
                _mm512_castps_si512(s),
                _mm512_castps_si512(x),
                _mm512_set1_epi32(i32::MAX),
            ))
        }
    }
    #[inline(always)]
    fn lt(a: __m512, b: __m512) -> __mmask16 {
        unsafe { _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b) }
    }
    #[inline(always)]
    fn nlt(a: __m512, b: __m512) -> __mmask16 {
        unsafe { _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(a, b) }
    }
    #[inline(always)]
    fn ge(a: __m512, b: __m512) -> __mmask16 {
        unsafe { _mm512_cmp_ps_mask::<_CMP_GE_OQ>(a, b) }
    }
    #[inline(always)]
    fn le(a: __m512, b: __m512) -> __mmask16 {
        unsafe { _mm512_cmp_ps_mask::<_CMP_LE_OQ>(a, b) }
    }
    #[inline(always)]
    fn isnan(a: __m512) -> __mmask16 {
        unsafe { _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, a) }
    }
    #[inline(always)]
    fn blend(k: __mmask16, t: __m512, e: __m512) -> __m512 {
        unsafe { _mm512_mask_blend_ps(k, e, t) }
    }
    #[inline(always)]
    fn kand(a: __mmask16, b: __mmask16) -> __mmask16 {
        unsafe { _kand_mask16(a, b) }
    }
    #[inline(always)]
    fn kor(a: __mmask16, b: __mmask16) -> __mmask16 {
        unsafe { _kor_mask16(a, b) }
    }
    #[inline(always)]
    fn knot(a: __mmask16) -> __mmask16 {
        !a
    }
    #[inline(always)]
    fn kall(a: __mmask16) -> bool {
        a == u16::MAX
    }
    #[inline(always)]
    fn knone(a: __mmask16) -> bool {
        a == 0
    }
    #[inline(always)]
    fn to_bits(a: __m512) -> __m512i {
        unsafe { _mm512_castps_si512(a) }
    }
    #[inline(always)]
    fn from_bits(a: __m512i) -> __m512 {
        unsafe { _mm512_castsi512_ps(a) }
    }
    #[inline(always)]
    fn isub(a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_sub_epi32(a, b) }
    }
    #[inline(always)]
    fn iadd(a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_add_epi32(a, b) }
    }
    #[inline(always)]
    fn sra1(a: __m512i) -> __m512i {
        unsafe { _mm512_srai_epi32::<1>(a) }
    }
    #[inline(always)]
    fn shl23(a: __m512i) -> __m512i {
        unsafe { _mm512_slli_epi32::<23>(a) }
    }
    #[inline(always)]
    fn round_to_int(a: __m512) -> __m512i {
        unsafe { _mm512_cvtps_epi32(a) }
    }
    /// One `vscalefps`: `y·2^n`, exact (or overflowing) as fastmath's `y·2·2^(n−1)`.
    #[inline(always)]
    fn scale_pow2(y: __m512, n: __m512, _ni: __m512i) -> __m512 {
        unsafe { _mm512_scalef_ps(y, n) }
    }
    /// One `vreduceps`.
    #[inline(always)]
    fn reduce_frac(x: __m512) -> __m512 {
        unsafe { _mm512_reduce_ps::<0>(x) }
    }
    /// One `vpermt2ps` on the row's two registers.
    #[inline(always)]
    fn permute32(row: &[f32; 32], idx: __m512i) -> __m512 {
        // SAFETY: `row` is 32 f32, 64-byte aligned (`GateTable` is `align(64)` and every row
        // starts a multiple of 128 bytes from its start)
        unsafe {
            let (lo, hi) = (_mm512_load_ps(row.as_ptr()), _mm512_load_ps(row.as_ptr().add(16)));
            _mm512_permutex2var_ps(lo, idx, hi)
        }
    }
    /// The registers' magnitudes folded lane-wise by `vrangeps` (largest; a NaN propagates),
    /// then one compare.
    #[inline(always)]
    fn all_abs_lt(x: &[__m512], c: f32) -> bool {
        let mut m = x[0];
        for &b in &x[1..] {
            m = unsafe { _mm512_range_ps::<0b1011>(m, b) };
        }
        // with one register there is nothing to fold; clear the sign as vrangeps would
        let m = unsafe { _mm512_abs_ps(m) };
        Self::lt(m, Self::splat(c)) == u16::MAX
    }
    /// As `all_abs_lt`, with the smallest magnitudes (`vrangeps` 0b1010).
    #[inline(always)]
    fn none_abs_lt(x: &[__m512], c: f32) -> bool {
        let mut m = x[0];
        for &b in &x[1..] {
            m = unsafe { _mm512_range_ps::<0b1010>(m, b) };
        }
        let m = unsafe { _mm512_abs_ps(m) };
        Self::lt(m, Self::splat(c)) == 0
    }
}
