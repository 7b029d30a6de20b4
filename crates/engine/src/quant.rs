//! 4-bit weights and 8-bit activations: the arithmetic of the encoder's hot path.
//!
//! Weights are stored as in the model file (Q4_0): per block of 32 weights one f16 scale and
//! 16 bytes of nibbles (byte `j` holds weight `j` in its low and weight `j + 16` in its high half,
//! each offset by 8). Activations are quantised per block of 32 to integers in `-128..=127` with
//! one f32 scale (Q8_0). A product is then a sum over blocks of
//! `scale_w * scale_a * <w_int, a_int>`, the inner product exact in integers.
//!
//! Both sides are widened to `i16` before the inner product: LLVM turns the 32-wide
//! `i16 * i16 -> i32` reduction into `pmaddwd` even on baseline x86-64 (SSE2), which makes it about
//! twice as fast as an `i8` loop there. A weight row is widened once per call into a scratch
//! buffer and reused for every token.

use std::sync::Arc;

/// Weights (and activations) per quantisation block.
pub(crate) const BLOCK: usize = 32;
/// Bytes of one Q4_0 block in the model file: an f16 scale and 16 bytes of nibbles.
pub(crate) const Q4_BLOCK_BYTES: usize = 2 + BLOCK / 2;

/// IEEE half to single precision (subnormals, infinities and NaN included).
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1F);
    let man = u32::from(h & 0x3FF);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, mut man) => {
            // Subnormal: shift the mantissa up until its leading one is the implicit bit.
            let mut e: i32 = 1;
            while man & 0x400 == 0 {
                man <<= 1;
                e -= 1;
            }
            sign | (((e + 127 - 15) as u32) << 23) | ((man & 0x3FF) << 13)
        }
        (31, man) => sign | 0x7F80_0000 | (man << 13),
        (exp, man) => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// The bytes of a model file, shared by the matrices that live in it (they are used in place,
/// not copied).
pub(crate) type Image = Arc<Vec<u8>>;

/// A `rows x cols` matrix of Q4_0 blocks (`cols` a multiple of [`BLOCK`]) inside a model image.
pub(crate) struct Q4Matrix {
    rows: usize,
    cols: usize,
    image: Image,
    start: usize,
}

impl Q4Matrix {
    /// The matrix whose blocks start at `start` in `image`; the caller has checked that its
    /// `rows * cols / 32 * 18` bytes lie inside.
    pub(crate) fn new(image: Image, start: usize, rows: usize, cols: usize) -> Self {
        debug_assert!(cols.is_multiple_of(BLOCK) && start + rows * cols / BLOCK * Q4_BLOCK_BYTES <= image.len());
        Self { rows, cols, image, start }
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// The blocks of one row.
    fn row_blocks(&self, row: usize) -> &[u8] {
        let len = self.cols / BLOCK * Q4_BLOCK_BYTES;
        &self.image[self.start + row * len..][..len]
    }

    /// Row `row` as floats into `out` (`cols` long).
    pub(crate) fn dequantize_row(&self, row: usize, out: &mut [f32]) {
        for (block, o) in self.row_blocks(row).chunks_exact(Q4_BLOCK_BYTES).zip(out.chunks_exact_mut(BLOCK)) {
            let d = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
            let (lo, hi) = o.split_at_mut(BLOCK / 2);
            for ((q, lo), hi) in block[2..].iter().zip(lo).zip(hi) {
                *lo = f32::from(i16::from(q & 0x0F) - 8) * d;
                *hi = f32::from(i16::from(q >> 4) - 8) * d;
            }
        }
    }

    /// Row `row` as signed integers (`-8..=7`) and its block scales as f32.
    fn widen_row(&self, row: usize, ints: &mut [i16], scales: &mut [f32]) {
        let blocks = self.row_blocks(row).chunks_exact(Q4_BLOCK_BYTES);
        for ((block, o), d) in blocks.zip(ints.chunks_exact_mut(BLOCK)).zip(scales.iter_mut()) {
            *d = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
            let (lo, hi) = o.split_at_mut(BLOCK / 2);
            for ((q, lo), hi) in block[2..].iter().zip(lo).zip(hi) {
                *lo = i16::from(q & 0x0F) - 8;
                *hi = i16::from(q >> 4) - 8;
            }
        }
    }
}

/// Activations of `tokens x cols`, quantised per block (Q8_0), kept as `i16` for the products.
#[derive(Default)]
pub(crate) struct QuantActs {
    cols: usize,
    ints: Vec<i16>,
    scales: Vec<f32>,
}

impl QuantActs {
    /// Quantises `x` (`tokens * cols` floats, row-major): per block `scale = max|x| / 127` and
    /// `round_half_even(x / scale)`, as `lrintf` does in the reference engine.
    pub(crate) fn quantize(&mut self, x: &[f32], cols: usize) {
        debug_assert!(cols.is_multiple_of(BLOCK) && x.len().is_multiple_of(cols));
        self.cols = cols;
        self.ints.resize(x.len(), 0);
        self.scales.resize(x.len() / BLOCK, 0.0);
        for ((xb, qb), d) in x.chunks_exact(BLOCK).zip(self.ints.chunks_exact_mut(BLOCK)).zip(&mut self.scales) {
            let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
            let scale = amax / 127.0;
            let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
            for (q, &v) in qb.iter_mut().zip(xb) {
                *q = round_half_even(v * inv).clamp(-128.0, 127.0) as i16;
            }
            *d = scale;
        }
    }

