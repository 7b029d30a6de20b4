//! [`E5Model`]: multilingual-e5-small sentence embeddings from the packed 4-bit model file.
//!
//! A text is prefixed (`query: ` or `passage: `) and tokenised whole. A text longer than the
//! model's 512 positions is not cut off: as in the reference engine it is split, without
//! overlap, into windows of up to 510 content tokens, each run as its own `<s> … </s>` input,
//! and the result is the token-count-weighted average of the windows' mean-pooled vectors (equal
//! to mean pooling over the whole text, up to attention across window borders), L2-normalised.
//!
//! Inference takes `&self`: one loaded model serves every thread. A batch is split across
//! [`E5Model::threads`] worker threads by token count; each runs its share through the encoder
//! in passes of at most [`TOKENS_PER_PASS`] tokens, which reads every weight once per pass and
//! bounds the activation memory (about 20 KB per token).

use crate::encoder::Encoder;
use crate::format::{LoadError, ModelFile};
use crate::quant::Image;
use crate::tokenizer::Tokenizer;
use frontdesk_agent::EmbedKind;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Upper bound of the tokens one encoder pass takes (a window is at most 512).
const TOKENS_PER_PASS: usize = 1024;

/// Below this many tokens a batch runs on the calling thread: starting workers costs more.
const MIN_TOKENS_PER_THREAD: usize = 64;

/// The loaded model: the file's bytes (the 4-bit weights are used in place) and the tables
/// built from them.
pub struct E5Model {
    tokenizer: Tokenizer,
    encoder: Encoder,
    threads: usize,
}

impl std::fmt::Debug for E5Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("E5Model")
            .field("dimensions", &self.dimensions())
            .field("max_tokens", &self.max_tokens())
            .field("threads", &self.threads)
            .finish()
    }
}

/// One encoder input: part of a text between `<s>` and `</s>`.
struct Window {
    text: usize,
    ids: Vec<u32>,
    /// Content tokens (at least 1), the window's weight in its text's average.
    weight: f32,
}

