//! `vit-tiny`: a small Vision Transformer for 28–64 px images.
//!
//! [0] Dosovitskiy et al. "An Image is Worth 16x16 Words: Transformers for Image Recognition at
//! Scale", ICLR 2021, arXiv:2010.11929: non-overlapping patches, linearly embedded, a learned
//! CLS token and position embeddings, then pre-norm blocks of multi-head self-attention and a
//! GELU MLP; the final CLS token (after a last LayerNorm) is the image's feature.
//!
//! Sizes, chosen so that a step costs about as much as `small-cnn`'s at the same `width`
//! (measured with `sslp bench`, width 32, batch 64, CPU, side by side in one run; images/s,
//! `small-cnn` / this ViT: SimCLR 337 / 344, DINO 170 / 163, MaskFeat 644 / 600). The first
//! version, 4 blocks with MLP ratio 2, ran at 213, 110 and 312: 1.6–2.1 times a CNN step.
//! - 4×4 patches: 28 px gives a 7×7 grid (49 patches, 50 tokens with CLS) with no padding;
//!   sides that 4 does not divide drop their last 1–3 rows and columns.
//! - embedding width D = 2·width (64 at the default width 32), heads of 16 dimensions
//!   (4 heads at D = 64), 3 blocks, MLP ratio 1. ViT-Ti is D = 192, 3 heads, 12 blocks,
//!   MLP ratio 4 on 196 patches. Of the cuts measured, 3 blocks with ratio 1 kept D and the
//!   head count (the attention maps' number) and met the cost; D = 48 with 3 blocks and
//!   ratio 2 ran faster still (402 / 181 / 656) but leaves one head at width 16.
//! - Position embeddings are learned on the 7×7 grid of 28 px images. Other sizes (DINO's
//!   local crops, 32–64 px packs) get them resampled bilinearly, as DINO does (with bicubic)
//!   for its 96 px crops; the resampling is a fixed matrix, so gradients flow through it.
//!
//! The patch embedding is a reshape and one Linear, equal to a 4×4 stride-4 convolution, so the
//! WebGPU path needs only matmuls, softmax, LayerNorm and GELU.
use burn::module::Param;
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{gelu, softmax};

/// Side of a square patch, in pixels.
pub const PATCH: usize = 4;
/// Grid side the position embeddings are learned at (28 px / 4).
pub const BASE_GRID: usize = 7;
/// Transformer blocks.
pub const DEPTH: usize = 3;
/// Dimensions per attention head.
pub const HEAD_DIM: usize = 16;
/// Hidden width of each block's MLP, as a multiple of D.
pub const MLP_RATIO: usize = 1;

/// Embedding width for a backbone `width`.
pub fn embed_dim(width: usize) -> usize {
    2 * width
}

/// Attention heads at embedding width `dim` (at least one).
pub fn heads(dim: usize) -> usize {
    (dim / HEAD_DIM).max(1)
}

/// Patch grid `(rows, cols)` of an image `height`×`width` px.
pub fn grid(height: usize, width: usize) -> (usize, usize) {
    (height / PATCH, width / PATCH)
}

/// One pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x)).
#[derive(Module, Debug)]
pub struct Block {
    norm1: LayerNorm,
    qkv: Linear,
    proj: Linear,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    heads: usize,
}

impl Block {
    fn new(dim: usize, device: &Device) -> Self {
        Self {
            norm1: LayerNormConfig::new(dim).init(device),
            qkv: LinearConfig::new(dim, 3 * dim).init(device),
            proj: LinearConfig::new(dim, dim).init(device),
            norm2: LayerNormConfig::new(dim).init(device),
            fc1: LinearConfig::new(dim, MLP_RATIO * dim).init(device),
            fc2: LinearConfig::new(MLP_RATIO * dim, dim).init(device),
            heads: heads(dim),
        }
    }

    /// Attention weights `[B, heads, T, T]` (rows sum to 1) and values `[B, heads, T, D/heads]`.
    fn attention(&self, x: Tensor<3>) -> (Tensor<4>, Tensor<4>) {
        let [b, t, d] = x.dims();
        let h = self.heads;
        let dh = d / h;
        // [B, T, 3D] → [B, T, 3, H, Dh] → [3, B, H, T, Dh]
        let qkv = self.qkv.forward(self.norm1.forward(x)).reshape([b, t, 3, h, dh]).permute([2, 0, 3, 1, 4]);
        let q: Tensor<4> = qkv.clone().narrow(0, 0, 1).reshape([b, h, t, dh]);
        let k: Tensor<4> = qkv.clone().narrow(0, 1, 1).reshape([b, h, t, dh]);
        let v: Tensor<4> = qkv.narrow(0, 2, 1).reshape([b, h, t, dh]);
        let scores = q.matmul(k.swap_dims(2, 3)) / (dh as f64).sqrt(); // [B, H, T, T]
        (softmax(scores, 3), v)
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let (weights, v) = self.attention(x.clone());
        let mixed = weights.matmul(v).swap_dims(1, 2).reshape([b, t, d]); // [B, H, T, Dh] → [B, T, D]
        let x = x + self.proj.forward(mixed);
        let hidden = gelu(self.fc1.forward(self.norm2.forward(x.clone())));
        x.clone() + self.fc2.forward(hidden)
    }
}

