//! The paths benchmark: generates a synthetic environment, builds its attack graph, finds the
//! top-k paths to every crown jewel and ranks the choke-point fixes, timing each phase.
//! With `--out DIR` it writes the graph (`edges.tsv`: from, to, weight) and ctem's answers
//! (`ctem.json`) for bench/paths.sh to compare with networkx.
//!
//! `cargo run --release -p ctem-paths --example paths_bench -- --hosts 100000 --out DIR`

use std::io::Write;
use std::time::Instant;

use ctem_paths::graph::{dijkstra, dijkstra_until, path_to};
use ctem_paths::synth::{Spec, generate};
use ctem_paths::{AttackGraph, query};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// CPU seconds of this (single-threaded) process so far: the nanoseconds the scheduler ran
/// it (/proc/self/schedstat), else user + system ticks of /proc/self/stat (10 ms steps: too
/// coarse for a phase of 0.1 s, where one tick is 10%). On a shared machine CPU time says
/// more than wall time; networkx's `time.process_time` is as fine.
fn cpu() -> f64 {
    if let Some(ns) = std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
    {
        return ns / 1e9;
    }
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // fields 14 and 15 of the whole line (utime, stime) are 11 and 12 after the name
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let num = |n: &str, d: usize| arg(&args, n).and_then(|v| v.parse().ok()).unwrap_or(d);
    let spec = Spec {
        hosts: num("--hosts", 100_000),
        zones: num("--zones", 24),
        exposures_per_host: 2.5,
        crown_jewels: num("--jewels", 10),
        credential_groups: 4,
        seed: num("--seed", 7) as u64,
    };
    let k = num("--k", 3);
    let t0 = Instant::now();
    let (env, cfg) = generate(&spec);
    let t_gen = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let g = AttackGraph::build(&env, &cfg);
    let t_build = t1.elapsed().as_secs_f64();
    if std::env::var_os("DJ").is_some() {
        let t = Instant::now();
        let (d, _) = dijkstra(&g.rev, &[g.goals[0].1]);
        let reached = d.iter().filter(|x| x.is_finite()).count();
        eprintln!(
            "one reverse dijkstra: {:.3} s, {reached} reached",
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let (d, _) = dijkstra(&g.csr, &[g.attacker]);
        let reached = d.iter().filter(|x| x.is_finite()).count();
        eprintln!(
            "one forward dijkstra: {:.3} s, {reached} reached",
            t.elapsed().as_secs_f64()
        );
    }
    // the same shortest paths networkx computes: the most likely path to each crown jewel,
    // from one Dijkstra out of the attacker node (stopped once every jewel is settled)
    let t2 = Instant::now();
    let c2 = cpu();
    let goals: Vec<u32> = g.goals.iter().map(|(_, n)| *n).collect();
    let (dist, via) = dijkstra_until(&g.csr, &[g.attacker], &goals);
    let best: Vec<(usize, u32, Option<f64>, Vec<u32>)> = g
        .goals
        .iter()
        .map(|&(asset, goal)| {
            let p = path_to(&g.csr, &dist, &via, g.attacker, goal);
            let d = dist[goal as usize];
            let nodes = p.map(|p| p.nodes).unwrap_or_default();
            (asset, goal, d.is_finite().then_some(d), nodes)
        })
        .collect();
    let t_top1 = t2.elapsed().as_secs_f64();
    let c_top1 = cpu() - c2;
    // the whole workload: top-k paths to every crown jewel plus the choke-point ranking
    let t3 = Instant::now();
    let c3 = cpu();
    let paths = query::top_paths(&g, &env, k, None);
    let t_paths = t3.elapsed().as_secs_f64();
    let choke = query::chokepoints_of(&g, &env, &paths, 10);
    let t_work = t3.elapsed().as_secs_f64();
    let c_work = cpu() - c3;
    eprintln!(
        "hosts {} nodes {} edges {} crown jewels {} | generate {:.3} s build {:.3} s | most likely path each {:.3} s | top-{k} paths {:.3} s, + chokepoints {:.3} s ({} paths, min cut {:?} exposures)",
        env.assets.len(),
        g.csr.node_count(),
        g.csr.edge_count(),
        g.goals.len(),
        t_gen,
        t_build,
        t_top1,
        t_paths,
        t_work,
        paths.len(),
        choke.min_cut.as_ref().map(|c| c.len())
    );
    if let Some(dir) = arg(&args, "--out") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir)?;
        let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join("edges.tsv"))?);
        for u in 0..g.csr.node_count() as u32 {
            for e in g.csr.out(u) {
                writeln!(w, "{u}\t{}\t{:e}", g.csr.targets[e], g.csr.weights[e])?;
            }
        }
        w.flush()?;
        let jewels: Vec<serde_json::Value> = best
            .iter()
            .map(|(a, goal, cost, nodes)| {
                let first = paths.iter().find(|p| p.target == env.assets[*a].name);
                serde_json::json!({
                    "asset": env.assets[*a].name, "goal": goal, "cost": cost,
                    "nodes": cost.map(|_| nodes.clone()),
                    "yen_first_cost": first.map(|p| p.raw.cost),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "attacker": g.attacker, "hosts": env.assets.len(), "nodes": g.csr.node_count(),
            "edges": g.csr.edge_count(), "k": k, "jewels": jewels,
            "seconds": {"build": t_build, "top1": t_top1, "paths": t_paths, "workload": t_work},
            "cpu_seconds": {"top1": c_top1, "workload": c_work},
        });
        std::fs::write(dir.join("ctem.json"), serde_json::to_string(&doc)?)?;
    }
    Ok(())
}
