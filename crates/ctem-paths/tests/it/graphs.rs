//! Yen's k shortest paths and the minimum vertex cut against brute force on random graphs.

use ctem_paths::cut::{Cut, min_vertex_cut};
use ctem_paths::graph::{Csr, Guide, dijkstra, k_shortest};
use ctem_paths::synth::Rng;

fn random_graph(rng: &mut Rng, n: usize, m: usize) -> Csr {
    let mut edges = Vec::new();
    for _ in 0..m {
        let u = rng.below(n) as u32;
        let v = rng.below(n) as u32;
        if u != v {
            // weights on a grid of 1/8 so that ties happen and are compared exactly
            edges.push((u, v, (1 + rng.below(8)) as f64 / 8.0));
        }
    }
    Csr::from_edges(n, &edges)
}

/// Every simple path from s to t, by DFS, as (cost, edge ids).
fn all_paths(g: &Csr, s: u32, t: u32) -> Vec<(f64, Vec<u32>)> {
    fn go(
        g: &Csr,
        u: u32,
        t: u32,
        on: &mut Vec<bool>,
        edges: &mut Vec<u32>,
        cost: f64,
        out: &mut Vec<(f64, Vec<u32>)>,
    ) {
        if u == t {
            out.push((cost, edges.clone()));
            return;
        }
        for e in g.out(u) {
            let v = g.targets[e];
            if on[v as usize] {
                continue;
            }
            on[v as usize] = true;
            edges.push(e as u32);
            go(g, v, t, on, edges, cost + g.weights[e], out);
            edges.pop();
            on[v as usize] = false;
        }
    }
    let mut on = vec![false; g.node_count()];
    on[s as usize] = true;
    let mut out = Vec::new();
    go(g, s, t, &mut on, &mut Vec::new(), 0.0, &mut out);
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

#[test]
fn yen_matches_brute_force_on_random_graphs() {
    let mut rng = Rng::new(42);
    let mut checked = 0;
    for _ in 0..200 {
        let n = 4 + rng.below(6);
        let m = n * 2 + rng.below(n * 2);
        let g = random_graph(&mut rng, n, m);
        let (s, t) = (0u32, (n - 1) as u32);
        let (h, _) = dijkstra(&g.reversed(), &[t]);
        let k = 1 + rng.below(6);
        let got = k_shortest(&g, &h, &mut Guide::new(&g, &h), s, t, k);
        let want = all_paths(&g, s, t);
        assert_eq!(got.len(), k.min(want.len()), "n={n} k={k}");
        for (i, p) in got.iter().enumerate() {
            assert!(
                (p.cost - want[i].0).abs() < 1e-9,
                "path {i}: {} vs {}",
                p.cost,
                want[i].0
            );
            // a real, loopless path of that cost
            let mut seen = std::collections::HashSet::new();
            assert!(
                p.nodes.iter().all(|v| seen.insert(*v)),
                "loop in {:?}",
                p.nodes
            );
            let sum: f64 = p.edges.iter().map(|&e| g.weights[e as usize]).sum();
            assert!((sum - p.cost).abs() < 1e-9);
        }
        let distinct: std::collections::HashSet<_> = got.iter().map(|p| p.edges.clone()).collect();
        assert_eq!(distinct.len(), got.len(), "duplicate paths");
        checked += usize::from(!got.is_empty());
    }
    assert!(checked > 50, "too few graphs with a path: {checked}");
}

fn connected_without(g: &Csr, removed: &[bool], s: u32, t: u32) -> bool {
    let mut seen = vec![false; g.node_count()];
    let mut stack = vec![s];
    seen[s as usize] = true;
    while let Some(u) = stack.pop() {
        if u == t {
            return true;
        }
        for e in g.out(u) {
            let v = g.targets[e] as usize;
            if !seen[v] && !removed[v] {
                seen[v] = true;
                stack.push(v as u32);
            }
        }
    }
    false
}

#[test]
fn min_cut_matches_brute_force_on_random_graphs() {
    let mut rng = Rng::new(7);
    for _ in 0..150 {
        let n = 5 + rng.below(6);
        let m = n * 2 + rng.below(n);
        let g = random_graph(&mut rng, n, m);
        let (s, t) = (0u32, (n - 1) as u32);
        let cuttable: Vec<bool> = (0..n)
            .map(|v| v != 0 && v != n - 1 && rng.below(3) > 0)
            .collect();
        let cand: Vec<usize> = (0..n).filter(|&v| cuttable[v]).collect();
        // the smallest subset of cuttable nodes that disconnects, by enumeration
        let mut best: Option<usize> = None;
        for mask in 0u32..(1 << cand.len()) {
            let size = mask.count_ones() as usize;
            if best.is_some_and(|b| size >= b) {
                continue;
            }
            let mut removed = vec![false; n];
            for (i, &v) in cand.iter().enumerate() {
                removed[v] = mask & (1 << i) != 0;
            }
            if !connected_without(&g, &removed, s, t) {
                best = Some(size);
            }
        }
        match min_vertex_cut(&g, &cuttable, &[s], &[t]) {
            Cut::Nodes(ns) => {
                assert_eq!(Some(ns.len()), best, "cut {ns:?}");
                let mut removed = vec![false; n];
                for v in &ns {
                    assert!(cuttable[*v as usize]);
                    removed[*v as usize] = true;
                }
                assert!(
                    !connected_without(&g, &removed, s, t),
                    "cut {ns:?} leaves a path"
                );
            }
            Cut::Uncuttable => assert_eq!(best, None),
        }
    }
}

#[test]
fn min_cut_of_a_layered_graph_is_its_narrowest_layer() {
    // source -> layer of 5 -> layer of 3 -> layer of 4 -> target, complete between layers:
    // the minimum cut is the layer of 3, by construction
    let layers = [5usize, 3, 4];
    let mut edges = Vec::new();
    let mut prev = vec![0u32];
    let mut next_id = 1u32;
    let mut ids = Vec::new();
    for &w in &layers {
        let layer: Vec<u32> = (0..w).map(|i| next_id + i as u32).collect();
        next_id += w as u32;
        for &u in &prev {
            for &v in &layer {
                edges.push((u, v, 1.0));
            }
        }
        ids.push(layer.clone());
        prev = layer;
    }
    let t = next_id;
    for &u in &prev {
        edges.push((u, t, 1.0));
    }
    let g = Csr::from_edges(t as usize + 1, &edges);
    let mut cuttable = vec![true; t as usize + 1];
    cuttable[0] = false;
    cuttable[t as usize] = false;
    assert_eq!(
        min_vertex_cut(&g, &cuttable, &[0], &[t]),
        Cut::Nodes(ids[1].clone())
    );
}
