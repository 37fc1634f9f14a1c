//! Minimum vertex cut: the fewest cuttable nodes (exposures) whose removal disconnects the
//! sources from the targets. The classic reduction: every cuttable node `v` is split into
//! `v_in -> v_out` with capacity 1, every other node is one node, every edge has infinite
//! capacity; a maximum flow (Dinic) equals the size of the minimum cut, and the cut is the
//! split nodes whose `v_in` the residual graph still reaches from the source while `v_out`
//! it does not.

use std::collections::VecDeque;

use crate::graph::{Csr, NodeId};

const INF: u64 = u64::MAX / 4;

/// A flow network in adjacency-list form with paired reverse edges.
struct Net {
    head: Vec<u32>,
    next: Vec<u32>,
    to: Vec<u32>,
    cap: Vec<u64>,
    level: Vec<i32>,
    iter: Vec<u32>,
}

const NIL: u32 = u32::MAX;

impl Net {
    fn new(n: usize, edges_hint: usize) -> Self {
        Net {
            head: vec![NIL; n],
            next: Vec::with_capacity(edges_hint * 2),
            to: Vec::with_capacity(edges_hint * 2),
            cap: Vec::with_capacity(edges_hint * 2),
            level: vec![0; n],
            iter: vec![0; n],
        }
    }

    fn add(&mut self, u: u32, v: u32, c: u64) {
        for (a, b, cap) in [(u, v, c), (v, u, 0)] {
            self.to.push(b);
            self.cap.push(cap);
            self.next.push(self.head[a as usize]);
            self.head[a as usize] = (self.to.len() - 1) as u32;
        }
    }

    fn bfs(&mut self, s: u32, t: u32) -> bool {
        self.level.iter_mut().for_each(|l| *l = -1);
        self.level[s as usize] = 0;
        let mut q = VecDeque::from([s]);
        while let Some(u) = q.pop_front() {
            let mut e = self.head[u as usize];
            while e != NIL {
                let v = self.to[e as usize];
                if self.cap[e as usize] > 0 && self.level[v as usize] < 0 {
                    self.level[v as usize] = self.level[u as usize] + 1;
                    q.push_back(v);
                }
                e = self.next[e as usize];
            }
        }
        self.level[t as usize] >= 0
    }

    /// One augmenting path in the level graph (iterative DFS); returns the flow pushed.
    fn augment(&mut self, s: u32, t: u32) -> u64 {
        let mut stack: Vec<u32> = Vec::new(); // edges taken
        let mut u = s;
        loop {
            if u == t {
                let f = stack
                    .iter()
                    .map(|&e| self.cap[e as usize])
                    .min()
                    .unwrap_or(0);
                for &e in &stack {
                    self.cap[e as usize] -= f;
                    self.cap[(e ^ 1) as usize] += f;
                }
                return f;
            }
            let mut advanced = false;
            while self.iter[u as usize] != NIL {
                let e = self.iter[u as usize];
                let v = self.to[e as usize];
                if self.cap[e as usize] > 0 && self.level[v as usize] == self.level[u as usize] + 1
                {
                    stack.push(e);
                    u = v;
                    advanced = true;
                    break;
                }
                self.iter[u as usize] = self.next[e as usize];
            }
            if !advanced {
                // dead end: retreat and skip the edge that led here
                self.level[u as usize] = -1;
                let Some(e) = stack.pop() else {
                    return 0;
                };
                let prev = self.to[(e ^ 1) as usize];
                self.iter[prev as usize] = self.next[e as usize];
                u = prev;
            }
        }
    }

    fn max_flow(&mut self, s: u32, t: u32, limit: u64) -> u64 {
        let mut flow = 0;
        while flow < limit && self.bfs(s, t) {
            self.iter.copy_from_slice(&self.head);
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
        let mut seen = vec![false; self.head.len()];
        seen[s as usize] = true;
        let mut q = vec![s];
        while let Some(u) = q.pop() {
            let mut e = self.head[u as usize];
            while e != NIL {
                let v = self.to[e as usize];
                if self.cap[e as usize] > 0 && !seen[v as usize] {
                    seen[v as usize] = true;
                    q.push(v);
                }
                e = self.next[e as usize];
            }
        }
        seen
    }
}

/// The result of [`min_vertex_cut`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cut {
    /// The cuttable nodes of a minimum cut, ascending.
    Nodes(Vec<NodeId>),
    /// Some source reaches a target through cuttable-free routes only.
    Uncuttable,
}

/// A minimum set of `cuttable` nodes separating `sources` from `targets` in `g`.
pub fn min_vertex_cut(g: &Csr, cuttable: &[bool], sources: &[NodeId], targets: &[NodeId]) -> Cut {
    let n = g.node_count();
    // node v: in = v, out = n + v for cuttable nodes; super source 2n, super sink 2n + 1
    let out_of = |v: NodeId| {
        if cuttable[v as usize] {
            n as u32 + v
        } else {
            v
        }
    };
    let (ss, tt) = (2 * n as u32, 2 * n as u32 + 1);
    let mut net = Net::new(2 * n + 2, g.edge_count() + n);
    for v in 0..n as u32 {
        if cuttable[v as usize] {
            net.add(v, n as u32 + v, 1);
        }
        for e in g.out(v) {
            net.add(out_of(v), g.targets[e], INF);
        }
    }
    for &s in sources {
        net.add(ss, s, INF);
    }
    for &t in targets {
        net.add(out_of(t), tt, INF);
    }
    let limit = cuttable.iter().filter(|c| **c).count() as u64 + 1;
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
