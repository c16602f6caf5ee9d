//! Hot-path costs of the interface-state model: counters_at per interface, state() read,
//! and a state write with and without listeners. Criterion prints time per op (ns/op).

use criterion::{Criterion, criterion_group, criterion_main};
use nl6_ifstate::{DeviceModel, DeviceSpec, ErrorScenario, LinkStatus, unix_now_ns};
use std::hint::black_box;
use std::time::Instant;

fn device() -> DeviceModel {
    DeviceModel::new(&DeviceSpec {
        seed: 1234,
        interfaces: 36,
        errors: ErrorScenario::Typical,
        ..Default::default()
    })
    .expect("valid spec")
}

/// Times `f` over `iters` calls and prints ns per call (a quick summary besides criterion's).
fn ns_per_op(label: &str, iters: u64, mut f: impl FnMut(u64)) {
    let start = Instant::now();
    for k in 0..iters {
        f(k);
    }
    let ns = start.elapsed().as_nanos() as f64 / iters as f64;
    println!("ns/op {label}: {ns:.1}");
}

fn summary(dev: &DeviceModel, t0: u64) {
    let n = dev.interface_count() as u64;
    ns_per_op("counters_at, new instant each call", 2_000_000, |k| {
        black_box(dev.counters_at((k % n) as usize, t0 + k * 1_000));
    });
    ns_per_op(
        "counters_at, per interface, 36 at one instant",
        2_000_000,
        |k| {
            black_box(dev.counters_at((k % n) as usize, t0 + (k / n) * 1_000));
        },
    );
    ns_per_op("state", 20_000_000, |k| {
        black_box(dev.state((k % n) as usize));
    });
}

fn bench(c: &mut Criterion) {
    let dev = device();
    let n = dev.interface_count();
    let t0 = unix_now_ns();
    summary(&dev, t0);

    c.bench_function("counters_at (one interface, new instant each call)", |b| {
        let mut i = 0usize;
        let mut t = t0;
        b.iter(|| {
            i = if i + 1 == n { 0 } else { i + 1 };
            t += 1_000;
            black_box(dev.counters_at(black_box(i), black_box(t)))
        })
    });

    c.bench_function("counters_at (all 36 interfaces, one instant)", |b| {
        let mut t = t0;
        b.iter(|| {
            t += 1_000;
            for i in 0..n {
                black_box(dev.counters_at(black_box(i), black_box(t)));
            }
        })
    });

    c.bench_function("state (one interface)", |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = if i + 1 == n { 0 } else { i + 1 };
            black_box(dev.state(black_box(i)))
        })
    });

    c.bench_function("set_link flip, no listeners", |b| {
        let mut t = t0;
        b.iter(|| {
            t += 1;
            let link = if t & 1 == 0 {
                LinkStatus::Down
            } else {
                LinkStatus::Up
            };
            black_box(dev.set_link(0, link, t))
        })
    });

    let mut listeners: Vec<_> = (0..4).map(|_| dev.subscribe()).collect();
    c.bench_function("set_link flip, 4 listeners (full queues)", |b| {
        let mut t = t0;
        b.iter(|| {
            t += 1;
            let link = if t & 1 == 0 {
                LinkStatus::Down
            } else {
                LinkStatus::Up
            };
            black_box(dev.set_link(0, link, t))
        })
    });
    listeners
        .iter_mut()
        .for_each(|l| while l.try_recv().is_some() {});
}

/// The benchmark group (criterion_group! defines an undocumented `pub fn`).
#[allow(missing_docs)]
mod group {
    use super::*;

    criterion_group! {
        name = benches;
        config = Criterion::default()
            .warm_up_time(std::time::Duration::from_millis(500))
            .measurement_time(std::time::Duration::from_secs(2));
        targets = bench
    }
}
criterion_main!(group::benches);
