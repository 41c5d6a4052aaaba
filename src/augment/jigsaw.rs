//! Jigsaw puzzles: the permutation set, and the shuffling of a 3×3 grid of tiles.
//!
//! [0] Noroozi, Favaro. "Unsupervised Learning of Visual Representations by Solving Jigsaw
//! Puzzles", ECCV 2016, arXiv:1603.09246. The image is split into 3×3 cells and a tile is cut
//! at a random place inside each cell, so "the network cannot use low-level cues such as the
//! continuity of edges" between neighbours (the paper: 64-px tiles in 75-px cells). The
//! permutations come from a fixed set built greedily for a large minimum Hamming distance
//! (§3.2, Table 3).
//!
//! The tiles themselves are cut by [`super::patches`] (a 3×3 grid, each tile at a random
//! place inside its cell).
use burn::prelude::*;
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

/// Reorder each image's tiles by its permutation: `tiles` `[9B, …]` image-major in cell
/// order; puzzle position `i` of image `j` gets tile `set[labels[j]][i]`.
pub fn shuffle_tiles(tiles: Tensor<4>, set: &[Permutation], labels: &[usize]) -> Tensor<4> {
    let order: Vec<i64> = labels.iter().enumerate().flat_map(|(j, &l)| set[l].iter().map(move |&t| (j * TILES + t as usize) as i64)).collect();
    let n = order.len();
    let index = Tensor::<1, Int>::from_data(TensorData::new(order, [n]), &tiles.device());
    tiles.select(0, index)
}
