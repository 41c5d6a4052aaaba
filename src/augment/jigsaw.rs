//! Jigsaw puzzles: a 3×3 grid of tiles cut with a random gap, and the permutation set.
//!
//! [0] Noroozi, Favaro. "Unsupervised Learning of Visual Representations by Solving Jigsaw
//! Puzzles", ECCV 2016, arXiv:1603.09246. The image is split into 3×3 cells and a tile is cut
//! at a random place inside each cell, so "the network cannot use low-level cues such as the
//! continuity of edges" between neighbours (the paper: 64-px tiles in 75-px cells). The
//! permutations come from a fixed set built greedily for a large minimum Hamming distance
//! (§3.2, Table 3).
//!
//! Tiles are resampled from the source image in one batched `grid_sample`, at `tile_px` pixels:
//! with the defaults (14-px tiles covering 0.85 of a cell) this is the same as upsampling a
//! 28-px image to 49 px and cutting each tile from its cell.
use super::ops::Affine;
use crate::rng::Rng;
use burn::prelude::*;
use burn::tensor::grid::affine_grid_2d;
use burn::tensor::ops::{GridSampleOptions, GridSamplePaddingMode, InterpolateMode};
use std::sync::OnceLock;

/// Tiles per puzzle.
pub const TILES: usize = 9;
/// The permutation-set sizes offered (the paper compares 100, 1,000 and more; 10 is an easy
/// version for short runs).
pub const SET_SIZES: [usize; 3] = [10, 100, 1000];

/// A permutation of the 9 tiles: position `i` of the puzzle shows tile `perm[i]`.
pub type Permutation = [u8; TILES];

/// The greedy max–min-Hamming set of `size` permutations (one of [`SET_SIZES`]), computed once
/// per size and kept.
pub fn permutation_set(size: usize) -> &'static [Permutation] {
    static SETS: [OnceLock<Vec<Permutation>>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = SET_SIZES.iter().position(|&s| s == size).unwrap_or_else(|| panic!("permutation sets come in sizes {SET_SIZES:?}"));
    SETS[slot].get_or_init(|| greedy_set(size))
}

/// Every permutation of 0..9 in lexicographic order (9! = 362,880).
fn all_permutations() -> Vec<Permutation> {
    let mut out = Vec::with_capacity(362_880);
    let mut p: Permutation = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    loop {
        out.push(p);
        // Next permutation: the longest non-increasing suffix, swap its pivot, reverse it.
        let Some(i) = (0..TILES - 1).rev().find(|&i| p[i] < p[i + 1]) else { return out };
        let j = (i + 1..TILES).rev().find(|&j| p[j] > p[i]).expect("a larger element follows the pivot");
        p.swap(i, j);
        p[i + 1..].reverse();
    }
}

pub fn hamming(a: &Permutation, b: &Permutation) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

/// The paper's Algorithm 1 with a fixed start: begin with the identity, then repeatedly add
/// the permutation whose minimum distance to the set so far is largest (the first such, in
/// lexicographic order, so the set depends on its size only).
fn greedy_set(size: usize) -> Vec<Permutation> {
    let all = all_permutations();
    let mut min_distance = vec![u8::MAX; all.len()];
    let mut chosen = Vec::with_capacity(size);
    let mut next = 0;
    for _ in 0..size {
        let pick = all[next];
        chosen.push(pick);
        let mut best = (0u8, 0usize);
        for (i, p) in all.iter().enumerate() {
            let d = (hamming(p, &pick) as u8).min(min_distance[i]);
            min_distance[i] = d;
            if d > best.0 {
                best = (d, i);
            }
        }
        next = best.1;
    }
    chosen
}

/// The minimum and mean pairwise Hamming distance of a set.
pub fn distances(set: &[Permutation]) -> (usize, f64) {
    let (mut min, mut sum, mut pairs) = (TILES, 0usize, 0usize);
    for (i, a) in set.iter().enumerate() {
        for b in &set[i + 1..] {
            let d = hamming(a, b);
            min = min.min(d);
            sum += d;
            pairs += 1;
        }
    }
    (min, sum as f64 / pairs.max(1) as f64)
}

