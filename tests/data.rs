//! Dataset packs: the bundled ones load and are class-balanced; every kind of bad pack is
//! rejected with an error that names the problem.
mod common;
use common::pack;
use ssl_playground::data::pack::{read_idx, Pack, PackError, Split, MAGIC, MAGIC_UNLABELLED};
use ssl_playground::data::{labelled_subset, load_pack, Sampler};
use ssl_playground::rng::Rng;

fn tiny() -> Pack {
    let img = 8 * 8;
    let labels = vec![0u8, 1, 0, 1];
    let pixels: Vec<u8> = (0..4 * img).map(|i| (i % 251) as u8).collect();
    Pack {
        name: "tiny".into(),
        height: 8,
        width: 8,
        channels: 1,
        class_names: vec!["a".into(), "b".into()],
        train: Split { pixels: pixels.clone(), labels: labels.clone() },
        test: Split { pixels, labels },
        unlabelled: Vec::new(),
    }
}

/// The colour pack: Noto emoji in 9 categories at 32 px, every category in both splits, and
/// really in colour (the channels differ).
#[test]
fn the_emoji_pack_is_a_colour_set_of_nine_categories() {
    let p = pack("emoji");
    assert_eq!((p.channels, p.height, p.width, p.n_classes()), (3, 32, 32, 9));
    assert_eq!((p.train.len(), p.test.len()), (1524, 382));
    assert_eq!(p.class_names[2], "Flags");
    let plane = p.height * p.width;
    let differing = p.train.pixels.chunks(3 * plane).filter(|img| img[..plane] != img[plane..2 * plane] || img[plane..2 * plane] != img[2 * plane..]).count();
    assert!(differing > p.train.len() * 9 / 10, "only {differing} of {} images have colour", p.train.len());
}

#[test]
fn bundled_packs_are_class_balanced_real_images() {
    for (name, classes) in [("fashion-mnist", "T-shirt/top"), ("mnist", "0")] {
        let p = pack(name);
        assert_eq!((p.channels, p.height, p.width), (1, 28, 28));
        assert_eq!(p.train.len(), 10_000);
        assert_eq!(p.test.len(), 2_000);
        assert_eq!(p.class_names[0], classes);
        for c in 0..10u8 {
            assert_eq!(p.train.labels.iter().filter(|&&l| l == c).count(), 1000);
            assert_eq!(p.test.labels.iter().filter(|&&l| l == c).count(), 200);
        }
        // Real images: not blank, and they use the whole 0..255 range.
        let max = *p.train.pixels.iter().max().unwrap();
        let mean = p.train.pixels.iter().map(|&v| v as f64).sum::<f64>() / p.train.pixels.len() as f64;
        assert_eq!(max, 255);
        assert!(mean > 20.0 && mean < 120.0, "{name} mean pixel {mean}");
    }
}

#[test]
fn encode_decode_round_trip_gz_and_raw() {
    let p = tiny();
    for bytes in [p.encode_gz(), p.encode_raw()] {
        let q = Pack::decode("tiny", &bytes).unwrap();
        assert_eq!(q.train.pixels, p.train.pixels);
        assert_eq!(q.test.labels, p.test.labels);
        assert_eq!(q.class_names, p.class_names);
    }
}

