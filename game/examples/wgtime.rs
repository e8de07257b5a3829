use std::time::Instant;
use tilegame_game::{generate, height_map, MapSize, Theme};
fn main() {
    let seed = "benchSEED0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU";
    for side in [192u16, 1024] {
        let n = if side == 192 { 400 } else { 30 };
        let mut g = Vec::new();
        let mut hm = Vec::new();
        for _ in 0..n {
            let t = Instant::now();
            let m = generate(
                seed,
                Theme::Default,
                MapSize::Custom {
                    width: side,
                    height: side,
                },
            )
            .unwrap();
            g.push(t.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(m);
            let t = Instant::now();
            let h = height_map(seed, side, side).unwrap();
            hm.push(t.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(h);
        }
        g.sort_by(f64::total_cmp);
        hm.sort_by(f64::total_cmp);
        println!(
            "{side}: generate min {:.3} med {:.3} ms | height_map min {:.3} med {:.3}",
            g[0],
            g[n / 2],
            hm[0],
            hm[n / 2]
        );
    }
}
