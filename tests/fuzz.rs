//! Bounded fuzzing of everything that reads outside input: dataset packs, checkpoints, run
//! configs and method parameters. Each case must end in `Ok` or a named error, never a panic,
//! and never allocate past a limit: this test binary counts every allocation.
//!
//! The inputs come from a seeded generator, so a failure names a case that reproduces. The
//! counts are sized to take a few seconds in CI.
use ssl_playground::checkpoint::Checkpoint;
use ssl_playground::config::RunConfig;
use ssl_playground::data::pack::{Pack, Split, MAGIC};
use ssl_playground::limits::{self, DataShape};
use ssl_playground::registry::ALL_METHODS;
use ssl_playground::rng::Rng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The system allocator, counting the bytes live now and the most live at once.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = LIVE.fetch_add(new_size - layout.size(), Ordering::SeqCst) + new_size - layout.size();
                PEAK.fetch_max(now, Ordering::SeqCst);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::SeqCst);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One measured section at a time: the counters are global to the process.
static SERIAL: Mutex<()> = Mutex::new(());

/// Run `body` and return the most memory it held at once beyond what was live before.
fn peak_of(body: impl FnOnce()) -> usize {
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    body();
    PEAK.load(Ordering::SeqCst) - before
}

const MIB: usize = 1 << 20;

fn small_pack(rng: &mut Rng) -> Pack {
    let (h, w, c) = (8 + rng.below(8), 8 + rng.below(8), if rng.bernoulli(0.5) { 1 } else { 3 });
    let n_classes = 2 + rng.below(3);
    let split = |n: usize, rng: &mut Rng| Split {
        pixels: (0..n * c * h * w).map(|_| rng.below(256) as u8).collect(),
        labels: (0..n).map(|i| (i % n_classes) as u8).collect(),
    };
    Pack {
        name: "fuzz".into(),
        height: h,
        width: w,
        channels: c,
        class_names: (0..n_classes).map(|i| format!("class {i}")).collect(),
        train: split(n_classes * 2, rng),
        test: split(n_classes, rng),
        // Half the packs also hold unlabelled images (SSLPACK2).
        unlabelled: (0..rng.below(2) * (1 + rng.below(3)) * c * h * w).map(|_| rng.below(256) as u8).collect(),
    }
}

/// Flip, overwrite, cut or extend a few bytes.
fn mutate(bytes: &mut Vec<u8>, rng: &mut Rng) {
    for _ in 0..1 + rng.below(4) {
        match rng.below(5) {
            0 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] ^= 1 << rng.below(8);
            }
            1 if !bytes.is_empty() => {
                // Header fields are where a mutation does the most harm.
                let i = rng.below(bytes.len().min(32));
                bytes[i] = rng.below(256) as u8;
            }
            2 => bytes.truncate(rng.below(bytes.len() + 1)),
            3 => bytes.extend((0..rng.below(64)).map(|_| rng.below(256) as u8)),
            _ => {
                if bytes.len() >= 24 {
                    // Claim a huge size: n_train = 0xFFFF_FFFF or a 255×255 image.
                    let at = [8, 12, 16, 18][rng.below(4)];
                    bytes[at] = 0xFF;
                    bytes[at + 1] = 0xFF;
                }
            }
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn packs_from_random_and_mutated_bytes_fail_cleanly_within_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Rng::new(7);
    let mut refused = 0;
    for case in 0..3000 {
        let pack = small_pack(&mut rng);
        let mut bytes = match case % 3 {
            0 => (0..rng.below(200)).map(|_| rng.below(256) as u8).collect(),
            _ => pack.encode_raw(),
        };
        if case % 3 != 0 {
            mutate(&mut bytes, &mut rng);
        }
        let input = if case % 2 == 0 { gzip(&bytes) } else { bytes };
        // A valid mutated pack is a few kB; anything near 16 MiB means a claimed size was believed.
        let peak = peak_of(|| {
            if Pack::decode("fuzz", &input).is_err() {
                refused += 1;
            }
        });
        assert!(peak < 16 * MIB, "case {case}: decoding {} bytes allocated {} MiB", input.len(), peak / MIB);
    }
    assert!(refused > 2500, "most mutated packs must be refused, {refused} were");

    // The case: a small gzip file whose valid header claims 256 Mi pixels (the most a
    // pack may hold). It is refused before the pixels are allocated.
    let mut header = Vec::from(&MAGIC[..]);
    header.extend_from_slice(&(65_535u32).to_le_bytes()); // n_train
    header.extend_from_slice(&(1u32).to_le_bytes()); // n_test
    header.extend_from_slice(&(64u16).to_le_bytes()); // height
    header.extend_from_slice(&(64u16).to_le_bytes()); // width
    header.extend_from_slice(&[1, 10, 0, 0]); // channels, classes, names_len
    header.extend(std::iter::repeat_n(0u8, 4 * MIB)); // 4 MiB of zeros compress to ~4 kB
    let bomb = gzip(&header);
    let mut result = None;
    let peak = peak_of(|| result = Some(Pack::decode("bomb", &bomb)));
    let e = result.unwrap().unwrap_err().to_string();
    assert!(e.contains("more than a") && e.contains("gzip file can hold"), "{e}");
    assert!(peak < MIB, "refusing the bomb allocated {} kB", peak / 1024);
}