#[derive(Module, Debug)]
pub struct VitTiny {
    /// Flattened patch (C·4·4 values) → D.
    patch_embed: Linear,
    /// `[1, 1, D]`.
    cls_token: Param<Tensor<3>>,
    /// `[1 + 7·7, D]`: the CLS token's, then the base grid's in row-major order.
    pos_embed: Param<Tensor<2>>,
    blocks: Vec<Block>,
    norm: LayerNorm,
    dim: usize,
}

impl VitTiny {
    pub fn new(in_channels: usize, width: usize, device: &Device) -> Self {
        let dim = embed_dim(width);
        // Normal(0, 0.02) for the CLS token and position embeddings, as ViT and DINO do.
        let small = Initializer::Normal { mean: 0.0, std: 0.02 };
        Self {
            patch_embed: LinearConfig::new(in_channels * PATCH * PATCH, dim).init(device),
            cls_token: small.init([1, 1, dim], device),
            pos_embed: small.init([1 + BASE_GRID * BASE_GRID, dim], device),
            blocks: (0..DEPTH).map(|_| Block::new(dim, device)).collect(),
            norm: LayerNormConfig::new(dim).init(device),
            dim,
        }
    }

    pub fn out_dim(&self) -> usize {
        self.dim
    }

    /// Position embeddings `[1 + rows·cols, D]` for a `rows`×`cols` grid.
    fn positions(&self, rows: usize, cols: usize) -> Tensor<2> {
        let pos = self.pos_embed.val();
        if (rows, cols) == (BASE_GRID, BASE_GRID) {
            return pos;
        }
        let d = self.dim;
        let cls = pos.clone().narrow(0, 0, 1);
        let grid = pos.narrow(0, 1, BASE_GRID * BASE_GRID); // [49, D]
        let resample = Tensor::<2>::from_data(TensorData::new(super::bilinear_matrix((BASE_GRID, BASE_GRID), (rows, cols)), [rows * cols, BASE_GRID * BASE_GRID]), &grid.device());
        let resampled = resample.matmul(grid); // [rows·cols, D]
        debug_assert_eq!(resampled.dims()[1], d);
        Tensor::cat(vec![cls, resampled], 0)
    }