/// Where each tile is cut: the tile covers `fraction` of its cell's side, at a random place
/// inside the cell (`rng`) or centred (`rng` = `None`, for evaluation and the tests).
pub fn tile_maps(b: usize, fraction: f32, mut rng: Option<&mut Rng>) -> Vec<Affine> {
    let half = fraction / 3.0; // half the tile's side in normalised coordinates (the image is 2 wide)
    let slack = (1.0 - fraction) / 3.0; // how far the tile's centre may move from the cell's
    let mut maps = Vec::with_capacity(b * TILES);
    for _ in 0..b {
        for cell in 0..TILES {
            let (row, col) = ((cell / 3) as f32, (cell % 3) as f32);
            let (mut cx, mut cy) = (-1.0 + (2.0 * col + 1.0) / 3.0, -1.0 + (2.0 * row + 1.0) / 3.0);
            if let Some(rng) = rng.as_deref_mut() {
                cx += rng.range(-slack, slack);
                cy += rng.range(-slack, slack);
            }
            maps.push(Affine::crop(half, half, cx, cy, false));
        }
    }
    maps
}

/// The 9 tiles of every image, `[B, C, H, W]` → `[9B, C, tile_px, tile_px]`, image-major and
/// in cell order (row by row), cut where `maps` say ([`tile_maps`]).
pub fn cut_tiles(x: Tensor<4>, maps: &[Affine], tile_px: usize) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    assert_eq!(maps.len(), b * TILES, "one map per tile");
    let repeated = x.unsqueeze_dim::<5>(1).repeat_dim(1, TILES).reshape([b * TILES, c, h, w]); // [9B, C, H, W]
    let flat: Vec<f32> = maps.iter().flat_map(|m| m.0.iter().flatten().copied()).collect();
    let theta = Tensor::<3>::from_data(TensorData::new(flat, [b * TILES, 2, 3]), &repeated.device());
    let grid = affine_grid_2d(theta, [b * TILES, c, tile_px, tile_px]); // [9B, t, t, 2]
    let options = GridSampleOptions::new(InterpolateMode::Bilinear).with_padding_mode(GridSamplePaddingMode::Border).with_align_corners(true);
    repeated.grid_sample_2d(grid, options)
}

/// Reorder each image's tiles by its permutation: `tiles` `[9B, …]` image-major in cell
/// order; puzzle position `i` of image `j` gets tile `set[labels[j]][i]`.
pub fn shuffle_tiles(tiles: Tensor<4>, set: &[Permutation], labels: &[usize]) -> Tensor<4> {
    let order: Vec<i64> = labels.iter().enumerate().flat_map(|(j, &l)| set[l].iter().map(move |&t| (j * TILES + t as usize) as i64)).collect();
    let n = order.len();
    let index = Tensor::<1, Int>::from_data(TensorData::new(order, [n]), &tiles.device());
    tiles.select(0, index)
}

/// Lay each puzzle's tiles out as a 3×3 image with a 1-px gap, `[9B, C, t, t]` →
/// `[B, C, 3t + 2, 3t + 2]`: what the network is shown, for the page's preview.
pub fn assemble(tiles: Tensor<4>) -> Tensor<4> {
    let [n, c, t, _] = tiles.dims();
    let b = n / TILES;
    let padded = tiles.pad((0, 1, 0, 1), burn::tensor::ops::PadMode::Constant(1.0)); // [9B, C, t+1, t+1]
    let s = t + 1;
    let grid = padded.reshape([b, 3, 3, c, s, s]).permute([0, 3, 1, 4, 2, 5]).reshape([b, c, 3 * s, 3 * s]); // [B, C, 3(t+1), 3(t+1)]
    grid.narrow(2, 0, 3 * s - 1).narrow(3, 0, 3 * s - 1)
}