    fn row(&self, t: usize) -> (&[i16], &[f32]) {
        let nb = self.cols / BLOCK;
        (&self.ints[t * self.cols..][..self.cols], &self.scales[t * nb..][..nb])
    }
}

/// `v.round_ties_even()` for `|v| < 2^22`, in two additions: adding 1.5 * 2^23 pushes the
/// fraction out of the mantissa under the default round-to-nearest-even mode. Without SSE4.1
/// `round_ties_even` is a library call (`rintf`), which made quantisation a hot spot.
#[inline(always)]
fn round_half_even(v: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (v + MAGIC) - MAGIC
}

/// Integer inner product of two blocks.
#[inline(always)]
fn block_dot(w: &[i16; BLOCK], a: &[i16; BLOCK]) -> i32 {
    let mut sum = 0i32;
    for j in 0..BLOCK {
        sum += i32::from(w[j]) * i32::from(a[j]);
    }
    sum
}

/// One output: the scaled sum of block products of a widened weight row and a token.
#[inline]
fn row_dot(w: &[i16], w_scales: &[f32], a: &[i16], a_scales: &[f32]) -> f32 {
    let mut acc = 0f32;
    for ((wb, ab), (ws, as_)) in w.chunks_exact(BLOCK).zip(a.chunks_exact(BLOCK)).zip(w_scales.iter().zip(a_scales)) {
        let (Ok(wb), Ok(ab)) = (<&[i16; BLOCK]>::try_from(wb), <&[i16; BLOCK]>::try_from(ab)) else {
            unreachable!("chunks_exact yields whole blocks")
        };
        acc += block_dot(wb, ab) as f32 * (ws * as_);
    }
    acc
}

/// Reusable buffers of [`matmul`] (one widened weight row).
#[derive(Default)]
pub(crate) struct RowScratch {
    ints: Vec<i16>,
    scales: Vec<f32>,
}

/// `y[t][o] = bias[o] + sum_i w[o][i] * x[t][i]` for every token `t` of `x`; `y` holds
/// `tokens * w.rows()` floats.
pub(crate) fn matmul(w: &Q4Matrix, bias: &[f32], x: &QuantActs, y: &mut [f32], scratch: &mut RowScratch) {
    debug_assert_eq!(x.cols, w.cols);
    let (rows, cols) = (w.rows, w.cols);
    let tokens = y.len() / rows;
    scratch.ints.resize(cols, 0);
    scratch.scales.resize(cols / BLOCK, 0.0);
    for (o, &b) in bias.iter().enumerate().take(rows) {
        w.widen_row(o, &mut scratch.ints, &mut scratch.scales);
        for t in 0..tokens {
            let (a, a_scales) = x.row(t);
            y[t * rows + o] = b + row_dot(&scratch.ints, &scratch.scales, a, a_scales);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_conversion() {
        assert_eq!(f16_to_f32(0x3C00), 1.0);
        assert_eq!(f16_to_f32(0xC000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24), "smallest subnormal");
        assert_eq!(f16_to_f32(0x03FF), 1023.0 * 2f32.powi(-24), "largest subnormal");
        assert_eq!(f16_to_f32(0x8000).to_bits(), 0x8000_0000, "negative zero");
        assert_eq!(f16_to_f32(0x7C00), f32::INFINITY);
        assert!(f16_to_f32(0x7E00).is_nan());
        assert_eq!(f16_to_f32(0x7BFF), 65504.0);
    }

    /// A Q4 matrix from weights already on the 4-bit grid (`scale * (-8..=7)`), per row scales.
    fn q4(rows: usize, cols: usize, q: impl Fn(usize, usize) -> i16, scale: f32) -> (Q4Matrix, Vec<f32>) {
        let d = half(scale);
        let mut blocks = Vec::new();
        let mut dense = Vec::new();
        for r in 0..rows {
            for b in 0..cols / BLOCK {
                blocks.extend_from_slice(&d.to_le_bytes());
                for j in 0..BLOCK / 2 {
                    let lo = (q(r, b * BLOCK + j) + 8) as u8;
                    let hi = (q(r, b * BLOCK + j + BLOCK / 2) + 8) as u8;
                    blocks.push(lo | (hi << 4));
                }
            }
            dense.extend((0..cols).map(|c| f32::from(q(r, c)) * f16_to_f32(d)));
        }
        (Q4Matrix::new(Arc::new(blocks), 0, rows, cols), dense)
    }

    /// f32 to f16 bits for normal numbers (enough for test scales).
    fn half(v: f32) -> u16 {
        let bits = v.to_bits();
        let exp = ((bits >> 23) & 0xFF) as i32 - 127 + 15;
        (((bits >> 16) & 0x8000) | ((exp as u32) << 10) | ((bits >> 13) & 0x3FF)) as u16
    }

    #[test]
    fn dequantized_rows_follow_the_nibble_layout() {
        let (m, dense) = q4(3, 64, |r, c| ((r * 7 + c * 3) % 16) as i16 - 8, 0.125);
        let mut row = vec![0.0; 64];
        for r in 0..3 {
            m.dequantize_row(r, &mut row);
            assert_eq!(row, dense[r * 64..(r + 1) * 64]);
        }
    }

    #[test]
    fn activation_quantisation_rounds_half_to_even_and_keeps_zero_blocks() {
        let mut x = vec![0.0f32; 64];
        x[0] = 127.0;
        x[1] = 0.5;
        x[2] = 1.5;
        x[3] = -2.5;
        x[4] = -127.0;
        let mut acts = QuantActs::default();
        acts.quantize(&x, 64);
        assert_eq!(&acts.ints[..5], &[127, 0, 2, -2, -127]);
        assert_eq!(acts.scales, vec![1.0, 0.0]);
        for v in [-127.5f32, -3.5, -0.5, 0.49, 0.5, 2.5, 3.5, 126.5, 126.51] {
            assert_eq!(round_half_even(v), v.round_ties_even(), "{v}");
        }
        assert!(acts.ints[32..].iter().all(|&v| v == 0));
    }

    #[test]
    fn matmul_matches_a_dense_product() {
        let (rows, cols, tokens) = (5, 96, 3);
        let (w, dense) = q4(rows, cols, |r, c| ((r * 5 + c * 11) % 16) as i16 - 8, 0.0625);
        let bias: Vec<f32> = (0..rows).map(|r| r as f32 * 0.5).collect();
        let x: Vec<f32> = (0..tokens * cols).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
        let mut acts = QuantActs::default();
        acts.quantize(&x, cols);
        let mut y = vec![0.0; tokens * rows];
        matmul(&w, &bias, &acts, &mut y, &mut RowScratch::default());
        for t in 0..tokens {
            for o in 0..rows {
                let exact: f32 = (0..cols).map(|i| dense[o * cols + i] * x[t * cols + i]).sum::<f32>() + bias[o];
                // Activations carry 8-bit precision: about 0.4 % of the block maximum per value.
                assert!((y[t * rows + o] - exact).abs() < 0.05, "t{t} o{o}: {} vs {exact}", y[t * rows + o]);
            }
        }
    }
}
