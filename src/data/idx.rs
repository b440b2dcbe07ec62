//! IDX files (the MNIST / Fashion-MNIST format), plain or gzipped.

use std::io::Read;
use std::path::Path;

use super::DataError;

/// An IDX array: its dimensions and its values as f32, row-major.
#[derive(Clone, Debug)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<f32>,
}

/// Reads an IDX file (gzip detected by its magic bytes).
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray, DataError> {
    let p = path.as_ref().display().to_string();
    let raw = std::fs::read(path.as_ref()).map_err(|e| DataError::Io {
        path: p.clone(),
        source: e,
    })?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::Io {
                path: p.clone(),
                source: e,
            })?;
        out
    } else {
        raw
    };
    parse_idx(&bytes, &p)
}

/// Parses IDX bytes; `path` names them in errors.
pub fn parse_idx(bytes: &[u8], path: &str) -> Result<IdxArray, DataError> {
    let bad = |detail: String| DataError::Format {
        path: path.into(),
        detail,
    };
    if bytes.is_empty() {
        return Err(DataError::Empty { path: path.into() });
    }
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad(
            "not an IDX file (the magic number must start with two zero bytes)".into(),
        ));
    }
    let (kind, ndim) = (bytes[2], bytes[3] as usize);
    let width = match kind {
        0x08 | 0x09 => 1,
        0x0B => 2,
        0x0C | 0x0D => 4,
        0x0E => 8,
        k => return Err(bad(format!("unknown IDX element type 0x{k:02x}"))),
    };
    let head = 4 + 4 * ndim;
    if bytes.len() < head {
        return Err(bad(format!(
            "truncated header: {ndim} dimensions need {head} bytes, the file has {}",
            bytes.len()
        )));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| {
            u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap_or([0; 4])) as usize
        })
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(format!("dimensions {dims:?} overflow")))?;
    let need = count
        .checked_mul(width)
        .and_then(|n| n.checked_add(head))
        .ok_or_else(|| bad("size overflows".into()))?;
    if bytes.len() != need {
        return Err(bad(format!(
            "dimensions {dims:?} need {need} bytes, the file has {}",
            bytes.len()
        )));
    }
    let body = &bytes[head..];
    let data: Vec<f32> = match kind {
        0x08 => body.iter().map(|&b| f32::from(b)).collect(),
        0x09 => body.iter().map(|&b| f32::from(b as i8)).collect(),
        0x0B => body
            .chunks(2)
            .map(|c| f32::from(i16::from_be_bytes([c[0], c[1]])))
            .collect(),
        0x0C => body
            .chunks(4)
            .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
        0x0D => body
            .chunks(4)
            .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        _ => body
            .chunks(8)
            .map(|c| f64::from_be_bytes(c.try_into().unwrap_or([0; 8])) as f32)
            .collect(),
    };
    Ok(IdxArray { dims, data })
}
