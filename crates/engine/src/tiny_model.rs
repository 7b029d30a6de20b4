//! A tiny model file in the real format (one layer, 32 wide, a handful of pieces, pseudo-random
//! weights) for tests of the parser and the windowing that need no 72 MB download.

use crate::quant::BLOCK;

pub(crate) const HIDDEN: usize = 32;
pub(crate) const FFN: usize = 64;
/// Room for 6 content tokens per window.
pub(crate) const MAX_POSITIONS: usize = 8;

/// Pieces after the four specials (`<s>`, `<pad>`, `</s>`, `<unk>`), with scores.
pub(crate) const PIECES: &[(&str, f32)] = &[
    ("▁", -2.0),
    ("▁query", -1.0),
    (":", -1.5),
    ("▁passage", -1.0),
    ("▁a", -1.0),
    ("▁b", -1.0),
    ("a", -3.0),
    ("b", -3.0),
    ("▁hello", -1.0),
    ("<mask>", 0.0),
];

/// A deterministic stream of pseudo-random numbers in `[-1, 1)`.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

enum Data {
    F32(Vec<f32>),
    Q4 { rows: usize, cols: usize },
}

/// The model file's bytes.
pub(crate) fn bytes() -> Vec<u8> {
    let vocab = 4 + PIECES.len();
    let mut out = b"E5S1".to_vec();
    out.extend(1u32.to_le_bytes());
    for v in [HIDDEN, 1, 1, FFN, vocab, MAX_POSITIONS, 1] {
        out.extend((v as i32).to_le_bytes());
    }
    out.extend(1e-12f32.to_le_bytes());
    out.extend((BLOCK as i32).to_le_bytes());

    // Tokenizer: pieces, bos 0, eos 2, pad 1, unk 3.
    let mut names = vec![("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)];
    names.extend_from_slice(PIECES);
    for v in [names.len() as i32, 0, 2, 1, 3] {
        out.extend(v.to_le_bytes());
    }
    let blob: Vec<u8> = names.iter().flat_map(|(n, _)| n.bytes()).collect();
    out.extend((blob.len() as u64).to_le_bytes());
    let mut offset = 0u32;
    out.extend(offset.to_le_bytes());
    for (n, _) in &names {
        offset += n.len() as u32;
        out.extend(offset.to_le_bytes());
    }
    for (_, score) in &names {
        out.extend(score.to_le_bytes());
    }
    out.extend(&blob);
    // Normaliser: U+0001 removed, tab to space.
    let norm: &[(u32, &[u32])] = &[(1, &[]), (9, &[32])];
    let table: Vec<u8> = norm
        .iter()
        .flat_map(|(from, to)| {
            let mut e = from.to_le_bytes().to_vec();
            e.push(to.len() as u8);
            e.extend(to.iter().flat_map(|t| t.to_le_bytes()));
            e
        })
        .collect();
    out.extend((norm.len() as i32).to_le_bytes());
    out.extend((table.len() as u32).to_le_bytes());
    out.extend(&table);

    let (h, ff) = (HIDDEN, FFN);
    let ones = |n| Data::F32(vec![1.0; n]);
    let mut noise = Noise(7);
    let mut small = |n: usize| Data::F32((0..n).map(|_| noise.next() * 0.1).collect());
    let mut tensors: Vec<(String, Data)> = vec![
        ("emb.word".into(), Data::Q4 { rows: vocab, cols: h }),
        ("emb.pos".into(), small(MAX_POSITIONS * h)),
        ("emb.type".into(), small(h)),
        ("emb.ln.w".into(), ones(h)),
        ("emb.ln.b".into(), small(h)),
    ];
    for (name, rows, cols) in [("q", h, h), ("k", h, h), ("v", h, h), ("ao", h, h), ("fi", ff, h), ("fo", h, ff)] {
        tensors.push((format!("l0.{name}.w"), Data::Q4 { rows, cols }));
        tensors.push((format!("l0.{name}.b"), small(rows)));
    }
    for norm in ["aln", "oln"] {
        tensors.push((format!("l0.{norm}.w"), ones(h)));
        tensors.push((format!("l0.{norm}.b"), small(h)));
    }

    let dir_len: usize = 4 + tensors.iter().map(|(n, _)| 2 + n.len() + 1 + 4 + 16).sum::<usize>();
    let mut data = Vec::new();
    let mut dir = (tensors.len() as i32).to_le_bytes().to_vec();
    for (name, tensor) in &tensors {
        let start = out.len() + dir_len + data.len();
        let (dtype, elements) = match tensor {
            Data::F32(v) => {
                data.extend(v.iter().flat_map(|x| x.to_le_bytes()));
                (0u8, v.len())
            }
            Data::Q4 { rows, cols } => {
                for _ in 0..rows * cols / BLOCK {
                    // Scale 1/16 (f16 0x2C00), then 16 bytes of nibbles.
                    data.extend(0x2C00u16.to_le_bytes());
                    data.extend((0..BLOCK / 2).map(|_| ((noise.next() + 1.0) * 128.0) as u8));
                }
                (1u8, rows * cols)
            }
        };
        dir.extend((name.len() as u16).to_le_bytes());
        dir.extend(name.as_bytes());
        dir.push(dtype);
        dir.extend((elements as u32).to_le_bytes());
        dir.extend((start as u64).to_le_bytes());
        dir.extend(((out.len() + dir_len + data.len() - start) as u64).to_le_bytes());
    }
    out.extend(dir);
    out.extend(data);
    out
}