impl E5Model {
    /// Reads the model file into memory and parses it. CPU and disk bound (tens of
    /// milliseconds): call it from a blocking context.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let path = path.as_ref();
        let started = Instant::now();
        let bytes = std::fs::read(path).map_err(|source| LoadError::Io { path: path.to_owned(), source })?;
        let model = Self::from_image(Arc::new(bytes))?;
        tracing::debug!(path = %path.display(), ms = started.elapsed().as_millis() as u64, "e5 model loaded");
        Ok(model)
    }

    /// Parses a model image held in memory (copied).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LoadError> {
        Self::from_image(Arc::new(bytes.to_vec()))
    }

    fn from_image(image: Image) -> Result<Self, LoadError> {
        let file = ModelFile::parse(&image)?;
        let encoder = Encoder::load(&file)?;
        if file.tokenizer.scores.len() > encoder.vocab() {
            return Err(LoadError::Corrupt("more tokenizer pieces than embeddings".into()));
        }
        let tokenizer = Tokenizer::new(file.tokenizer);
        let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Ok(Self { tokenizer, encoder, threads })
    }

    /// The same model using at most `threads` threads per batch (at least 1).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Threads a batch may use (by default, the machine's available parallelism).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Length of every vector (384).
    pub fn dimensions(&self) -> usize {
        self.encoder.hidden()
    }

    /// Tokens one encoder window holds, `<s>` and `</s>` included (512).
    pub fn max_tokens(&self) -> usize {
        self.encoder.max_positions()
    }

    /// Tokens the model reads for `text`: prefix and content plus `<s>` and `</s>`, counted
    /// as one window (a longer text is embedded in several windows, see the module docs).
    pub fn token_count(&self, text: &str, kind: EmbedKind) -> usize {
        self.tokenize(text, kind).len() + 2
    }

    /// The vocabulary ids of the prefixed text, without `<s>` and `</s>`.
    pub fn tokenize(&self, text: &str, kind: EmbedKind) -> Vec<u32> {
        let prefix = match kind {
            EmbedKind::Query => "query: ",
            EmbedKind::Passage => "passage: ",
        };
        self.tokenizer.content_ids(&format!("{prefix}{text}"))
    }

    /// The L2-normalised embedding of one text.
    pub fn embed(&self, text: &str, kind: EmbedKind) -> Vec<f32> {
        self.embed_batch(&[text], kind).pop().unwrap_or_default()
    }

    /// One L2-normalised embedding per text, in order; equal to embedding each alone.
    pub fn embed_batch<S: AsRef<str>>(&self, texts: &[S], kind: EmbedKind) -> Vec<Vec<f32>> {
        let windows = self.windows(texts, kind);
        let means = self.run(&windows);
        let h = self.dimensions();
        let mut out = vec![vec![0f32; h]; texts.len()];
        let mut weights = vec![0f64; texts.len()];
        for (w, mean) in windows.iter().zip(means.chunks_exact(h)) {
            out[w.text].iter_mut().zip(mean).for_each(|(o, m)| *o += w.weight * m);
            weights[w.text] += f64::from(w.weight);
        }
        for (v, total) in out.iter_mut().zip(weights) {
            let inv = if total > 0.0 { (1.0 / total) as f32 } else { 1.0 };
            let mut norm = 0f32;
            for x in v.iter_mut() {
                *x *= inv;
                norm += *x * *x;
            }
            let inv_norm = 1.0 / norm.max(1e-12).sqrt();
            v.iter_mut().for_each(|x| *x *= inv_norm);
        }
        out
    }

    fn windows<S: AsRef<str>>(&self, texts: &[S], kind: EmbedKind) -> Vec<Window> {
        let per_window = self.max_tokens() - 2;
        let mut windows = Vec::with_capacity(texts.len());
        for (text, t) in texts.iter().enumerate() {
            let content = self.tokenize(t.as_ref(), kind);
            let mut chunks: Vec<&[u32]> = content.chunks(per_window).collect();
            if chunks.is_empty() {
                chunks.push(&[]);
            }
            for chunk in chunks {
                let mut ids = Vec::with_capacity(chunk.len() + 2);
                ids.push(self.tokenizer.bos());
                ids.extend_from_slice(chunk);
                ids.push(self.tokenizer.eos());
                windows.push(Window { text, ids, weight: chunk.len().max(1) as f32 });
            }
        }
        windows
    }

    /// The mean-pooled vector of every window, in order, using up to `threads` threads.
    fn run(&self, windows: &[Window]) -> Vec<f32> {
        let tokens: usize = windows.iter().map(|w| w.ids.len()).sum();
        let threads = self.threads.min(windows.len()).min(tokens / MIN_TOKENS_PER_THREAD).max(1);
        if threads == 1 {
            return self.run_serial(windows);
        }
        // Contiguous groups of about equal token counts.
        let mut groups: Vec<&[Window]> = Vec::with_capacity(threads);
        let (mut start, mut acc) = (0, 0);
        for (i, w) in windows.iter().enumerate() {
            acc += w.ids.len();
            let groups_after = threads - groups.len() - 1;
            let windows_after = windows.len() - i - 1;
            if groups_after > 0 && windows_after >= groups_after && acc * threads >= tokens * (groups.len() + 1) {
                groups.push(&windows[start..=i]);
                start = i + 1;
            }
        }
        groups.push(&windows[start..]);
        std::thread::scope(|scope| {
            let workers: Vec<_> = groups[1..].iter().map(|g| scope.spawn(|| self.run_serial(g))).collect();
            let mut means = self.run_serial(groups[0]);
            for worker in workers {
                match worker.join() {
                    Ok(part) => means.extend(part),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            means
        })
    }

    fn run_serial(&self, windows: &[Window]) -> Vec<f32> {
        let mut means = Vec::with_capacity(windows.len() * self.dimensions());
        let mut pass: Vec<&[u32]> = Vec::new();
        let mut pass_tokens = 0;
        for w in windows {
            if !pass.is_empty() && pass_tokens + w.ids.len() > TOKENS_PER_PASS {
                means.extend(self.encoder.forward(&pass));
                pass.clear();
                pass_tokens = 0;
            }
            pass_tokens += w.ids.len();
            pass.push(&w.ids);
        }
        if !pass.is_empty() {
            means.extend(self.encoder.forward(&pass));
        }
        means
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiny_model;

    fn tiny() -> E5Model {
        E5Model::from_bytes(&tiny_model::bytes()).unwrap()
    }

    #[test]
    fn the_model_is_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<E5Model>();
    }

    #[test]
    fn prefixes_and_token_counts() {
        let m = tiny();
        assert_eq!((m.dimensions(), m.max_tokens()), (tiny_model::HIDDEN, tiny_model::MAX_POSITIONS));
        // ▁query : ▁hello, and ▁passage : ▁hello.
        assert_eq!(m.tokenize("hello", EmbedKind::Query), vec![5, 6, 12]);
        assert_eq!(m.tokenize("hello", EmbedKind::Passage), vec![7, 6, 12]);
        assert_eq!(m.token_count("hello", EmbedKind::Query), 5);
        let a = m.embed("hello", EmbedKind::Query);
        let b = m.embed("hello", EmbedKind::Passage);
        assert_eq!(a.len(), tiny_model::HIDDEN);
        assert_ne!(a, b, "the prefix matters");
    }

    #[test]
    fn long_texts_run_in_windows_weighted_by_their_tokens() {
        let m = tiny();
        // 2 prefix tokens + 8 pieces = 10 content tokens: windows of 6 and 4.
        let text = "a a a a a a a a";
        assert_eq!(m.token_count(text, EmbedKind::Query), 12);
        let windows = m.windows(&[text], EmbedKind::Query);
        let sizes: Vec<(usize, f32)> = windows.iter().map(|w| (w.ids.len(), w.weight)).collect();
        assert_eq!(sizes, vec![(8, 6.0), (6, 4.0)]);
        assert!(windows.iter().all(|w| w.ids[0] == 0 && w.ids[w.ids.len() - 1] == 2));

        // The text's vector is the weighted mean of its windows' means, normalised.
        let means = m.run(&windows);
        let h = m.dimensions();
        let mut expected: Vec<f32> = (0..h).map(|i| (6.0 * means[i] + 4.0 * means[h + i]) / 10.0).collect();
        let norm = expected.iter().map(|x| x * x).sum::<f32>().sqrt();
        expected.iter_mut().for_each(|x| *x /= norm);
        let got = m.embed(text, EmbedKind::Query);
        assert!(got.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-6), "{got:?} vs {expected:?}");
        assert!((got.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn batches_on_any_number_of_threads_equal_single_texts() {
        let texts: Vec<String> = (0..60)
            .map(|i| ["hello", "a b", "", "b b b a a a a b", "\u{1}hello\tb"][i % 5].repeat(1 + i % 3))
            .collect();
        let single: Vec<Vec<f32>> = {
            let m = tiny().with_threads(1);
            texts.iter().map(|t| m.embed(t, EmbedKind::Passage)).collect()
        };
        for threads in [1, 2, 3, 8] {
            let m = tiny().with_threads(threads);
            assert_eq!(m.embed_batch(&texts, EmbedKind::Passage), single, "{threads} threads");
        }
        assert!(tiny().embed_batch::<&str>(&[], EmbedKind::Query).is_empty());
    }
}
