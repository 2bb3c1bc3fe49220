//! [`Isa`] for AVX2 + FMA (x86-64-v3): 8 lanes per `ymm` register; a lane mask is a vector
//! whose lanes are all ones or all zeros (AVX2 has no mask registers).
//!
//! What AVX-512 does in one instruction is done here by the same arithmetic fastmath's scalar
//! code performs, so the bits are the same: `y·2^n` as `(y·2)·2^(n−1)` with the power built in
//! the exponent field, `x − round(x)` by `vroundps` and a subtraction (exact), a 32-entry table
//! by four `vpermps` and three `vblendvps` on bits 3 and 4 of the index; gate tables by one
//! interval row per lane ([`Isa::table_rows`]).

use super::super::table::{GateTable, COEFS, FUNCS, SLOTS};
use super::vector::Isa;
use std::arch::x86_64::*;

/// AVX2 + FMA.
#[derive(Debug, Clone, Copy)]
pub struct Avx2;

// SAFETY (every `unsafe` block below): these methods are only inlined into functions compiled
// with `avx2,fma`, entered after `cpu_avx2()` (see `Isa`).
unsafe impl Isa for Avx2 {
    type F = __m256;
    type I = __m256i;
    type K = __m256;
    const W: usize = 8;
    const BACKEND: super::Backend = super::Backend::Avx2;
    const GATE_TABLES: bool = true;
    const ROW_LOOKUP: bool = true;

