//! World generation + run-length encoding throughput.
//!
//! The original Python game took 1.9 s to generate a 192² map. Targets (issue #20): 192² in
//! ≤ 1 ms and 1024² in ≤ 25 ms (generation is part of every join and every re-simulation, and
//! one tick is 50 ms). `generate NxN` is generation alone; `generate+runs` adds the map's
//! run-length form, as a join sends it.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tilegame_game::{generate, MapSize, Theme};

const SEED: &str = "benchSEED0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU";

fn worldgen(c: &mut Criterion) {
    let mut group = c.benchmark_group("worldgen");
    for side in [192u16, 1024] {
        let size = MapSize::Custom {
            width: side,
            height: side,
        };
        group.bench_function(format!("generate+runs {side}x{side}"), |b| {
            b.iter(|| {
                let map = generate(black_box(SEED), Theme::Default, size).expect("valid size");
                black_box(map.tile_runs().count() + map.dyn_runs().count())
            })
        });
    }
    for side in [192u16, 1024] {
        let size = MapSize::Custom {
            width: side,
            height: side,
        };
        group.bench_function(format!("generate {side}x{side}"), |b| {
            b.iter(|| generate(black_box(SEED), Theme::Default, size).expect("valid size"))
        });
    }
    group.finish();
}

criterion_group!(benches, worldgen);
criterion_main!(benches);
