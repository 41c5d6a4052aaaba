//! The CNN backbones' convolutions, by one of two paths (issue 12, part 4):
//!
//! - `burn`: Burn's `conv2d`. With autotune off, Burn's wgpu backend runs every dense 3×3
//!   convolution through its direct kernel (one invocation per output value, no tiling), which
//!   was measured slow on software adapters as the batch grows.
//! - `im2col`: the same convolution as one matrix product. The padded input is cut into its
//!   kh·kw shifted, strided views, stacked into columns `[B, C·kh·kw, Ho·Wo]` and multiplied
//!   by the weight `[O, C·kh·kw]`; its gradients are those of slice, stack and matmul.
//!
//! Measured (README, "Which convolution on WebGPU"): on both software adapters here im2col is
//! slower than Burn's kernel and needs more memory, so `burn` is the default. `sslp bench
//! --conv im2col` and `bench.html?conv=burn,im2col` measure both side by side, so a machine
//! with a real GPU can settle it in one command.
use burn::nn::conv::Conv2d;
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::Slice;
use std::sync::atomic::{AtomicU8, Ordering};

/// How the CNN backbones compute their convolutions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvPath {
    /// Burn's `conv2d` (the default).
    Burn,
    /// im2col and one matrix product.
    Im2col,
}

impl ConvPath {
    pub fn id(self) -> &'static str {
        match self {
            ConvPath::Burn => "burn",
            ConvPath::Im2col => "im2col",
        }
    }

    pub fn parse(id: &str) -> Result<ConvPath, String> {
        match id {
            "burn" => Ok(ConvPath::Burn),
            "im2col" => Ok(ConvPath::Im2col),
            other => Err(format!("unknown convolution path '{other}': use burn or im2col")),
        }
    }
}

/// One setting per process (the CLI's `--conv`, the page's benchmark): the path is a property
/// of the machine being measured, not of a run, so checkpoints do not carry it.
static CONV_PATH: AtomicU8 = AtomicU8::new(0);

pub fn set_conv_path(path: ConvPath) {
    CONV_PATH.store(path as u8, Ordering::Relaxed);
}

pub fn conv_path() -> ConvPath {
    match CONV_PATH.load(Ordering::Relaxed) {
        0 => ConvPath::Burn,
        _ => ConvPath::Im2col,
    }
}

/// `conv` applied to `x` `[B, C, H, W]` by the process's [`ConvPath`].
pub fn conv_forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    match conv_path() {
        ConvPath::Burn => conv.forward(x),
        ConvPath::Im2col => {
            assert!(conv.groups == 1 && conv.dilation == [1, 1], "im2col covers the backbones' convolutions: no groups, no dilation");
            let padding = match &conv.padding {
                PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => [*top, *left],
                PaddingConfig2d::Valid => [0, 0],
                other => panic!("im2col covers explicit symmetric padding, not {other:?}"),
            };
            conv2d_im2col(x, conv.weight.val(), conv.bias.as_ref().map(|b| b.val()), conv.stride, padding)
        }
    }
}

