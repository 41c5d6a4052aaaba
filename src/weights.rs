//! Model weights as safetensors: the format PyTorch's `safetensors` package, Hugging Face and
//! many tools read (github.com/huggingface/safetensors, "Format").
//!
//! ```text
//! 8 bytes   u64 LE        N, the header's length
//! N bytes   JSON header   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..,
//!                          "__metadata__": {"key": "value", ..}}, padded with spaces to a multiple of 8
//! rest      the tensors' bytes, little-endian, each at its offsets from the start of this block
//! ```
//!
//! Only F32 is written and read: every float tensor of a model here (parameters and BatchNorm
//! statistics) is F32. The page writes the file from values read with async reads
//! ([`crate::session::Session::weights_safetensors`]); `sslp train --load` reads it back.
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// One named tensor: its shape and its values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// The largest header accepted (100 MB, the reference implementation's limit).
const MAX_HEADER: u64 = 100_000_000;

pub fn encode(tensors: &[NamedTensor], metadata: &BTreeMap<String, String>) -> Vec<u8> {
    let mut header = Map::new();
    if !metadata.is_empty() {
        header.insert("__metadata__".into(), json!(metadata));
    }
    let mut at = 0usize;
    for t in tensors {
        let len = t.values.len() * 4;
        header.insert(t.name.clone(), json!({"dtype": "F32", "shape": t.shape, "data_offsets": [at, at + len]}));
        at += len;
    }
    let mut text = Value::Object(header).to_string().into_bytes();
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + at);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    for t in tensors {
        for v in &t.values {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// The tensors (in file order) and the metadata. Errors name what is wrong with the file.
pub fn decode(bytes: &[u8]) -> Result<(Vec<NamedTensor>, BTreeMap<String, String>), String> {
    let bad = |why: &str| format!("not a valid safetensors file: {why}");
    let n = u64::from_le_bytes(bytes.get(..8).ok_or_else(|| bad("shorter than 8 bytes"))?.try_into().expect("8 bytes"));
    if n > MAX_HEADER || 8 + n > bytes.len() as u64 {
        return Err(bad(&format!("its header claims {n} bytes of a {}-byte file", bytes.len())));
    }
    let header: Map<String, Value> = serde_json::from_slice(&bytes[8..8 + n as usize]).map_err(|e| bad(&format!("its header is not a JSON object ({e})")))?;
    let data = &bytes[8 + n as usize..];
    let mut metadata = BTreeMap::new();
    let mut tensors = Vec::new();
    for (name, entry) in header {
        if name == "__metadata__" {
            for (k, v) in entry.as_object().ok_or_else(|| bad("__metadata__ is not an object"))? {
                metadata.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
            }
            continue;
        }
        let dtype = entry["dtype"].as_str().unwrap_or("?");
        if dtype != "F32" {
            return Err(format!("tensor {name} is {dtype}; only F32 weights are read (convert it with tensor.float())"));
        }
        let dim = |d: &Value| d.as_u64().and_then(|d| usize::try_from(d).ok());
        let shape: Vec<usize> = entry["shape"].as_array().ok_or_else(|| bad(&format!("{name} has no shape")))?.iter().map(dim).collect::<Option<_>>().ok_or_else(|| bad(&format!("{name}'s shape is not whole numbers")))?;
        let offsets: Vec<usize> = entry["data_offsets"].as_array().ok_or_else(|| bad(&format!("{name} has no data_offsets")))?.iter().map(dim).collect::<Option<_>>().ok_or_else(|| bad(&format!("{name}'s data_offsets are not whole numbers")))?;
        let bytes_wanted = shape.iter().try_fold(4usize, |a, &d| a.checked_mul(d)).ok_or_else(|| bad(&format!("{name}'s shape overflows")))?;
        let [begin, end] = offsets[..] else { return Err(bad(&format!("{name} needs two data_offsets"))) };
        if begin > end || end > data.len() || end - begin != bytes_wanted {
            return Err(bad(&format!("{name}'s bytes {begin}..{end} do not hold {} F32 values in a {}-byte data block", bytes_wanted / 4, data.len())));
        }
        let values = data[begin..end].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect();
        tensors.push(NamedTensor { name, shape, values });
    }
    Ok((tensors, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_the_specified_one_and_round_trips() {
        let t = vec![
            NamedTensor { name: "a.weight".into(), shape: vec![2, 2], values: vec![1.0, -2.0, 0.5, 3.25] },
            NamedTensor { name: "b".into(), shape: vec![1], values: vec![7.0] },
        ];
        let meta = BTreeMap::from([("method".to_string(), "simclr".to_string())]);
        let bytes = encode(&t, &meta);
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(n % 8, 0);
        let header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        assert_eq!(header["a.weight"], json!({"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}));
        assert_eq!(header["b"]["data_offsets"], json!([16, 20]));
        assert_eq!(&bytes[8 + n + 4..8 + n + 8], &(-2.0f32).to_le_bytes());
        let (back, meta_back) = decode(&bytes).unwrap();
        let mut sorted = t.clone();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(back, sorted);
        assert_eq!(meta_back, meta);
    }

    #[test]
    fn damaged_files_are_refused_with_a_reason() {
        let bytes = encode(&[NamedTensor { name: "w".into(), shape: vec![3], values: vec![1.0, 2.0, 3.0] }], &BTreeMap::new());
        assert!(decode(&bytes[..bytes.len() - 1]).unwrap_err().contains("do not hold 3 F32 values"));
        assert!(decode(&bytes[..5]).unwrap_err().contains("shorter than 8"));
        let mut huge = bytes.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode(&huge).unwrap_err().contains("header claims"));
        let f16 = br#"{"w":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}"#;
        let mut file = (f16.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(f16);
        file.extend_from_slice(&[0, 0]);
        assert!(decode(&file).unwrap_err().contains("only F32"));
    }
}
