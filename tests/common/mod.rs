//! Shared test helpers: the CPU device and the bundled packs.
#![allow(dead_code)]
use burn::prelude::*;
use ssl_playground::data::{self, Pack};

pub fn cpu() -> Device {
    ssl_playground::device::native_device("cpu").expect("the CPU backend is always there")
}

pub fn pack(name: &str) -> Pack {
    data::load_pack(name, &data::default_data_dir()).expect("bundled packs ship with the repository")
}

pub fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec_as::<f32>().unwrap()
}

pub fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol
}
