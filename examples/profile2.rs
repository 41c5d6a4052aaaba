use burn::prelude::*;
use burn::nn::conv::Conv2dConfig;
use burn::nn::PaddingConfig2d;
use std::time::Instant;
fn main() {
    let dev = ssl_playground::device::native_device(&std::env::args().nth(1).unwrap_or("cpu".into())).unwrap();
    let a = Tensor::<2>::random([1024, 1024], burn::tensor::Distribution::Default, &dev);
    for _ in 0..2 { let t = Instant::now(); let _ = a.clone().matmul(a.clone()).sum().into_data(); println!("matmul 1024^3 {:?}", t.elapsed()); }
    let x = Tensor::<4>::random([128, 32, 14, 14], burn::tensor::Distribution::Default, &dev);
    for (name, pad) in [("explicit", PaddingConfig2d::Explicit(1,1,1,1)), ("same", PaddingConfig2d::Same), ("valid", PaddingConfig2d::Valid)] {
        let conv = Conv2dConfig::new([32, 64], [3, 3]).with_padding(pad).init(&dev);
        for _ in 0..2 { let t = Instant::now(); let _ = conv.forward(x.clone()).sum().into_data(); println!("conv {name} {:?}", t.elapsed()); }
    }
    let x1 = Tensor::<4>::random([128, 1, 28, 28], burn::tensor::Distribution::Default, &dev);
    let conv = Conv2dConfig::new([1, 32], [3, 3]).with_padding(PaddingConfig2d::Explicit(1,1,1,1)).init(&dev);
    for _ in 0..2 { let t = Instant::now(); let _ = conv.forward(x1.clone()).sum().into_data(); println!("conv1 {:?}", t.elapsed()); }
    let bn = burn::nn::BatchNormConfig::new(32).init(&dev);
    let y = conv.forward(x1.clone());
    for _ in 0..2 { let t = Instant::now(); let _ = bn.forward(y.clone()).sum().into_data(); println!("bn {:?}", t.elapsed()); }
    for _ in 0..2 { let t = Instant::now(); let _ = burn::tensor::module::max_pool2d(y.clone(), burn::tensor::ops::MaxPoolOptions::new([2,2])).sum().into_data(); println!("maxpool {:?}", t.elapsed()); }
}
