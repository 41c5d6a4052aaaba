//! The memory estimate against what real steps use: `sslp bench` runs a few steps of a method
//! in its own process and reports both the estimate and the peak resident memory the steps
//! added (Linux `VmHWM` over `VmRSS` before the first step). They must agree within 2×.
use std::process::Command;

fn bench(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["bench", "--runs", "1", "--steps", "2", "--device", "cpu"];
    all.extend(args);
    let out = Command::new(env!("CARGO_BIN_EXE_sslp")).args(&all).output().expect("sslp runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().expect("one JSON line")).expect("JSON")
}

#[test]
fn the_step_memory_estimate_is_within_2x_of_real_steps() {
    let mut report = Vec::new();
    for args in [
        ["--method", "simclr", "--backbone", "small-cnn", "--width", "32", "--batch", "64"],
        ["--method", "fixmatch", "--backbone", "small-cnn", "--width", "16", "--batch", "8"],
        ["--method", "rotnet", "--backbone", "resnet-tiny", "--width", "16", "--batch", "32"],
        ["--method", "simclr", "--backbone", "resnet-tiny", "--width", "32", "--batch", "32"],
        ["--method", "byol", "--backbone", "small-cnn", "--width", "16", "--batch", "32"],
        ["--method", "moco-v2", "--backbone", "small-cnn", "--width", "16", "--batch", "64"],
    ] {
        let b = bench(&args);
        let estimated = b["step_mib_estimated"].as_f64().expect("an estimate");
        let measured = b["step_mib_measured"].as_f64().expect("a measurement (Linux /proc)");
        let ratio = measured / estimated;
        report.push(format!("{} {}: estimated {estimated:.0} MiB, measured {measured:.0} MiB (×{ratio:.2})", args[1], args[3]));
        assert!((0.5..=2.0).contains(&ratio), "{}", report.join("\n"));
    }
    eprintln!("{}", report.join("\n"));
}