    /// Token sequences `[B, 1 + N, D]` after each block, shallow to deep, and the grid.
    pub fn tokens(&self, x: Tensor<4>) -> (Vec<Tensor<3>>, (usize, usize)) {
        let mut x = self.embed(x);
        let grid = x.1;
        let mut out = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            x.0 = block.forward(x.0);
            out.push(x.0.clone());
        }
        (out, grid)
    }

    /// Patch embeddings `[B, N, D]` (no CLS token, no positions) and the grid.
    fn patch_tokens(&self, x: Tensor<4>) -> (Tensor<3>, (usize, usize)) {
        let [b, c, h, w] = x.dims();
        let (rows, cols) = grid(h, w);
        assert!(rows > 0 && cols > 0, "vit-tiny needs images of at least {PATCH}×{PATCH} px, got {h}×{w}");
        let x = if (h, w) == (rows * PATCH, cols * PATCH) { x } else { x.narrow(2, 0, rows * PATCH).narrow(3, 0, cols * PATCH) };
        // [B, C, rows, 4, cols, 4] → [B, rows, cols, C, 4, 4] → [B, N, C·16]
        let patches = x.reshape([b, c, rows, PATCH, cols, PATCH]).permute([0, 2, 4, 1, 3, 5]).reshape([b, rows * cols, c * PATCH * PATCH]);
        (self.patch_embed.forward(patches), (rows, cols))
    }

    /// The CLS token prepended and position embeddings added: `[B, N, D]` → `[B, 1 + N, D]`.
    fn sequence(&self, tokens: Tensor<3>, (rows, cols): (usize, usize)) -> Tensor<3> {
        let b = tokens.dims()[0];
        let cls = self.cls_token.val().expand([b, 1, self.dim]);
        let pos = self.positions(rows, cols).unsqueeze_dim::<3>(0); // [1, 1 + N, D]
        Tensor::cat(vec![cls, tokens], 1) + pos
    }

    /// Patch tokens plus CLS with position embeddings, `[B, 1 + N, D]`, and the grid.
    fn embed(&self, x: Tensor<4>) -> (Tensor<3>, (usize, usize)) {
        let (tokens, grid) = self.patch_tokens(x);
        (self.sequence(tokens, grid), grid)
    }

    /// MaskFeat's pass: the patch embeddings where `mask` `[B, N]` is 1 are replaced by
    /// `mask_token` `[D]` before the position embeddings are added (Wei et al. 2022, §3.1);
    /// returns the patch tokens after every block and the final LayerNorm, `[B, N, D]`.
    pub fn masked_patch_tokens(&self, x: Tensor<4>, mask: Tensor<2>, mask_token: Tensor<1>) -> Tensor<3> {
        let (tokens, grid) = self.patch_tokens(x);
        let [b, n, d] = tokens.dims();
        let hidden = mask.reshape([b, n, 1]).expand([b, n, d]);
        let token = mask_token.reshape([1, 1, d]).expand([b, n, d]);
        let mixed = tokens * (hidden.ones_like() - hidden.clone()) + token * hidden;
        let mut x = self.sequence(mixed, grid);
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.norm.forward(x).narrow(1, 1, n)
    }

    /// The final feature: the last block's CLS token after the last LayerNorm, `[B, D]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let last = self.tokens(x).0.pop().expect("vit-tiny has blocks");
        self.cls(self.norm.forward(last))
    }

    /// CLS token after each block, `[B, D]` each; the last one after the final LayerNorm, so it
    /// equals [`VitTiny::forward`].
    pub fn cls_per_block(&self, x: Tensor<4>) -> Vec<Tensor<2>> {
        let (mut tokens, _) = self.tokens(x);
        let last = tokens.pop().expect("vit-tiny has blocks");
        let mut out: Vec<Tensor<2>> = tokens.into_iter().map(|t| self.cls(t)).collect();
        out.push(self.cls(self.norm.forward(last)));
        out
    }

    /// Patch tokens after each block as maps `[B, D, rows, cols]` (the last after the final
    /// LayerNorm), for heads that work on a spatial map.
    pub fn maps(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let (mut tokens, (rows, cols)) = self.tokens(x);
        let last = tokens.pop().expect("vit-tiny has blocks");
        tokens.push(self.norm.forward(last));
        tokens
            .into_iter()
            .map(|t| {
                let [b, n, d] = t.dims();
                // [B, 1 + N, D] → patch tokens [B, N, D] → [B, D, N] → [B, D, rows, cols]
                t.narrow(1, 1, n - 1).swap_dims(1, 2).reshape([b, d, rows, cols])
            })
            .collect()
    }

    /// The last block's attention `[B, heads, 1 + N, 1 + N]` (token 0 is CLS) and the grid.
    pub fn last_attention(&self, x: Tensor<4>) -> (Tensor<4>, (usize, usize)) {
        let (mut x, grid) = self.embed(x);
        let (last, earlier) = self.blocks.split_last().expect("vit-tiny has blocks");
        for block in earlier {
            x = block.forward(x);
        }
        (last.attention(x).0, grid)
    }

    fn cls(&self, tokens: Tensor<3>) -> Tensor<2> {
        let b = tokens.dims()[0];
        tokens.narrow(1, 0, 1).reshape([b, self.dim])
    }
}

/// Parameters of a `vit-tiny` for `in_channels` and `width`, counted without building it.
pub fn num_params(in_channels: usize, width: usize) -> usize {
    let d = embed_dim(width);
    let linear = |i: usize, o: usize| i * o + o;
    let block = 2 * 2 * d + linear(d, 3 * d) + linear(d, d) + linear(d, MLP_RATIO * d) + linear(MLP_RATIO * d, d);
    linear(in_channels * PATCH * PATCH, d) + d + (1 + BASE_GRID * BASE_GRID) * d + DEPTH * block + 2 * d
}

/// Values one image's forward pass produces (tokens of every op, attention scores and
/// weights), for the memory estimate; the patches are counted at 3 channels.
pub fn activations_per_image(width: usize, height: usize, width_px: usize) -> usize {
    let d = embed_dim(width);
    let (rows, cols) = grid(height, width_px);
    let t = 1 + rows * cols;
    // Per block: LN, qkv (3), attention output, projection, residual, LN, fc1 and GELU
    // (MLP_RATIO each), fc2, residual = (9 + 2·MLP_RATIO)·T·D; scores and softmax 2·H·T².
    let block = (9 + 2 * MLP_RATIO) * t * d + 2 * heads(d) * t * t;
    3 * PATCH * PATCH * t + 2 * t * d + DEPTH * block + t * d
}
