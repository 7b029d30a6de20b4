//! The BERT (XLM-RoBERTa) encoder: embeddings, then per layer self-attention and a GELU
//! feed-forward block, each followed by a residual LayerNorm; mean pooling at the end.
//!
//! One forward pass runs several segments (`<s> … </s>` windows of one or more texts) with
//! their tokens concatenated: the token-wise products then read each weight once for the whole
//! batch, while attention stays within each segment. Position ids restart at 0 per segment (the
//! converter already dropped XLM-R's two padding positions from the table).

use crate::format::{Config, LoadError, ModelFile};
use crate::math;
use crate::quant::{matmul, Q4Matrix, QuantActs, RowScratch};

/// Query, key and value width of one attention head, as a fixed size for the inner loops.
const HEAD_DIM: usize = 32;

struct Linear {
    weight: Q4Matrix,
    bias: Vec<f32>,
}

impl Linear {
    fn load(file: &ModelFile<'_>, name: &str, rows: usize, cols: usize) -> Result<Self, LoadError> {
        Ok(Self {
            weight: file.matrix(&format!("{name}.w"), rows, cols)?,
            bias: file.vector(&format!("{name}.b"), rows)?,
        })
    }

    fn apply(&self, x: &QuantActs, y: &mut [f32], scratch: &mut RowScratch) {
        matmul(&self.weight, &self.bias, x, y, scratch);
    }
}

struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl LayerNorm {
    fn load(file: &ModelFile<'_>, name: &str, width: usize) -> Result<Self, LoadError> {
        Ok(Self { weight: file.vector(&format!("{name}.w"), width)?, bias: file.vector(&format!("{name}.b"), width)? })
    }

    /// `x = LayerNorm(x + residual)` row by row (`residual` absent: `LayerNorm(x)`).
    fn apply(&self, x: &mut [f32], residual: Option<&[f32]>, eps: f32) {
        let width = self.weight.len();
        for (t, row) in x.chunks_exact_mut(width).enumerate() {
            if let Some(res) = residual {
                row.iter_mut().zip(&res[t * width..][..width]).for_each(|(v, r)| *v += r);
            }
            let mean = lanes_sum(row, |v| v) / width as f32;
            let var = lanes_sum(row, |v| (v - mean) * (v - mean)) / width as f32;
            let inv = 1.0 / (var + eps).sqrt();
            for ((v, w), b) in row.iter_mut().zip(&self.weight).zip(&self.bias) {
                *v = (*v - mean) * inv * w + b;
            }
        }
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    ffn_in: Linear,
    ffn_out: Linear,
    out_norm: LayerNorm,
}

pub(crate) struct Encoder {
    config: Config,
    word: Q4Matrix,
    /// `max_positions x hidden`.
    position: Vec<f32>,
    /// Token type 0, the only one e5 uses.
    token_type: Vec<f32>,
    embed_norm: LayerNorm,
    layers: Vec<Layer>,
}

impl Encoder {
    pub(crate) fn load(file: &ModelFile<'_>) -> Result<Self, LoadError> {
        let c = file.config;
        if c.hidden / c.heads != HEAD_DIM {
            return Err(LoadError::Corrupt(format!(
                "attention heads of width {} (expected {HEAD_DIM})",
                c.hidden / c.heads
            )));
        }
        let (h, ff) = (c.hidden, c.ffn);
        let layers = (0..c.layers)
            .map(|l| {
                Ok(Layer {
                    query: Linear::load(file, &format!("l{l}.q"), h, h)?,
                    key: Linear::load(file, &format!("l{l}.k"), h, h)?,
                    value: Linear::load(file, &format!("l{l}.v"), h, h)?,
                    attn_out: Linear::load(file, &format!("l{l}.ao"), h, h)?,
                    attn_norm: LayerNorm::load(file, &format!("l{l}.aln"), h)?,
                    ffn_in: Linear::load(file, &format!("l{l}.fi"), ff, h)?,
                    ffn_out: Linear::load(file, &format!("l{l}.fo"), h, ff)?,
                    out_norm: LayerNorm::load(file, &format!("l{l}.oln"), h)?,
                })
            })
            .collect::<Result<_, LoadError>>()?;
        let mut token_type = file.vector("emb.type", c.type_vocab * h)?;
        token_type.truncate(h);
        Ok(Self {
            config: c,
            word: file.matrix("emb.word", c.vocab, h)?,
            position: file.vector("emb.pos", c.max_positions * h)?,
            token_type,
            embed_norm: LayerNorm::load(file, "emb.ln", h)?,
            layers,
        })
    }

    pub(crate) fn hidden(&self) -> usize {
        self.config.hidden
    }

    pub(crate) fn max_positions(&self) -> usize {
        self.config.max_positions
    }

    pub(crate) fn vocab(&self) -> usize {
        self.word.rows()
    }

    /// Runs `segments` (token ids including `<s>`/`</s>`, each at most `max_positions` long, every
    /// id below `vocab`) and returns each segment's mean token state, `segments.len() x hidden`.
    pub(crate) fn forward(&self, segments: &[&[u32]]) -> Vec<f32> {
        let h = self.config.hidden;
        let ff = self.config.ffn;
        let total: usize = segments.iter().map(|s| s.len()).sum();
        let mut bounds = Vec::with_capacity(segments.len());
        let mut x = vec![0f32; total * h];
        let mut at = 0;
        for &seg in segments {
            debug_assert!(seg.len() <= self.config.max_positions);
            for (p, &id) in seg.iter().enumerate() {
                let row = &mut x[(at + p) * h..][..h];
                self.word.dequantize_row(id as usize, row);
                let pos = &self.position[p * h..][..h];
                for ((v, p), t) in row.iter_mut().zip(pos).zip(&self.token_type) {
                    *v += p + t;
                }
            }
            bounds.push(at..at + seg.len());
            at += seg.len();
        }
        self.embed_norm.apply(&mut x, None, self.config.eps);

        let mut acts = QuantActs::default();
        let mut scratch = RowScratch::default();
        let (mut q, mut k, mut v) = (vec![0f32; total * h], vec![0f32; total * h], vec![0f32; total * h]);
        let mut ctx = vec![0f32; total * h];
        let mut proj = vec![0f32; total * h];
        let mut mid = vec![0f32; total * ff];
        let mut attn = AttnScratch::default();
        for layer in &self.layers {
            acts.quantize(&x, h);
            layer.query.apply(&acts, &mut q, &mut scratch);
            layer.key.apply(&acts, &mut k, &mut scratch);
            layer.value.apply(&acts, &mut v, &mut scratch);
            for seg in &bounds {
                attend(&q, &k, &v, seg.clone(), h, &mut ctx, &mut attn);
            }
            acts.quantize(&ctx, h);
            layer.attn_out.apply(&acts, &mut proj, &mut scratch);
            layer.attn_norm.apply(&mut x, Some(&proj), self.config.eps);

            acts.quantize(&x, h);
            layer.ffn_in.apply(&acts, &mut mid, &mut scratch);
            mid.iter_mut().for_each(|m| *m = math::gelu(*m));
            acts.quantize(&mid, ff);
            layer.ffn_out.apply(&acts, &mut proj, &mut scratch);
            layer.out_norm.apply(&mut x, Some(&proj), self.config.eps);
        }

        let mut means = vec![0f32; segments.len() * h];
        for (mean, seg) in means.chunks_exact_mut(h).zip(&bounds) {
            for t in seg.clone() {
                mean.iter_mut().zip(&x[t * h..][..h]).for_each(|(m, v)| *m += v);
            }
            let inv = 1.0 / seg.len() as f32;
            mean.iter_mut().for_each(|m| *m *= inv);
        }
        means
    }
}

/// `sum(f(v))` with eight running partial sums: a single f32 sum may not be reordered, so only
/// independent lanes let LLVM vectorise it.
fn lanes_sum(values: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f(v);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Dot product of two heads, in eight lanes (see [`lanes_sum`]).
fn head_dot(a: &[f32; HEAD_DIM], b: &[f32; HEAD_DIM]) -> f32 {
    let mut acc = [0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum()
}

/// Head `h` of token `t` in a `tokens x hidden` matrix.
fn head(m: &[f32], hidden: usize, t: usize, h: usize) -> &[f32; HEAD_DIM] {
    match m[t * hidden + h * HEAD_DIM..][..HEAD_DIM].try_into() {
        Ok(head) => head,
        Err(_) => unreachable!("a head is HEAD_DIM wide"),
    }
}

/// Reusable buffers of [`attend`]: one head's keys and values of a segment, contiguous.
#[derive(Default)]
struct AttnScratch {
    keys: Vec<[f32; HEAD_DIM]>,
    values: Vec<[f32; HEAD_DIM]>,
    probs: Vec<f32>,
}

/// Scaled dot-product attention of every token of `seg` to the tokens of `seg`, all heads;
/// writes `ctx` for those tokens.
fn attend(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    seg: std::ops::Range<usize>,
    hidden: usize,
    ctx: &mut [f32],
    s: &mut AttnScratch,
) {
    let heads = hidden / HEAD_DIM;
    let scale = 1.0 / (HEAD_DIM as f32).sqrt();
    s.probs.resize(seg.len(), 0.0);
    for hd in 0..heads {
        s.keys.clear();
        s.keys.extend(seg.clone().map(|t| *head(k, hidden, t, hd)));
        s.values.clear();
        s.values.extend(seg.clone().map(|t| *head(v, hidden, t, hd)));
        for t in seg.clone() {
            let qh = *head(q, hidden, t, hd);
            for (p, kh) in s.probs.iter_mut().zip(&s.keys) {
                *p = head_dot(&qh, kh) * scale;
            }
            let max = s.probs.iter().fold(-1e30f32, |m, &p| if p > m { p } else { m });
            s.probs.iter_mut().for_each(|p| *p = math::exp(*p - max));
            let inv = 1.0 / lanes_sum(&s.probs, |p| p);
            let mut acc = [0f32; HEAD_DIM];
            for (p, vh) in s.probs.iter().zip(&s.values) {
                let w = p * inv;
                for e in 0..HEAD_DIM {
                    acc[e] += w * vh[e];
                }
            }
            ctx[t * hidden + hd * HEAD_DIM..][..HEAD_DIM].copy_from_slice(&acc);
        }
    }
}
