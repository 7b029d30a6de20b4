//! The XLM-RoBERTa SentencePiece-unigram tokenizer, exactly as the reference engine (`e5.c`) runs
//! it: a per-code-point normalisation map (the model's NFKC-style table, control characters
//! removed, tabs and newlines to spaces), runs of spaces collapsed, the metaspace marker `▁` for
//! every space plus one in front, then the highest-scoring segmentation into vocabulary pieces
//! (Viterbi, f32 scores; a character no piece covers becomes `<unk>`).
//!
//! Unlike the C code, which reads NUL-terminated strings, a Rust string may contain U+0000; it is
//! dropped like the other control characters.

/// The SentencePiece metaspace marker U+2581, written for every space.
const METASPACE: char = '\u{2581}';

/// Score of the single-character `<unk>` fallback, below every real piece.
const UNK_PENALTY: f32 = 10.0;

/// The vocabulary and normalisation tables, as read from the model file.
pub(crate) struct TokenizerData {
    pub bos: u32,
    pub eos: u32,
    pub unk: u32,
    /// `pieces + 1` byte offsets into `blob`, non-decreasing.
    pub offsets: Vec<u32>,
    pub scores: Vec<f32>,
    pub blob: Vec<u8>,
    /// Code points with a replacement, strictly increasing.
    pub norm_from: Vec<u32>,
    /// `norm_from.len() + 1` offsets into `norm_to`.
    pub norm_offsets: Vec<u32>,
    /// Replacement code points, flattened.
    pub norm_to: Vec<char>,
}

pub(crate) struct Tokenizer {
    data: TokenizerData,
    unk_score: f32,
    max_piece_bytes: usize,
    /// Open addressing with linear probing: `piece + 1`, 0 for an empty slot.
    table: Vec<u32>,
    mask: usize,
}

/// 64-bit FNV-1a, the reference engine's piece hash.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

