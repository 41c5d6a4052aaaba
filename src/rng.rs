//! A small seeded random generator (SplitMix64) for host-side choices: batch indices, label
//! splits and per-sample augmentation parameters. The pixel work happens on the device; only
//! a handful of numbers per image are drawn here, so runs are reproducible on every backend.

/// Serialises as its 64-bit state, so a checkpoint resumes the same stream.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        // Mix the seed once so that seeds 0, 1, 2… do not start on neighbouring states.
        let mut rng = Rng { state: seed ^ 0x9E37_79B9_7F4A_7C15 };
        rng.next_u64();
        rng
    }

    /// An independent stream derived from this seed and a label, e.g. `fork(b"augment")`.
    pub fn fork(&self, label: &[u8]) -> Rng {
        let mut h = self.state;
        for &byte in label {
            h = (h ^ byte as u64).wrapping_mul(0x100_0000_01B3);
        }
        Rng::new(h)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.f32()
    }

    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 32) * n as u64 >> 32) as usize
    }

    pub fn bernoulli(&mut self, p: f32) -> bool {
        self.f32() < p
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = self.f32().max(1e-7);
        let u2 = self.f32();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }

    /// Gamma(`shape`, 1) by Marsaglia & Tsang (2000); for shape < 1, Gamma(shape + 1) ·
    /// U^{1/shape}. `shape` > 0.
    pub fn gamma(&mut self, shape: f32) -> f32 {
        if shape < 1.0 {
            let u = self.f32().max(1e-7);
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.f32().max(1e-7);
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    /// Beta(`a`, `b`) as X / (X + Y) of two Gamma draws: MixUp's mixing weight.
    pub fn beta(&mut self, a: f32, b: f32) -> f32 {
        let x = self.gamma(a);
        let y = self.gamma(b);
        x / (x + y).max(1e-12)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_forks_differ() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let mut f = Rng::new(7).fork(b"augment");
        assert_ne!(f.next_u64(), Rng::new(7).next_u64());
    }

    #[test]
    fn beta_draws_have_the_beta_mean_and_variance() {
        // Beta(0.75, 0.75) (MixMatch's α): mean 1/2, variance ab/((a+b)²(a+b+1)) = 1/10.
        let mut rng = Rng::new(3);
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| rng.beta(0.75, 0.75) as f64).collect();
        assert!(xs.iter().all(|x| (0.0..=1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        assert!((var - 0.1).abs() < 0.005, "variance {var}");
        // Beta(2, 5): mean 2/7.
        let m2 = (0..n).map(|_| rng.beta(2.0, 5.0) as f64).sum::<f64>() / n as f64;
        assert!((m2 - 2.0 / 7.0).abs() < 0.01, "mean {m2}");
    }

    #[test]
    fn below_is_roughly_uniform() {
        let mut r = Rng::new(1);
        let mut counts = [0usize; 4];
        for _ in 0..40_000 {
            counts[r.below(4)] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }
}