#[test]
fn checkpoints_from_mutated_bytes_fail_cleanly_within_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Rng::new(11);
    let mut sampler = ssl_playground::data::Sampler::new((0..50).collect());
    sampler.next(10, &mut rng);
    let state = ssl_playground::checkpoint::ResumeState {
        config: RunConfig::default(),
        step: 3,
        data_rng: rng.clone(),
        view_rng: rng.clone(),
        unlabelled: sampler,
        labelled: None,
        random_init: None,
    };
    let valid = Checkpoint { state, model: vec![7; 300], optimizer: vec![1; 40] }.encode();
    for case in 0..2000 {
        let mut bytes = valid.clone();
        mutate(&mut bytes, &mut rng);
        let peak = peak_of(|| {
            let _ = Checkpoint::decode(&bytes);
        });
        assert!(peak < 4 * MIB, "case {case}: {} MiB", peak / MIB);
    }
}

/// A random JSON value: mostly the real keys with hostile values, some unknown keys.
fn random_json(rng: &mut Rng, keys: &[String], depth: usize) -> serde_json::Value {
    use serde_json::{json, Value};
    match rng.below(if depth > 2 { 6 } else { 8 }) {
        0 => json!(rng.below(3) as i64 - 1),
        1 => json!([0u64, 1, 2, 7, 4096, 4097, 1 << 20, 2_000_000_000, u32::MAX as u64, u64::MAX][rng.below(10)]),
        2 => json!([-1e300, -1.0, 0.0, 1e-45, 1e-4, 0.5, 0.95, 1.5, 1e9, 1e300][rng.below(10)]),
        3 => json!(["", "simclr", "fixmatch", "rotnet", "nope", "small-cnn", "resnet-tiny", "sgd", "lars"][rng.below(9)]),
        4 => Value::Bool(rng.bernoulli(0.5)),
        5 => Value::Null,
        6 => Value::Array((0..rng.below(4)).map(|_| random_json(rng, keys, depth + 1)).collect()),
        _ => {
            let mut map = serde_json::Map::new();
            for _ in 0..rng.below(5) {
                let key = if rng.bernoulli(0.85) && !keys.is_empty() { keys[rng.below(keys.len())].clone() } else { "zz_unknown".into() };
                map.insert(key, random_json(rng, keys, depth + 1));
            }
            Value::Object(map)
        }
    }
}

/// Every key of a JSON object, nested ones too.
fn keys_of(value: &serde_json::Value, out: &mut Vec<String>) {
    if let Some(map) = value.as_object() {
        for (k, v) in map {
            out.push(k.clone());
            keys_of(v, out);
        }
    }
}

#[test]
fn random_configs_and_method_parameters_are_checked_without_panics_or_big_allocations() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let shape = DataShape { channels: 1, height: 28, width: 28, n_classes: 10, n_train: 60_000, n_test: 10_000, n_unlabelled: 0 };
    let mut keys = Vec::new();
    keys_of(&serde_json::to_value(RunConfig::default()).unwrap(), &mut keys);
    for m in ALL_METHODS {
        keys_of(&m.default_params(), &mut keys);
        keys_of(&m.info().optimizer, &mut keys);
    }
    keys.sort();
    keys.dedup();
    let mut rng = Rng::new(5);
    let (mut accepted, mut total) = (0, 0);
    for case in 0..4000 {
        // Start from a valid config half the time, so the method checks are reached.
        let mut config = serde_json::to_value(RunConfig::default()).unwrap();
        let method = ALL_METHODS[rng.below(ALL_METHODS.len())];
        config["method"] = method.id().into();
        config["params"] = random_json(&mut rng, &keys, 1);
        if rng.bernoulli(0.5) {
            let key = &keys[rng.below(keys.len())];
            config[key.as_str()] = random_json(&mut rng, &keys, 2);
        }
        let text = if case % 10 == 0 { random_json(&mut rng, &keys, 0).to_string() } else { config.to_string() };
        let peak = peak_of(|| {
            total += 1;
            if let Ok(config) = RunConfig::from_json(&text) {
                if limits::check_run(&config, &shape, 4 << 30).is_ok() {
                    accepted += 1;
                }
            }
        });
        assert!(peak < 4 * MIB, "case {case}: checking {text} allocated {} MiB", peak / MIB);
    }
    // Some random configs must pass, or the checks above never reached the estimate.
    assert!(accepted > 50 && accepted < total, "{accepted} of {total} random configs passed");
}
