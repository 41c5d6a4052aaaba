use burn::prelude::*;
use ssl_playground::augment::{ops, SimclrViews, RandAugment};
use ssl_playground::backbone::{Backbone, BackboneKind};
use ssl_playground::data::{self, DeviceSplit};
use ssl_playground::rng::Rng;
use std::time::Instant;

fn sync(t: Tensor<4>) { let _ = t.sum().into_data(); }

fn main() {
    let dev = ssl_playground::device::native_device(&std::env::args().nth(1).unwrap_or("cpu".into())).unwrap();
    let p = data::load_pack("fashion-mnist", &data::default_data_dir()).unwrap();
    let s = DeviceSplit::new(&p.train, &p, Some(2000), &dev);
    let x = s.images.clone().narrow(0, 0, 128);
    let mut rng = Rng::new(1);
    for _ in 0..2 {
        let t = Instant::now(); sync(ops::warp(x.clone(), &SimclrViews::default().crop_maps(128, &mut rng))); println!("warp {:?}", t.elapsed());
        let t = Instant::now(); sync(SimclrViews::default().view(x.clone(), &mut rng)); println!("simclr view {:?}", t.elapsed());
        let t = Instant::now(); sync(RandAugment::default().view(x.clone(), &mut rng)); println!("RA view {:?}", t.elapsed());
        let t = Instant::now(); sync(ops::contrast(x.clone(), vec![0.5;128])); println!("contrast {:?}", t.elapsed());
        let t = Instant::now(); sync(ops::sharpness(x.clone(), vec![0.5;128])); println!("sharp {:?}", t.elapsed());
        let t = Instant::now(); sync(ops::cutout(x.clone(), &vec![(0.5,0.5,0.3);128], 0.5)); println!("cutout {:?}", t.elapsed());
    }
    let ad = dev.clone().autodiff();
    let bb = Backbone::new(BackboneKind::SmallCnn, 1, 32, &ad);
    for _ in 0..3 {
        let t = Instant::now();
        let f = bb.forward(x.clone().autodiff());
        let l = f.sum();
        let _ = l.clone().into_data();
        println!("fwd {:?}", t.elapsed());
        let t = Instant::now();
        let _g = l.backward();
        println!("bwd {:?}", t.elapsed());
    }
    let v = bb.valid();
    let t = Instant::now(); let _ = v.forward(s.images.clone().narrow(0,0,500)).into_data(); println!("eval fwd 500 {:?}", t.elapsed());
}