/// Unlabelled images make an `SSLPACK2` pack: its count in the header, its pixels last.
#[test]
fn unlabelled_images_round_trip_and_their_bad_forms_are_named() {
    let mut p = tiny();
    p.unlabelled = (0..3 * 64).map(|i| (i * 7 % 256) as u8).collect();
    let raw = p.encode_raw();
    assert_eq!(&raw[..8], MAGIC_UNLABELLED);
    assert_eq!(u32::from_le_bytes(raw[24..28].try_into().unwrap()), 3);
    assert_eq!(raw[raw.len() - 3 * 64..], p.unlabelled[..], "the unlabelled pixels come last");
    for bytes in [p.encode_gz(), raw.clone()] {
        let q = Pack::decode("tiny", &bytes).unwrap();
        assert_eq!((q.n_unlabelled(), &q.unlabelled, &q.train.pixels, &q.test.labels), (3, &p.unlabelled, &p.train.pixels, &p.test.labels));
    }
    // Without them the pack stays SSLPACK1, byte for byte what earlier readers read.
    assert_eq!(&tiny().encode_raw()[..8], MAGIC);
    // One image short, a byte extra, a count of zero.
    assert!(matches!(Pack::decode("t", &raw[..raw.len() - 64]).unwrap_err(), PackError::Truncated { .. }));
    let mut long = raw.clone();
    long.push(0);
    assert_eq!(Pack::decode("t", &long).unwrap_err(), PackError::TrailingBytes(1));
    let mut zero = raw.clone();
    zero[24..28].copy_from_slice(&0u32.to_le_bytes());
    assert!(Pack::decode("t", &zero).unwrap_err().to_string().contains("no unlabelled image"));
    // A count past the pixel limit is refused from the header.
    let mut huge = raw;
    huge[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(Pack::decode("t", &huge).unwrap_err().to_string().contains("limit"));
}

#[test]
fn bad_packs_are_rejected_with_named_errors() {
    let good = tiny().encode_raw();
    // Wrong magic.
    let mut bad = good.clone();
    bad[0] = b'X';
    assert_eq!(Pack::decode("t", &bad).unwrap_err(), PackError::BadMagic);
    // Truncated body.
    let err = Pack::decode("t", &good[..good.len() - 10]).unwrap_err();
    assert!(matches!(err, PackError::Truncated { .. }), "{err:?}");
    assert!(err.to_string().contains("truncated"));
    // Trailing garbage.
    let mut long = good.clone();
    long.extend_from_slice(&[0; 3]);
    assert_eq!(Pack::decode("t", &long).unwrap_err(), PackError::TrailingBytes(3));
    // Label out of range (last test label → 7 with 2 classes).
    let mut lab = good.clone();
    *lab.last_mut().unwrap() = 7;
    let err = Pack::decode("t", &lab).unwrap_err();
    assert!(err.to_string().contains("label #3 is 7"), "{err}");
    // A class with no image.
    let mut p = tiny();
    p.test.labels = vec![0, 0, 0, 0];
    let err = Pack::decode("t", &p.encode_raw()).unwrap_err();
    assert_eq!(err, PackError::EmptyClass { split: "test", class: 1 });
    // Corrupt gzip.
    let mut gz = tiny().encode_gz();
    let mid = gz.len() / 2;
    gz[mid..].iter_mut().for_each(|b| *b ^= 0x5a);
    assert!(matches!(Pack::decode("t", &gz).unwrap_err(), PackError::Gzip(_)));
    // Huge header: sizes beyond the pixel limit are refused before any allocation.
    let mut huge = good.clone();
    huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = Pack::decode("t", &huge).unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
    // Unsupported channel count.
    let mut ch = good;
    ch[20] = 2;
    assert!(Pack::decode("t", &ch).unwrap_err().to_string().contains("2 channels"));
    assert_eq!(&MAGIC[..], b"SSLPACK1");
}

#[test]
fn missing_and_unknown_datasets_say_what_to_do() {
    let dir = std::env::temp_dir().join("sslp-no-such-dir");
    let e = load_pack("mnist", &dir).unwrap_err();
    assert!(e.contains("build-packs.sh"), "{e}");
    let e = load_pack("cifar-1000", &dir).unwrap_err();
    assert!(e.contains("unknown dataset 'cifar-1000'"), "{e}");
}

#[test]
fn idx_reader_checks_its_header() {
    let mut idx = vec![0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9];
    assert_eq!(read_idx(&idx).unwrap(), (vec![3], vec![7, 8, 9]));
    idx.pop();
    assert!(matches!(read_idx(&idx).unwrap_err(), PackError::Truncated { .. }));
    assert!(read_idx(&[0, 0, 0x0d, 1]).is_err()); // float IDX is not ours
}

#[test]
fn labelled_subset_is_seeded_balanced_and_rejects_too_many() {
    let labels: Vec<u8> = (0..100).map(|i| (i % 4) as u8).collect();
    let a = labelled_subset(&labels, 4, 5, &mut Rng::new(1)).unwrap();
    let b = labelled_subset(&labels, 4, 5, &mut Rng::new(1)).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 20);
    for c in 0..4u8 {
        assert_eq!(a.iter().filter(|&&i| labels[i] == c).count(), 5);
    }
    let e = labelled_subset(&labels, 4, 26, &mut Rng::new(1)).unwrap_err();
    assert!(e.contains("has 25 training images"), "{e}");
}

#[test]
fn sampler_covers_each_epoch_once() {
    let mut s = Sampler::new((0..10).collect());
    let mut rng = Rng::new(2);
    let mut epoch = s.next(10, &mut rng);
    epoch.sort();
    assert_eq!(epoch, (0..10).collect::<Vec<_>>());
}