    #[inline(always)]
    fn splat(v: f32) -> __m256 {
        unsafe { _mm256_set1_ps(v) }
    }
    #[inline(always)]
    fn splat_i(v: i32) -> __m256i {
        unsafe { _mm256_set1_epi32(v) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32, n: usize) -> __m256 {
        unsafe {
            if n == 8 {
                _mm256_loadu_ps(p)
            } else {
                // lanes below n: all ones (masked-off lanes are not read and load as 0)
                let m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
                _mm256_maskload_ps(p, m)
            }
        }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256, n: usize) {
        unsafe {
            if n == 8 {
                _mm256_storeu_ps(p, v)
            } else {
                let m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
                _mm256_maskstore_ps(p, m, v)
            }
        }
    }
    #[inline(always)]
    unsafe fn load_i(p: *const i32, n: usize) -> __m256i {
        unsafe {
            if n == 8 {
                _mm256_loadu_si256(p as *const __m256i)
            } else {
                _mm256_maskload_epi32(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)))
            }
        }
    }
    #[inline(always)]
    unsafe fn store_i(p: *mut i32, v: __m256i, n: usize) {
        unsafe {
            if n == 8 {
                _mm256_storeu_si256(p as *mut __m256i, v)
            } else {
                _mm256_maskstore_epi32(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), v)
            }
        }
    }
    #[inline(always)]
    fn cvtt(a: __m256) -> __m256i {
        unsafe { _mm256_cvttps_epi32(a) }
    }
    #[inline(always)]
    fn add(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_div_ps(a, b) }
    }
    #[inline(always)]
    fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    fn min(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_min_ps(a, b) }
    }
    #[inline(always)]
    fn max(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_max_ps(a, b) }
    }
    #[inline(always)]
    fn sqrt(a: __m256) -> __m256 {
        unsafe { _mm256_sqrt_ps(a) }
    }
    #[inline(always)]
    fn abs(a: __m256) -> __m256 {
        unsafe { _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(i32::MAX))) }
    }
    #[inline(always)]
    fn neg(a: __m256) -> __m256 {
        unsafe { _mm256_xor_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(i32::MIN))) }
    }
    #[inline(always)]
    fn copysign(x: __m256, s: __m256) -> __m256 {
        unsafe {
            let sign = _mm256_castsi256_ps(_mm256_set1_epi32(i32::MIN));
            _mm256_or_ps(_mm256_andnot_ps(sign, x), _mm256_and_ps(sign, s))
        }
    }
    #[inline(always)]
    fn lt(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_cmp_ps::<_CMP_LT_OQ>(a, b) }
    }
    #[inline(always)]
    fn nlt(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_cmp_ps::<_CMP_NLT_UQ>(a, b) }
    }
    #[inline(always)]
    fn ge(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_cmp_ps::<_CMP_GE_OQ>(a, b) }
    }
    #[inline(always)]
    fn le(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_cmp_ps::<_CMP_LE_OQ>(a, b) }
    }
    #[inline(always)]
    fn isnan(a: __m256) -> __m256 {
        unsafe { _mm256_cmp_ps::<_CMP_UNORD_Q>(a, a) }
    }
    #[inline(always)]
    fn blend(k: __m256, t: __m256, e: __m256) -> __m256 {
        unsafe { _mm256_blendv_ps(e, t, k) }
    }
    #[inline(always)]
    fn kand(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_and_ps(a, b) }
    }
    #[inline(always)]
    fn kor(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_or_ps(a, b) }
    }
    #[inline(always)]
    fn knot(a: __m256) -> __m256 {
        unsafe { _mm256_xor_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(-1))) }
    }
    #[inline(always)]
    fn kall(a: __m256) -> bool {
        unsafe { _mm256_movemask_ps(a) == 0xFF }
    }
    #[inline(always)]
    fn knone(a: __m256) -> bool {
        unsafe { _mm256_testz_ps(a, a) == 1 }
    }
    #[inline(always)]
    fn to_bits(a: __m256) -> __m256i {
        unsafe { _mm256_castps_si256(a) }
    }
    #[inline(always)]
    fn from_bits(a: __m256i) -> __m256 {
        unsafe { _mm256_castsi256_ps(a) }
    }
    #[inline(always)]
    fn isub(a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_sub_epi32(a, b) }
    }
    #[inline(always)]
    fn iadd(a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_add_epi32(a, b) }
    }
    #[inline(always)]
    fn sra1(a: __m256i) -> __m256i {
        unsafe { _mm256_srai_epi32::<1>(a) }
    }
    #[inline(always)]
    fn shl23(a: __m256i) -> __m256i {
        unsafe { _mm256_slli_epi32::<23>(a) }
    }
    #[inline(always)]
    fn round_to_int(a: __m256) -> __m256i {
        unsafe { _mm256_cvtps_epi32(a) }
    }
    #[inline(always)]
    fn reduce_frac(x: __m256) -> __m256 {
        unsafe { _mm256_sub_ps(x, _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x)) }
    }
    /// Each lane's interval row (`rows[slot][k]`: coefficient `k` of the six functions, one
    /// aligned load) times its own `u`, by six fused multiply-adds per lane with `u` broadcast,
    /// then an 8×8 transpose (22 shuffles) from lanes-by-function to functions-by-lane: about
    /// 80 instructions per register where a per-coefficient select from 32 entries takes seven
    /// (`vpermps` ×4, `vblendvps` ×3) for each of 36 coefficients.
    #[inline(always)]
    fn table_rows(t: &GateTable, idx: __m256i, u: __m256) -> [__m256; FUNCS] {
        // SAFETY: `slot < SLOTS` by the mask; `rows` rows are 32-byte aligned (the table is
        // 64-byte aligned and a row of 8 f32 is 32 bytes).
        unsafe {
            // each lane's row offset in f32 (a row is COEFS·8 of them), so that the address is
            // one scaled-index operand
            const ROW: i32 = (COEFS * 8) as i32;
            let mut offs = [0i32; 8];
            let mut us = [0f32; 8];
            let slot = _mm256_and_si256(idx, _mm256_set1_epi32(SLOTS as i32 - 1));
            _mm256_storeu_si256(offs.as_mut_ptr() as *mut __m256i, _mm256_mullo_epi32(slot, _mm256_set1_epi32(ROW)));
            _mm256_storeu_ps(us.as_mut_ptr(), u);
            let base = t.rows.as_ptr() as *const f32;
            let mut r = [_mm256_setzero_ps(); 8];
            for l in 0..8 {
                let row = base.add(offs[l] as usize);
                let ul = _mm256_set1_ps(us[l]);
                let mut acc = _mm256_load_ps(row);
                for k in 1..COEFS {
                    acc = _mm256_fmadd_ps(acc, ul, _mm256_load_ps(row.add(8 * k)));
                }
                r[l] = acc;
            }
            // transpose: r[l][f] → out[f][l]
            let t0 = _mm256_unpacklo_ps(r[0], r[1]);
            let t1 = _mm256_unpackhi_ps(r[0], r[1]);
            let t2 = _mm256_unpacklo_ps(r[2], r[3]);
            let t3 = _mm256_unpackhi_ps(r[2], r[3]);
            let t4 = _mm256_unpacklo_ps(r[4], r[5]);
            let t5 = _mm256_unpackhi_ps(r[4], r[5]);
            let t6 = _mm256_unpacklo_ps(r[6], r[7]);
            let t7 = _mm256_unpackhi_ps(r[6], r[7]);
            let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            [
                _mm256_permute2f128_ps::<0x20>(s0, s4),
                _mm256_permute2f128_ps::<0x20>(s1, s5),
                _mm256_permute2f128_ps::<0x20>(s2, s6),
                _mm256_permute2f128_ps::<0x20>(s3, s7),
                _mm256_permute2f128_ps::<0x31>(s0, s4),
                _mm256_permute2f128_ps::<0x31>(s1, s5),
            ]
        }
    }
    #[inline(always)]
    fn permute32(row: &[f32; 32], idx: __m256i) -> __m256 {
        // SAFETY: `row` is 32 f32, 64-byte aligned (see the AVX-512 form)
        unsafe {
            let p = row.as_ptr();
            // written out: `array::from_fn`'s wrapper is not always inlined, and outlined it
            // runs without the target features (every intrinsic a call: HH 150x slower)
            let q = [
                _mm256_permutevar8x32_ps(_mm256_load_ps(p), idx),
                _mm256_permutevar8x32_ps(_mm256_load_ps(p.add(8)), idx),
                _mm256_permutevar8x32_ps(_mm256_load_ps(p.add(16)), idx),
                _mm256_permutevar8x32_ps(_mm256_load_ps(p.add(24)), idx),
            ];
            // `vblendvps` selects on a lane's sign bit: bit 3 of the index there, then bit 4
            let b3 = _mm256_castsi256_ps(_mm256_slli_epi32::<28>(idx));
            let b4 = _mm256_castsi256_ps(_mm256_slli_epi32::<27>(idx));
            let lo = _mm256_blendv_ps(q[0], q[1], b3);
            let hi = _mm256_blendv_ps(q[2], q[3], b3);
            _mm256_blendv_ps(lo, hi, b4)
        }
    }
}
