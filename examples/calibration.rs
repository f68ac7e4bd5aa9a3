//! How honest each signal's chance is, on generated exports with a ground truth: on
//! calm accounts a chance below α should happen about α of the time; on stressed
//! accounts, as often as possible.
//!
//! ```text
//! churnwatch sample --varied --seed 101 --accounts 400 --out W/data --truth W/truth.csv
//! cp config.toml W/ && cargo run --release --example calibration -- 2026-11-20 W [W2 …]
//! ```
//!
//! Prints, per tested signal, how many calm accounts (by volume tier) and stressed
//! accounts of its category reach a chance below 0.05, 0.01, 0.001 and 0.0001.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::NaiveDate;
use churnwatch::config::Config;
use churnwatch::pipeline::{load, score_as_of};
use churnwatch::scoring::{Signal, measured};

const ALPHAS: [f64; 4] = [0.05, 0.01, 0.001, 0.0001];

#[derive(Default)]
struct Tally {
    accounts: usize,
    below: [usize; 4],
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let as_of: NaiveDate = args.next().ok_or("as-of date")?.parse()?;
    // (signal, group) → tally, group being "calm <tier>" or "stressed".
    let mut tallies: BTreeMap<(&str, String), Tally> = BTreeMap::new();
    for dir in args {
        let dir = Path::new(&dir);
        let cfg = Config::load(&dir.join("config.toml"), &Signal::keys())?;
        let loaded = load(&cfg)?;
        let (snap, _) = score_as_of(&loaded, &cfg, as_of)?;
        let truth: HashMap<String, HashMap<String, String>> =
            csv::Reader::from_path(dir.join("truth.csv"))?
                .deserialize::<HashMap<String, String>>()
                .map(|row| row.map(|r| (r["account_id"].clone(), r)))
                .collect::<Result<_, _>>()?;
        for f in &snap.accounts {
            let Some(t) = truth.get(&loaded.info.id[f.acct as usize]) else {
                continue;
            };
            let chances = measured(f, &snap, &cfg);
            for &signal in Signal::ALL.iter().filter(|s| s.is_tested()) {
                let group = match t["scenario"].as_str() {
                    "healthy" | "healthy_blip" | "quiet" | "new" => {
                        format!("calm {}", t.get("volume").map_or("", String::as_str))
                    }
                    "stressed" if t["category"] == signal.category().as_str() => {
                        "stressed".to_owned()
                    }
                    _ => continue,
                };
                let chance = chances.iter().find(|m| m.0 == signal).and_then(|m| m.3);
                let tally = tallies.entry((signal.key(), group)).or_default();
                tally.accounts += 1;
                for (i, alpha) in ALPHAS.iter().enumerate() {
                    tally.below[i] += usize::from(chance.is_some_and(|p| p < *alpha));
                }
            }
        }
    }
    println!(
        "{:<24} {:<14} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "signal", "accounts", "n", "p<0.05", "p<0.01", "p<0.001", "p<0.0001"
    );
    for ((signal, group), t) in &tallies {
        let share = |k: usize| format!("{:.4}", k as f64 / t.accounts.max(1) as f64);
        println!(
            "{signal:<24} {group:<14} {:>6} {:>9} {:>9} {:>9} {:>9}",
            t.accounts,
            share(t.below[0]),
            share(t.below[1]),
            share(t.below[2]),
            share(t.below[3])
        );
    }
    Ok(())
}
