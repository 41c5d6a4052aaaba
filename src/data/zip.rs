//! Zip archives, read and written: a user's image folder arrives as a `.zip`, and the
//! Embedding Projector export leaves as one.
//!
//! Only what those two need, from the format's specification (PKWARE APPNOTE.TXT):
//! - reading: the end-of-central-directory record, then each central-directory entry and
//!   its local header; entries stored (method 0) or deflated (method 8), checked against
//!   their CRC-32. Zip64, encryption and other methods are refused per entry, with a reason.
//! - writing: stored entries only (the payloads are TSV text and a PNG, small or already
//!   compressed), which every unzip tool and the Projector's loader read.
//!
//! Every size and offset is checked against the bytes really there before it is used, and a
//! deflated entry is inflated no further than the size its header claims, so a zip bomb costs
//! at most [`MAX_ENTRY_BYTES`].
use std::io::Read;

/// The most one entry may inflate to: 64 MiB, far above any image the importer accepts.
pub const MAX_ENTRY_BYTES: u64 = 64 << 20;
const EOCD_SIGNATURE: u32 = 0x0605_4b50;
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
const LOCAL_SIGNATURE: u32 = 0x0403_4b50;
const EOCD_LEN: usize = 22;
const CENTRAL_LEN: usize = 46;
const LOCAL_LEN: usize = 30;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

/// One file of an archive, located but not yet unpacked: [`extract`] reads it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    flags: u16,
    method: u16,
    crc: u32,
    packed: u64,
    size: u64,
    local_at: u64,
}

/// The most all entries together may claim to unpack to: 4 GiB. Entries are unpacked one at a
/// time, so memory holds one at most; this bounds the work a small hostile zip can ask for.
pub const MAX_TOTAL_BYTES: u64 = 4 << 30;

/// Every file entry of the archive `bytes`, in central-directory order; folders are left out.
/// An error here means the archive as a whole cannot be read. Offsets are kept as u64, so a
/// damaged one cannot wrap on a 32-bit target (wasm).
pub fn entries(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let len = bytes.len();
    if len < EOCD_LEN {
        return Err("not a zip archive (too short); choose a .zip file or the folder itself".into());
    }
    // The end record sits in the last 22 bytes plus a comment of at most 65,535.
    let search_from = len.saturating_sub(EOCD_LEN + u16::MAX as usize);
    let eocd = (search_from..=len - EOCD_LEN)
        .rev()
        .find(|&at| u32_at(bytes, at) == EOCD_SIGNATURE)
        .ok_or("not a zip archive (no end-of-central-directory record); choose a .zip file or the folder itself")?;
    let count = u16_at(bytes, eocd + 10) as usize;
    let dir_len = u32_at(bytes, eocd + 12) as u64;
    let dir_at = u32_at(bytes, eocd + 16) as u64;
    if count == 0xFFFF || dir_at == 0xFFFF_FFFF {
        return Err("this zip uses the Zip64 extension (over 65,535 files or 4 GiB), which is not supported; zip fewer images".into());
    }
    if dir_at + dir_len > eocd as u64 {
        return Err("the zip's central directory points outside the file; the archive is damaged".into());
    }
    let mut out = Vec::with_capacity(count);
    let mut at = dir_at as usize;
    let mut total = 0u64;
    for _ in 0..count {
        if at + CENTRAL_LEN > eocd || u32_at(bytes, at) != CENTRAL_SIGNATURE {
            return Err("the zip's central directory is damaged".into());
        }
        let (name_len, extra_len, comment_len) =
            (u16_at(bytes, at + 28) as usize, u16_at(bytes, at + 30) as usize, u16_at(bytes, at + 32) as usize);
        let name_end = at + CENTRAL_LEN + name_len;
        if name_end > eocd {
            return Err("the zip's central directory is damaged".into());
        }
        let entry = Entry {
            path: String::from_utf8_lossy(&bytes[at + CENTRAL_LEN..name_end]).replace('\\', "/"),
            flags: u16_at(bytes, at + 8),
            method: u16_at(bytes, at + 10),
            crc: u32_at(bytes, at + 16),
            packed: u32_at(bytes, at + 20) as u64,
            size: u32_at(bytes, at + 24) as u64,
            local_at: u32_at(bytes, at + 42) as u64,
        };
        at = name_end + extra_len + comment_len;
        if entry.path.ends_with('/') {
            continue; // a folder
        }
        total += entry.size;
        if total > MAX_TOTAL_BYTES {
            return Err(format!("the zip's files unpack to more than {} GiB; zip fewer or smaller images", MAX_TOTAL_BYTES >> 30));
        }
        out.push(entry);
    }
    Ok(out)
}