impl Tokenizer {
    pub(crate) fn new(data: TokenizerData) -> Self {
        let pieces = data.scores.len();
        let min_score = data.scores.iter().copied().fold(1e30f32, f32::min);
        let max_piece_bytes = data.offsets.windows(2).map(|w| (w[1] - w[0]) as usize).max().unwrap_or(0).max(1);
        let size = (pieces * 2).next_power_of_two().max(2);
        let mask = size - 1;
        let mut table = vec![0u32; size];
        for id in 0..pieces {
            let bytes = piece(&data, id);
            if bytes.is_empty() {
                continue;
            }
            let mut slot = fnv1a(bytes) as usize & mask;
            while table[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            table[slot] = id as u32 + 1;
        }
        Self { data, unk_score: min_score - UNK_PENALTY, max_piece_bytes, table, mask }
    }

    pub(crate) fn bos(&self) -> u32 {
        self.data.bos
    }

    pub(crate) fn eos(&self) -> u32 {
        self.data.eos
    }

    /// The piece spelled by `bytes` (the first one when the vocabulary repeats a spelling).
    fn lookup(&self, bytes: &[u8]) -> Option<u32> {
        let mut slot = fnv1a(bytes) as usize & self.mask;
        loop {
            let id = self.table[slot].checked_sub(1)?;
            if piece(&self.data, id as usize) == bytes {
                return Some(id);
            }
            slot = (slot + 1) & self.mask;
        }
    }

    /// Applies the normalisation map and collapses runs of spaces.
    fn normalize(&self, text: &str) -> Vec<char> {
        let d = &self.data;
        let mut out: Vec<char> = Vec::with_capacity(text.len());
        let mut push = |c: char| {
            if !(c == ' ' && out.last() == Some(&' ')) {
                out.push(c);
            }
        };
        for c in text.chars() {
            if c == '\0' {
                continue;
            }
            match d.norm_from.binary_search(&u32::from(c)) {
                Err(_) => push(c),
                Ok(i) => {
                    d.norm_to[d.norm_offsets[i] as usize..d.norm_offsets[i + 1] as usize].iter().for_each(|&r| push(r))
                }
            }
        }
        out
    }

    /// The content tokens of `text` (no `<s>`/`</s>`), in order.
    pub(crate) fn content_ids(&self, text: &str) -> Vec<u32> {
        let chars = self.normalize(text);
        // The metaspaced text as UTF-8, and where each character starts in it.
        let mut buf = String::with_capacity(chars.len() * 3 + 3);
        let mut starts = Vec::with_capacity(chars.len() + 2);
        if chars.first() != Some(&' ') {
            starts.push(0);
            buf.push(METASPACE);
        }
        for &c in &chars {
            starts.push(buf.len());
            buf.push(if c == ' ' { METASPACE } else { c });
        }
        starts.push(buf.len());
        let bytes = buf.as_bytes();
        let n = starts.len() - 1;

        // best[i]: the highest score of a segmentation of the first i characters; `from` and
        // `piece` say how it ends (`None`: a single unknown character).
        let mut best = vec![-1e30f32; n + 1];
        let mut from = vec![0usize; n + 1];
        let mut piece: Vec<Option<u32>> = vec![None; n + 1];
        best[0] = 0.0;
        for i in 0..n {
            if best[i] <= -1e29 {
                continue;
            }
            for e in i + 1..=n {
                let span = &bytes[starts[i]..starts[e]];
                if span.len() > self.max_piece_bytes {
                    break;
                }
                if let Some(id) = self.lookup(span).filter(|&id| id != self.data.unk) {
                    let score = best[i] + self.data.scores[id as usize];
                    if score > best[e] {
                        best[e] = score;
                        from[e] = i;
                        piece[e] = Some(id);
                    }
                }
            }
            let score = best[i] + self.unk_score;
            if score > best[i + 1] {
                best[i + 1] = score;
                from[i + 1] = i;
                piece[i + 1] = None;
            }
        }
        let mut ids = Vec::new();
        let mut i = n;
        while i > 0 {
            ids.push(piece[i].unwrap_or(self.data.unk));
            i = from[i];
        }
        ids.reverse();
        ids
    }
}

fn piece(data: &TokenizerData, id: usize) -> &[u8] {
    &data.blob[data.offsets[id] as usize..data.offsets[id + 1] as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy vocabulary: specials, then pieces with scores.
    fn toy(pieces: &[(&str, f32)], norm: &[(char, &str)]) -> Tokenizer {
        let mut all = vec![("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)];
        all.extend_from_slice(pieces);
        let mut blob = Vec::new();
        let mut offsets = vec![0];
        for (p, _) in &all {
            blob.extend_from_slice(p.as_bytes());
            offsets.push(blob.len() as u32);
        }
        let mut norm_from = Vec::new();
        let mut norm_offsets = vec![0];
        let mut norm_to = Vec::new();
        for (c, to) in norm {
            norm_from.push(u32::from(*c));
            norm_to.extend(to.chars());
            norm_offsets.push(norm_to.len() as u32);
        }
        Tokenizer::new(TokenizerData {
            bos: 0,
            eos: 2,
            unk: 3,
            offsets,
            scores: all.iter().map(|(_, s)| *s).collect(),
            blob,
            norm_from,
            norm_offsets,
            norm_to,
        })
    }

    #[test]
    fn best_segmentation_wins() {
        let t = toy(&[("▁hello", -1.0), ("▁hel", -2.0), ("lo", -2.0), ("▁", -3.0), ("h", -4.0), ("e", -4.0)], &[]);
        // "▁hello" (-1) beats "▁hel" + "lo" (-4).
        assert_eq!(t.content_ids("hello"), vec![4]);
        // Unknown characters fall back to <unk> one by one.
        assert_eq!(t.content_ids("hello zz"), vec![4, 7, 3, 3]);
    }

    #[test]
    fn normalisation_collapses_spaces_and_applies_the_map() {
        let t = toy(&[("▁a", -1.0), ("▁b", -1.0), ("▁", -5.0)], &[('\u{1}', ""), ('\t', " "), ('Ａ', "a")]);
        assert_eq!(t.content_ids("a \t  b"), vec![4, 5]);
        assert_eq!(t.content_ids("Ａ\u{1}\0"), vec![4], "mapped, control characters removed");
        // A leading space becomes the one metaspace; a trailing one stays.
        assert_eq!(t.content_ids(" a "), vec![4, 6]);
        assert_eq!(t.content_ids(""), vec![6]);
    }

    #[test]
    fn the_unknown_piece_is_never_matched_by_spelling() {
        let t = toy(&[("▁", -1.0)], &[]);
        assert_eq!(t.content_ids("<unk>"), vec![4, 3, 3, 3, 3, 3]);
    }
}
