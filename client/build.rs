//! Writes the Credits screen's crate list (`OUT_DIR/credits.txt`) from the dependency tree.
//!
//! Why at build time: a distributed binary must name the licence of every crate it ships, and
//! a hand-kept list goes stale. `cargo metadata` (offline, from Cargo.lock) gives the resolved
//! graph; the list is every package reachable from this crate through normal dependencies,
//! one line each: `name<TAB>version<TAB>licence<TAB>authors`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=../Cargo.lock");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let text = match crate_list() {
        Ok(t) => t,
        Err(e) => {
            println!("cargo:warning=the Credits screen's crate list could not be made: {e}");
            format!("!\t{e}\n")
        }
    };
    std::fs::write(out.join("credits.txt"), text).expect("write OUT_DIR/credits.txt");
}

fn crate_list() -> Result<String, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?;
    let mut cmd = Command::new(cargo);
    cmd.args([
        "metadata",
        "--format-version",
        "1",
        "--offline",
        "--manifest-path",
    ])
    .arg(PathBuf::from(&manifest).join("Cargo.toml"));
    if let Ok(target) = std::env::var("TARGET") {
        cmd.args(["--filter-platform", &target]);
    }
    let output = cmd.output().map_err(|e| format!("cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let packages: BTreeMap<&str, &serde_json::Value> = meta["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let nodes: BTreeMap<&str, &serde_json::Value> = meta["resolve"]["nodes"]
        .as_array()
        .ok_or("cargo metadata: no resolve graph")?
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let root = packages
        .iter()
        .find(|(_, p)| p["name"] == "tilegame-client")
        .map(|(id, _)| *id)
        .ok_or("cargo metadata: tilegame-client not found")?;
    let mut seen = BTreeSet::from([root]);
    let mut todo = vec![root];
    while let Some(id) = todo.pop() {
        let Some(deps) = nodes.get(id).and_then(|n| n["deps"].as_array()) else {
            continue;
        };
        for dep in deps {
            let normal = dep["dep_kinds"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k["kind"].is_null()));
            if let (true, Some(pkg)) = (normal, dep["pkg"].as_str()) {
                if seen.insert(pkg) {
                    todo.push(pkg);
                }
            }
        }
    }
    let mut lines: Vec<String> = seen
        .iter()
        .filter_map(|id| packages.get(id))
        .filter(|p| p["source"].is_string()) // the workspace's own crates are ours
        .map(|p| {
            let authors: Vec<&str> = p["authors"]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
                .unwrap_or_default();
            let clean = |s: &str| s.replace(['\t', '\n'], " ");
            format!(
                "{}\t{}\t{}\t{}",
                clean(p["name"].as_str().unwrap_or("?")),
                clean(p["version"].as_str().unwrap_or("?")),
                clean(p["license"].as_str().unwrap_or("see its repository")),
                clean(&authors.join(", "))
            )
        })
        .collect();
    lines.sort();
    lines.dedup();
    Ok(lines.join("\n") + "\n")
}
