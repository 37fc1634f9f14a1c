//! Minimum vertex cut: the fewest cuttable nodes (exposures) whose removal disconnects the
//! sources from the targets. The classic reduction: every cuttable node `v` is split into
//! `v_in -> v_out` with capacity 1, every other node is one node, every edge has infinite
//! capacity; a maximum flow (Dinic) equals the size of the minimum cut, and the cut is the
//! split nodes whose `v_in` the residual graph still reaches from the source while `v_out`
//! it does not.

use std::collections::VecDeque;

use crate::graph::{Csr, NodeId};

const INF: u32 = u32::MAX / 4;

/// A flow network in CSR form: the arcs of node `u` are `start[u]..start[u + 1]`, each arc
/// knows the position of its paired reverse arc.
struct Net {
    start: Vec<u32>,
    to: Vec<u32>,
    cap: Vec<u32>,
    pair: Vec<u32>,
    level: Vec<i32>,
    iter: Vec<u32>,
}

impl Net {
    /// Builds the network from `(from, to, capacity)` arcs over `n` nodes.
    fn new(n: usize, arcs: &[(u32, u32, u32)]) -> Self {
        let mut start = vec![0u32; n + 1];
        for &(u, v, _) in arcs {
            start[u as usize + 1] += 1;
            start[v as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let m = start[n] as usize;
        let mut fill = start.clone();
        let (mut to, mut cap, mut pair) = (vec![0u32; m], vec![0u32; m], vec![0u32; m]);
        for &(u, v, c) in arcs {
            let a = fill[u as usize];
            fill[u as usize] += 1;
            let b = fill[v as usize];
            fill[v as usize] += 1;
            (to[a as usize], cap[a as usize], pair[a as usize]) = (v, c, b);
            (to[b as usize], cap[b as usize], pair[b as usize]) = (u, 0, a);
        }
        Net {
            start,
            to,
            cap,
            pair,
            level: vec![0; n],
            iter: vec![0; n],
        }
    }

    /// Levels of the residual graph, up to the level of `t` (the rest is never used).
    fn bfs(&mut self, s: u32, t: u32) -> bool {
        self.level.iter_mut().for_each(|l| *l = -1);
        self.level[s as usize] = 0;
        let mut q = VecDeque::from([s]);
        while let Some(u) = q.pop_front() {
            let lu = self.level[u as usize];
            if self.level[t as usize] >= 0 && lu >= self.level[t as usize] {
                break;
            }
            for a in self.start[u as usize] as usize..self.start[u as usize + 1] as usize {
                let v = self.to[a];
                if self.cap[a] > 0 && self.level[v as usize] < 0 {
                    self.level[v as usize] = lu + 1;
                    q.push_back(v);
                }
            }
        }
        self.level[t as usize] >= 0
    }

    /// One augmenting path in the level graph (iterative DFS); returns the flow pushed.
    fn augment(&mut self, s: u32, t: u32) -> u32 {
        let mut stack: Vec<u32> = Vec::new(); // arcs taken
        let mut u = s;
        loop {
            if u == t {
                let f = stack
                    .iter()
                    .map(|&a| self.cap[a as usize])
                    .min()
                    .unwrap_or(0);
                for &a in &stack {
                    self.cap[a as usize] -= f;
                    let p = self.pair[a as usize] as usize;
                    self.cap[p] += f;
                }
                return f;
            }
            let end = self.start[u as usize + 1];
            let mut advanced = false;
            while self.iter[u as usize] < end {
                let a = self.iter[u as usize];
                let v = self.to[a as usize];
                if self.cap[a as usize] > 0 && self.level[v as usize] == self.level[u as usize] + 1
                {
                    stack.push(a);
                    u = v;
                    advanced = true;
                    break;
                }
                self.iter[u as usize] += 1;
            }
            if !advanced {
                // dead end: retreat and skip the arc that led here
                self.level[u as usize] = -1;
                let Some(a) = stack.pop() else {
                    return 0;
                };
                let prev = self.to[self.pair[a as usize] as usize];
                self.iter[prev as usize] += 1;
                u = prev;
            }
        }
    }

    fn max_flow(&mut self, s: u32, t: u32, limit: u32) -> u32 {
        let mut flow = 0;
        while flow < limit && self.bfs(s, t) {
            self.iter
                .copy_from_slice(&self.start[..self.start.len() - 1]);
            loop {
                let f = self.augment(s, t);
                if f == 0 {
                    break;
                }
                flow = flow.saturating_add(f);
                if flow >= limit {
                    break;
                }
            }
        }
        flow
    }

    fn reachable(&self, s: u32) -> Vec<bool> {
        let mut seen = vec![false; self.level.len()];
        seen[s as usize] = true;
        let mut q = vec![s];
        while let Some(u) = q.pop() {
            for a in self.start[u as usize] as usize..self.start[u as usize + 1] as usize {
                let v = self.to[a];
                if self.cap[a] > 0 && !seen[v as usize] {
                    seen[v as usize] = true;
                    q.push(v);
                }
            }
        }
        seen
    }
}

/// Nodes reachable from `from` along the edges of `g`.
fn reach(g: &Csr, from: &[NodeId]) -> Vec<bool> {
    let mut seen = vec![false; g.node_count()];
    let mut q: Vec<NodeId> = from.to_vec();
    for &s in from {
        seen[s as usize] = true;
    }
    while let Some(u) = q.pop() {
        for e in g.out(u) {
            let v = g.targets[e];
            if !seen[v as usize] {
                seen[v as usize] = true;
                q.push(v);
            }
        }
    }
    seen
}

/// The result of [`min_vertex_cut`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cut {
    /// The cuttable nodes of a minimum cut, ascending.
    Nodes(Vec<NodeId>),
    /// Some source reaches a target through cuttable-free routes only.
    Uncuttable,
}

/// A minimum set of `cuttable` nodes separating `sources` from `targets` in `g`. Only the
/// nodes on some route from a source to a target (reachable from the sources, and reaching
/// a target) take part in the flow network: on 100,000 hosts the rest was most of the graph,
/// and every Dinic phase walked it.
pub fn min_vertex_cut(g: &Csr, cuttable: &[bool], sources: &[NodeId], targets: &[NodeId]) -> Cut {
    min_vertex_cut_with(g, &g.reversed(), cuttable, sources, targets)
}

/// [`min_vertex_cut`] with the reversed graph at hand (`rev`, as [`Csr::reversed`] gives it).
pub fn min_vertex_cut_with(
    g: &Csr,
    rev: &Csr,
    cuttable: &[bool],
    sources: &[NodeId],
    targets: &[NodeId],
) -> Cut {
    let n = g.node_count();
    let mut live = reach(g, sources);
    let back = reach(rev, targets);
    for (l, b) in live.iter_mut().zip(&back) {
        *l &= *b;
    }
    // node v: in = v, out = n + v for cuttable nodes; super source 2n, super sink 2n + 1
    let out_of = |v: NodeId| {
        if cuttable[v as usize] {
            n as u32 + v
        } else {
            v
        }
    };
    let (ss, tt) = (2 * n as u32, 2 * n as u32 + 1);
    let mut arcs: Vec<(u32, u32, u32)> = Vec::new();
    let mut limit = 1u32;
    for v in 0..n as u32 {
        if !live[v as usize] {
            continue;
        }
        if cuttable[v as usize] {
            arcs.push((v, n as u32 + v, 1));
            limit += 1;
        }
        for e in g.out(v) {
            if live[g.targets[e] as usize] {
                arcs.push((out_of(v), g.targets[e], INF));
            }
        }
    }
    for &s in sources {
        if live[s as usize] {
            arcs.push((ss, s, INF));
        }
    }
    for &t in targets {
        if live[t as usize] {
            arcs.push((out_of(t), tt, INF));
        }
    }
    let mut net = Net::new(2 * n + 2, &arcs);
    drop(arcs);
    let flow = net.max_flow(ss, tt, limit);
    if flow >= limit {
        return Cut::Uncuttable;
    }
    let seen = net.reachable(ss);
    Cut::Nodes(
        (0..n as u32)
            .filter(|&v| cuttable[v as usize] && seen[v as usize] && !seen[n + v as usize])
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_parallel_routes_need_two_cuts() {
        // 0 -> {1,2} -> 3 ; 1 and 2 cuttable
        let g = Csr::from_edges(4, &[(0, 1, 0.0), (0, 2, 0.0), (1, 3, 0.0), (2, 3, 0.0)]);
        let c = min_vertex_cut(&g, &[false, true, true, false], &[0], &[3]);
        assert_eq!(c, Cut::Nodes(vec![1, 2]));
    }

    #[test]
    fn a_funnel_node_is_the_single_cut() {
        // 0 -> {1,2} -> 3 -> 4 ; 1, 2, 3 cuttable: 3 alone suffices
        let g = Csr::from_edges(
            5,
            &[
                (0, 1, 0.0),
                (0, 2, 0.0),
                (1, 3, 0.0),
                (2, 3, 0.0),
                (3, 4, 0.0),
            ],
        );
        let c = min_vertex_cut(&g, &[false, true, true, true, false], &[0], &[4]);
        assert_eq!(c, Cut::Nodes(vec![3]));
    }

    #[test]
    fn a_route_without_cuttable_nodes_is_reported() {
        let g = Csr::from_edges(3, &[(0, 1, 0.0), (1, 2, 0.0), (0, 2, 0.0)]);
        let c = min_vertex_cut(&g, &[false, true, false], &[0], &[2]);
        assert_eq!(c, Cut::Uncuttable);
    }
}