/// A 2-D convolution of `x` `[B, C, H, W]` with `weight` `[O, C, kh, kw]` (and `bias` `[O]`)
/// at `stride`, with `padding` zeros on each side, as im2col and one matrix product.
pub fn conv2d_im2col(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>, stride: [usize; 2], padding: [usize; 2]) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let [o, c_w, kh, kw] = weight.dims();
    assert_eq!(c, c_w, "input channels {c} against the weight's {c_w}");
    let [ph, pw] = padding;
    let [sh, sw] = stride;
    let x = if ph > 0 || pw > 0 { x.pad([(0, 0), (0, 0), (ph, ph), (pw, pw)], burn::tensor::ops::PadMode::Constant(0.0)) } else { x };
    let (hp, wp) = (h + 2 * ph, w + 2 * pw);
    let (ho, wo) = ((hp - kh) / sh + 1, (wp - kw) / sw + 1);
    // One view per kernel offset (i, j): the input at rows i, i + sh, … and columns j, j + sw, …
    let views: Vec<Tensor<4>> = (0..kh)
        .flat_map(|i| (0..kw).map(move |j| (i, j)))
        .map(|(i, j)| {
            let rows = Slice::new(i as isize, Some((i + (ho - 1) * sh + 1) as isize), sh as isize);
            let cols = Slice::new(j as isize, Some((j + (wo - 1) * sw + 1) as isize), sw as isize);
            x.clone().slice([Slice::from(0..b), Slice::from(0..c), rows, cols]) // [B, C, Ho, Wo]
        })
        .collect();
    // [B, C, kh·kw, Ho, Wo] → [B, C·kh·kw, Ho·Wo]: channel-major, then kernel row, then column,
    // the order of the weight's flattened rows.
    let columns = Tensor::stack::<5>(views, 2).reshape([b, c * kh * kw, ho * wo]);
    let weight = weight.reshape([1, o, c * kh * kw]); // broadcast over the batch
    let out = weight.matmul(columns).reshape([b, o, ho, wo]); // [B, O, Ho·Wo] → [B, O, Ho, Wo]
    match bias {
        Some(bias) => out + bias.reshape([1, o, 1, 1]),
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    fn close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{what}[{i}]: im2col {x} against conv2d {y}");
        }
    }

    /// Values and both gradients (input and weight) equal Burn's `conv2d`, for the shapes the
    /// backbones use: 3×3 at stride 1 and 2 with padding 1, 1×1 at stride 2 without.
    #[test]
    fn im2col_matches_burns_conv2d_and_its_gradients() {
        let ad = crate::device::native_device("cpu").unwrap().autodiff();
        for (k, stride, pad, with_bias) in [(3, 1, 1, true), (3, 2, 1, false), (1, 2, 0, false), (3, 1, 0, true)] {
            let (b, c, o, h, w) = (2, 3, 4, 7, 6);
            let x_values: Vec<f32> = (0..b * c * h * w).map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0).collect();
            let w_values: Vec<f32> = (0..o * c * k * k).map(|i| ((i * 17 % 13) as f32 - 6.0) / 5.0).collect();
            let bias_values: Vec<f32> = (0..o).map(|i| i as f32 * 0.25 - 0.3).collect();
            let run = |use_im2col: bool| {
                let x = Tensor::<4>::from_data(TensorData::new(x_values.clone(), [b, c, h, w]), &ad).require_grad();
                let weight = Tensor::<4>::from_data(TensorData::new(w_values.clone(), [o, c, k, k]), &ad).require_grad();
                let bias = with_bias.then(|| Tensor::<1>::from_data(TensorData::new(bias_values.clone(), [o]), &ad));
                let y = if use_im2col {
                    conv2d_im2col(x.clone(), weight.clone(), bias, [stride, stride], [pad, pad])
                } else {
                    conv2d(x.clone(), weight.clone(), bias, ConvOptions::new([stride, stride], [pad, pad], [1, 1], 1))
                };
                // A loss whose gradient differs per output, so every position is checked.
                let [n, oc, oh, ow] = y.dims();
                let probe: Vec<f32> = (0..n * oc * oh * ow).map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0).collect();
                let probe = Tensor::<4>::from_data(TensorData::new(probe, [n, oc, oh, ow]), &ad);
                let grads = (y.clone() * probe).sum().backward();
                let gx = x.grad(&grads).expect("input gradient");
                let gw = weight.grad(&grads).expect("weight gradient");
                (values(y.inner()), values(gx), values(gw))
            };
            let (y1, gx1, gw1) = run(true);
            let (y0, gx0, gw0) = run(false);
            let what = format!("{k}×{k} stride {stride} padding {pad}");
            close(&y1, &y0, &format!("{what}: output"));
            close(&gx1, &gx0, &format!("{what}: input gradient"));
            close(&gw1, &gw0, &format!("{what}: weight gradient"));
        }
    }
}
