//! Branch-free `exp` and GELU for the encoder's element-wise loops.
//!
//! The C library's `expf`/`erff` are calls LLVM cannot vectorise, and the softmax and GELU run
//! them millions of times per text. These versions are straight-line arithmetic that
//! autovectorises, accurate to a few units in the last place (`exp`) and about 1e-7 (`erf`) —
//! far below the 8-bit quantisation of the activations that follows them.

/// `e^x` for `x <= 88` (the softmax only takes `x <= 0`); below -87 the result is 0 or tiny.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that `n * LN2_HI` is exact for |n| < 2^9.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const MAGIC: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    // n = round(x / ln 2); r = x - n ln 2 in [-ln2/2, ln2/2].
    let n = (x * LOG2E + MAGIC) - MAGIC;
    let r = x - n * LN2_HI - n * LN2_LO;
    // e^r by its Taylor polynomial to degree 7 (error below 1e-8 on the interval).
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // Times 2^n, built in the exponent bits (n is in [-126, 127] after the clamp).
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// The error function (Numerical Recipes' Chebyshev fit of `erfc`, relative error < 1.2e-7).
#[inline(always)]
#[allow(clippy::excessive_precision, reason = "the published coefficients, verbatim")]
pub(crate) fn erf(x: f32) -> f32 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.265_512_2
        + t * (1.000_023_7
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * exp(-z * z + poly);
    if x >= 0.0 {
        1.0 - erfc
    } else {
        erfc - 1.0
    }
}

/// BERT's exact (erf) GELU.
#[inline(always)]
pub(crate) fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate_over_the_softmax_range() {
        let mut worst = 0f64;
        for i in 0..=200_000 {
            let x = -87.0 + 95.0 * i as f32 / 200_000.0;
            let exact = f64::from(x).exp();
            worst = worst.max(((f64::from(exp(x)) - exact) / exact).abs());
        }
        assert!(worst < 5e-7, "relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) < 1e-37 && exp(-1000.0) >= 0.0);
    }

    #[test]
    fn erf_and_gelu_match_known_values() {
        // erf from Abramowitz & Stegun, table 7.1.
        for (x, e) in [(0.0, 0.0), (0.5, 0.520_499_9), (1.0, 0.842_700_8), (2.0, 0.995_322_3), (3.5, 0.999_999_3)] {
            assert!((erf(x) - e).abs() < 2e-7, "erf({x}) = {}", erf(x));
            assert!((erf(-x) + e).abs() < 2e-7, "erf(-{x})");
        }
        assert!((gelu(1.0) - 0.841_344_8).abs() < 1e-6);
        assert!((gelu(-1.0) + 0.158_655_3).abs() < 1e-6);
        assert_eq!(gelu(0.0), 0.0);
        assert!((gelu(20.0) - 20.0).abs() < 1e-5 && gelu(-20.0).abs() < 1e-5);
    }
}
