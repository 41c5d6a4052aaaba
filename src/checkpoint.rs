//! Checkpoints: everything a run needs to continue exactly where it stopped, in one file
//! with a checksum.
//!
//! ```text
//! offset  size          field
//! 0       8             magic b"SSLPCKP1"
//! 8       4   u32 LE    header_len
//! 12      header_len    header: JSON of [`ResumeState`] (config, step, random streams, samplers)
//! ..      8   u64 LE    model_len, then the model (burnpack: parameters with their ids, BatchNorm statistics)
//! ..      8   u64 LE    optimizer_len, then the optimizer state (burnpack: momentum, Adam moments)
//! ..      4   u32 LE    CRC-32 of every byte before it
//! ```
//!
//! The checksum is verified before anything else is read, so a file with a flipped bit is
//! refused with a message instead of loading weights that turn to NaN at the next step.
//! Every length is checked against the bytes that are really there before it is used.
use crate::config::RunConfig;
use crate::data::zip::crc32;
use crate::data::Sampler;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

pub const MAGIC: &[u8; 8] = b"SSLPCKP1";

/// The run's position: with the model and optimizer state, all a resumed run needs to draw
/// the same batches and views and follow the same schedule as an uninterrupted one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeState {
    pub config: RunConfig,
    /// Steps done.
    pub step: usize,
    pub data_rng: Rng,
    pub view_rng: Rng,
    pub unlabelled: Sampler,
    pub labelled: Option<Sampler>,
    /// The untrained backbone's kNN per layer (names, accuracies), measured at step 0.
    pub random_init: Option<(Vec<String>, Vec<f64>)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub state: ResumeState,
    pub model: Vec<u8>,
    pub optimizer: Vec<u8>,
}

impl Checkpoint {
    pub fn encode(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.state).expect("the resume state serialises");
        let mut out = Vec::with_capacity(36 + header.len() + self.model.len() + self.optimizer.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        for section in [&self.model, &self.optimizer] {
            out.extend_from_slice(&(section.len() as u64).to_le_bytes());
            out.extend_from_slice(section);
        }
        let sum = crc32(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Verify and split a checkpoint file. Errors say what is wrong with the file.
    pub fn decode(bytes: &[u8]) -> Result<Checkpoint, String> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err("not an ssl-playground checkpoint (it does not start with SSLPCKP1); checkpoints are written by `sslp train --save`".into());
        }
        // magic + header length + two section lengths + checksum
        if bytes.len() < 8 + 4 + 8 + 8 + 4 {
            return Err(format!("the checkpoint is truncated ({} bytes); the file is damaged", bytes.len()));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes(sum.try_into().expect("4 bytes"));
        if crc32(body) != stored {
            return Err("the checkpoint's checksum does not match its contents: the file is damaged or was cut short; use an earlier checkpoint".into());
        }
        let mut at = MAGIC.len();
        let mut take = |n: u64, what: &str| -> Result<&[u8], String> {
            let end = (at as u64).checked_add(n).filter(|&e| e <= body.len() as u64).ok_or_else(|| format!("the checkpoint's {what} runs past the end of the file"))?;
            let slice = &body[at..end as usize];
            at = end as usize;
            Ok(slice)
        };
        let header_len = u32::from_le_bytes(take(4, "header length")?.try_into().expect("4 bytes"));
        let header = take(header_len as u64, "header")?;
        let state: ResumeState = serde_json::from_slice(header).map_err(|e| format!("the checkpoint's header is not valid: {e}"))?;
        let model_len = u64::from_le_bytes(take(8, "model length")?.try_into().expect("8 bytes"));
        let model = take(model_len, "model")?.to_vec();
        let optimizer_len = u64::from_le_bytes(take(8, "optimizer length")?.try_into().expect("8 bytes"));
        let optimizer = take(optimizer_len, "optimizer state")?.to_vec();
        if at != body.len() {
            return Err(format!("the checkpoint has {} unexpected bytes after its sections", body.len() - at));
        }
        Ok(Checkpoint { state, model, optimizer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        let mut rng = Rng::new(3);
        let mut sampler = Sampler::new((0..10).collect());
        sampler.next(4, &mut rng);
        let state = ResumeState {
            config: RunConfig::default(),
            step: 7,
            data_rng: rng.clone(),
            view_rng: rng.fork(b"views"),
            unlabelled: sampler,
            labelled: None,
            random_init: Some((vec!["stage1".into()], vec![0.5])),
        };
        Checkpoint { state, model: vec![1, 2, 3], optimizer: vec![9; 5] }
    }

    #[test]
    fn round_trip_and_every_flipped_bit_is_caught() {
        let c = sample();
        let bytes = c.encode();
        assert_eq!(Checkpoint::decode(&bytes).unwrap(), c);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(Checkpoint::decode(&bad).is_err(), "a flipped bit at byte {i} was not caught");
        }
        let e = Checkpoint::decode(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(e.contains("checksum"), "{e}");
        let e = Checkpoint::decode(b"PK\x03\x04 something else").unwrap_err();
        assert!(e.contains("not an ssl-playground checkpoint"), "{e}");
    }
}