/// The bytes of one entry, or why they cannot be read (the archive's other entries may still be).
pub fn extract(bytes: &[u8], e: &Entry) -> Result<Vec<u8>, String> {
    if e.flags & 1 != 0 {
        return Err("encrypted; unzip it with its password first".into());
    }
    if e.size > MAX_ENTRY_BYTES {
        return Err(format!("{} bytes unpacked, over the {} MiB a file may have", e.size, MAX_ENTRY_BYTES >> 20));
    }
    let len = bytes.len() as u64;
    if e.local_at + LOCAL_LEN as u64 > len || u32_at(bytes, e.local_at as usize) != LOCAL_SIGNATURE {
        return Err("its local header is missing; the archive is damaged".into());
    }
    let local = e.local_at as usize;
    let data_at = e.local_at + LOCAL_LEN as u64 + u16_at(bytes, local + 26) as u64 + u16_at(bytes, local + 28) as u64;
    if data_at + e.packed > len {
        return Err("truncated archive".into());
    }
    let data = &bytes[data_at as usize..(data_at + e.packed) as usize];
    let unpacked = match e.method {
        0 => data.to_vec(),
        8 => {
            let mut v = Vec::with_capacity(e.size as usize);
            flate2::read::DeflateDecoder::new(data)
                .take(e.size + 1)
                .read_to_end(&mut v)
                .map_err(|err| format!("cannot inflate ({err}); the archive is damaged"))?;
            v
        }
        m => return Err(format!("compressed with method {m}; only stored and deflated files are read, re-zip it")),
    };
    if unpacked.len() as u64 != e.size || crc32(&unpacked) != e.crc {
        return Err("its checksum does not match; the archive is damaged".into());
    }
    Ok(unpacked)
}

/// A file entry with its bytes, or why they cannot be read.
#[derive(Debug)]
pub struct Unpacked {
    pub path: String,
    pub bytes: Result<Vec<u8>, String>,
}

/// Every file entry with its bytes, all unpacked at once: for small archives (the tests, the
/// exports). The importer unpacks one entry at a time instead ([`entries`], [`extract`]).
pub fn read(bytes: &[u8]) -> Result<Vec<Unpacked>, String> {
    Ok(entries(bytes)?.into_iter().map(|e| Unpacked { bytes: extract(bytes, &e), path: e.path }).collect())
}

/// A zip of `files` (path, bytes), stored without compression.
pub fn write_stored(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    // DOS date/time of 1980-01-01 00:00, so the same files always give the same bytes.
    let (time, date) = (0u16, (1u16 << 5) | 1);
    for (path, data) in files {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let fixed = |sig: u32, v: &mut Vec<u8>| {
            v.extend_from_slice(&sig.to_le_bytes());
            if sig == CENTRAL_SIGNATURE {
                v.extend_from_slice(&20u16.to_le_bytes()); // made by: version 2.0
            }
            v.extend_from_slice(&20u16.to_le_bytes()); // needed to extract: 2.0
            v.extend_from_slice(&0x0800u16.to_le_bytes()); // flags: names are UTF-8
            v.extend_from_slice(&0u16.to_le_bytes()); // method: stored
            v.extend_from_slice(&time.to_le_bytes());
            v.extend_from_slice(&date.to_le_bytes());
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(path.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra length
        };
        fixed(LOCAL_SIGNATURE, &mut out);
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(data);
        fixed(CENTRAL_SIGNATURE, &mut central);
        central.extend_from_slice(&[0u8; 10]); // comment length, disk, internal and external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(path.as_bytes());
    }
    let dir_at = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&EOCD_SIGNATURE.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]); // this disk, the directory's disk
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&dir_at.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn stored_round_trip() {
        let zip = write_stored(&[("a/1.txt", b"hello"), ("b.bin", &[0u8, 255, 7])]);
        let entries = read(&zip).unwrap();
        let got: Vec<(String, Vec<u8>)> = entries.into_iter().map(|e| (e.path, e.bytes.unwrap())).collect();
        assert_eq!(got, vec![("a/1.txt".to_string(), b"hello".to_vec()), ("b.bin".to_string(), vec![0, 255, 7])]);
    }

    /// A deflated entry, made by patching a stored zip: method 8, packed size, new offsets.
    fn deflated_zip(name: &str, data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        let packed = enc.finish().unwrap();
        let stored = write_stored(&[(name, &packed)]);
        let mut z = stored.clone();
        let central_at = LOCAL_LEN + name.len() + packed.len();
        for header in [0, central_at] {
            let shift = if header == 0 { 0 } else { 2 }; // the central header has "made by" first
            z[header + 8 + shift..header + 10 + shift].copy_from_slice(&8u16.to_le_bytes());
            z[header + 14 + shift..header + 18 + shift].copy_from_slice(&crc32(data).to_le_bytes());
            z[header + 22 + shift..header + 26 + shift].copy_from_slice(&(data.len() as u32).to_le_bytes());
        }
        z
    }

    #[test]
    fn deflated_entries_inflate_and_bad_ones_are_named() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8).collect();
        let z = deflated_zip("x/big.raw", &data);
        let e = read(&z).unwrap();
        assert_eq!(e[0].bytes.as_ref().unwrap(), &data);

        // A flipped byte in the payload fails the checksum (or the inflate), only for that entry.
        let mut bad = z.clone();
        bad[LOCAL_LEN + "x/big.raw".len() + 3] ^= 0x55;
        assert!(read(&bad).unwrap()[0].bytes.as_ref().unwrap_err().contains("damaged"));

        // A local-header offset past the file (0xFFFFFFFF, as Zip64 writers leave it) is an
        // error for that entry, not an overflow.
        let mut far = z.clone();
        let central_at = LOCAL_LEN + "x/big.raw".len() + u32::from_le_bytes(z[18..22].try_into().unwrap()) as usize;
        far[central_at + 42..central_at + 46].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(read(&far).unwrap()[0].bytes.as_ref().unwrap_err().contains("local header"));

        assert!(read(b"PK not really").unwrap_err().contains("not a zip"));
        let cut = &z[..z.len() - 5];
        assert!(read(cut).is_err());
    }
}
