//! A compact directed graph (CSR arrays) with the two searches the queries need: Dijkstra
//! and Yen's k shortest loopless paths, whose spur searches are A* guided by the exact
//! distance to the target (so each explores little more than the path it finds).
//!
//! Nodes are `u32` indices, weights `f64` (`-ln(likelihood)`, never negative). Edge ids are
//! positions in the CSR arrays, so a path names the exact edge it took even when two
//! parallel edges join the same nodes.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

/// A node index.
pub type NodeId = u32;
/// An edge index (position in [`Csr::targets`]).
pub type EdgeId = u32;

/// Forward adjacency in compressed sparse row form.
#[derive(Debug, Clone, Default)]
pub struct Csr {
    /// `offsets[v]..offsets[v + 1]` are the out-edges of `v`.
    pub offsets: Vec<u32>,
    pub targets: Vec<NodeId>,
    pub weights: Vec<f64>,
    /// For each CSR edge, its index in the edge list it was built from.
    pub origin: Vec<u32>,
}

impl Csr {
    /// Builds the arrays from `(from, to, weight)` triples over `n` nodes (counting sort,
    /// stable: out-edges keep their input order).
    pub fn from_edges(n: usize, edges: &[(NodeId, NodeId, f64)]) -> Self {
        let mut offsets = vec![0u32; n + 1];
        for &(u, _, _) in edges {
            offsets[u as usize + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut targets = vec![0; edges.len()];
        let mut weights = vec![0.0; edges.len()];
        let mut origin = vec![0; edges.len()];
        for (i, &(u, v, w)) in edges.iter().enumerate() {
            let at = fill[u as usize] as usize;
            fill[u as usize] += 1;
            targets[at] = v;
            // -ln(1) is -0.0, whose bits would sort last as a radix-heap key
            weights[at] = if w == 0.0 { 0.0 } else { w };
            origin[at] = i as u32;
        }
        Csr {
            offsets,
            targets,
            weights,
            origin,
        }
    }

    pub fn node_count(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn edge_count(&self) -> usize {
        self.targets.len()
    }

    /// The out-edge ids of `v`.
    pub fn out(&self, v: NodeId) -> std::ops::Range<usize> {
        self.offsets[v as usize] as usize..self.offsets[v as usize + 1] as usize
    }

    /// The graph with every edge reversed; `origin` then names the forward CSR edge id.
    pub fn reversed(&self) -> Csr {
        let n = self.node_count();
        let mut edges = Vec::with_capacity(self.edge_count());
        for u in 0..n as u32 {
            for e in self.out(u) {
                edges.push((self.targets[e], u, self.weights[e]));
            }
        }
        Csr::from_edges(n, &edges)
    }
}

/// A monotone priority queue on `u64` keys (a radix heap): keys popped never decrease, which
/// Dijkstra guarantees. Non-negative `f64` distances keep their order as bit patterns. Each
/// item moves down at most 64 buckets over its life, so push and pop are O(1) amortised and
/// cheaper than a binary heap's comparisons.
struct RadixHeap {
    last: u64,
    len: usize,
    buckets: Vec<Vec<(u64, NodeId)>>,
}

impl RadixHeap {
    fn new() -> Self {
        RadixHeap {
            last: 0,
            len: 0,
            buckets: (0..65).map(|_| Vec::new()).collect(),
        }
    }

    fn bucket(&self, key: u64) -> usize {
        (64 - (key ^ self.last).leading_zeros()) as usize
    }

    fn push(&mut self, key: u64, v: NodeId) {
        let b = self.bucket(key);
        self.buckets[b].push((key, v));
        self.len += 1;
    }

    fn pop(&mut self) -> Option<(u64, NodeId)> {
        if self.len == 0 {
            return None;
        }
        if self.buckets[0].is_empty() {
            let i = (1..65).find(|&i| !self.buckets[i].is_empty())?;
            let items = std::mem::take(&mut self.buckets[i]);
            self.last = items.iter().map(|x| x.0).min().unwrap_or(self.last);
            for (k, v) in &items {
                let b = self.bucket(*k);
                self.buckets[b].push((*k, *v));
            }
            // give the emptied bucket its allocation back
            let mut items = items;
            items.clear();
            self.buckets[i] = items;
        }
        self.len -= 1;
        self.buckets[0].pop()
    }
}

/// Single-source (or multi-source) Dijkstra: distances and the edge each node was reached
/// by (`u32::MAX` for sources and unreached nodes).
pub fn dijkstra(g: &Csr, sources: &[NodeId]) -> (Vec<f64>, Vec<EdgeId>) {
    dijkstra_until(g, sources, &[])
}

/// [`dijkstra`] that stops once every node of `targets` is settled (all nodes when empty);
/// distances of nodes not settled by then are upper bounds or infinite.
pub fn dijkstra_until(g: &Csr, sources: &[NodeId], targets: &[NodeId]) -> (Vec<f64>, Vec<EdgeId>) {
    let n = g.node_count();
    let mut dist = vec![f64::INFINITY; n];
    let mut via = vec![u32::MAX; n];
    let mut want: Vec<bool> = Vec::new();
    let mut left = targets.len();
    if left > 0 {
        want = vec![false; n];
        for &t in targets {
            want[t as usize] = true;
        }
    }
    let mut heap = RadixHeap::new();
    for &s in sources {
        dist[s as usize] = 0.0;
        heap.push(0, s);
    }
    // Settled nodes in a bitset (56 KiB for 450,000 nodes: it stays in cache, where the
    // distance array does not): keys come out of the heap in order, so a node's first pop
    // settles it, a later one is stale, and an edge into a settled node cannot improve it.
    // Both tests used to read `dist`, a cache miss each on a large graph.
    let mut settled = vec![0u64; n.div_ceil(64)];
    let is_set = |bits: &[u64], v: usize| bits[v >> 6] & (1 << (v & 63)) != 0;
    while let Some((key, node)) = heap.pop() {
        let ni = node as usize;
        if is_set(&settled, ni) {
            continue;
        }
        settled[ni >> 6] |= 1 << (ni & 63);
        if !want.is_empty() && want[ni] {
            want[ni] = false;
            left -= 1;
            if left == 0 {
                break;
            }
        }
        let d = f64::from_bits(key);
        let r = g.out(node);
        let first = r.start;
        for (i, (&v, &w)) in g.targets[r.clone()].iter().zip(&g.weights[r]).enumerate() {
            let vi = v as usize;
            if is_set(&settled, vi) {
                continue;
            }
            let nd = d + w;
            if nd < dist[vi] {
                dist[vi] = nd;
                via[vi] = (first + i) as u32;
                heap.push(nd.to_bits(), v);
            }
        }
    }
    (dist, via)
}

/// A path: its nodes, the edges between them and its total weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub nodes: Vec<NodeId>,
    pub edges: Vec<EdgeId>,
    pub cost: f64,
}

/// Scratch space reused by the A* searches of one Yen run (stamped, so a search costs what
/// it explores, not the size of the graph).
struct Scratch {
    /// `seen[v] == search` when `dist[v]` / `via[v]` belong to the current search.
    seen: Vec<u32>,
    search: u32,
    dist: Vec<f64>,
    via: Vec<EdgeId>,
    /// `banned[v] == ban` when `v` is a root node of the current spur search.
    banned: Vec<u32>,
    ban: u32,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Scratch {
            seen: vec![0; n],
            search: 0,
            dist: vec![0.0; n],
            via: vec![0; n],
            banned: vec![0; n],
            ban: 1,
        }
    }
}

/// The source node of edge `e`: the node whose out-edge range holds it (a binary search of
/// the offsets, so a path is walked back without an edge-to-source array of the whole graph).
pub fn edge_source(g: &Csr, e: EdgeId) -> NodeId {
    (g.offsets.partition_point(|&o| o <= e) - 1) as NodeId
}

/// The path from `s` to `t` a Dijkstra from `s` found (`via`: its [`dijkstra`] edges), or
/// `None` when `t` was not reached.
pub fn path_to(g: &Csr, dist: &[f64], via: &[EdgeId], s: NodeId, t: NodeId) -> Option<Path> {
    dist[t as usize]
        .is_finite()
        .then(|| walk_back(g, |v| via[v as usize], s, t))
}

/// Reconstructs the path ending at `t` from the `via` edges of a search started at `s`.
fn walk_back(g: &Csr, via: impl Fn(NodeId) -> EdgeId, s: NodeId, t: NodeId) -> Path {
    let mut nodes = vec![t];
    let mut edges = Vec::new();
    let mut v = t;
    let mut cost = 0.0;
    while v != s {
        let e = via(v);
        edges.push(e);
        cost += g.weights[e as usize];
        v = edge_source(g, e);
        nodes.push(v);
    }
    nodes.reverse();
    edges.reverse();
    Path { nodes, edges, cost }
}

/// The source node of each CSR edge (one pass over the graph; [`edge_source`] finds one).
pub fn edge_sources(g: &Csr) -> Vec<NodeId> {
    let mut src = vec![0; g.edge_count()];
    for u in 0..g.node_count() as u32 {
        for e in g.out(u) {
            src[e] = u;
        }
    }
    src
}

/// Each node's out-edges sorted by `weight + h(target)`: the order an A* guided by `h`
/// wants them in, so a search expands one edge at a time instead of pushing a node's whole
/// fan-out (a network position reaches thousands of exploits). Edges into nodes with
/// infinite `h` come last.
///
/// A node's edges are sorted when a search first expands it: the spur searches of Yen touch
/// a sliver of the graph, and sorting every node's fan-out up front was the largest part of
/// the top-k workload on 100,000 hosts.
pub struct Guide {
    order: Vec<EdgeId>,
    /// Whether the edges of node `v` are sorted yet.
    sorted: Vec<bool>,
}

impl Guide {
    /// Every node sorted now.
    pub fn new(g: &Csr, h: &[f64]) -> Self {
        let mut guide = Guide::lazy(g);
        for u in 0..g.node_count() as u32 {
            guide.prepare(g, h, u);
        }
        guide
    }

    /// Nothing sorted yet: each node on its first expansion ([`Guide::prepare`]).
    pub fn lazy(g: &Csr) -> Self {
        Guide {
            order: (0..g.edge_count() as u32).collect(),
            sorted: vec![false; g.node_count()],
        }
    }

    /// Sorts the out-edges of `u` unless done before.
    fn prepare(&mut self, g: &Csr, h: &[f64], u: NodeId) {
        if std::mem::replace(&mut self.sorted[u as usize], true) {
            return;
        }
        let r = g.out(u);
        if r.len() < 2 {
            return;
        }
        // the keys once per edge, not once per comparison
        let mut keyed: Vec<(f64, EdgeId)> = self.order[r.clone()]
            .iter()
            .map(|&e| (g.weights[e as usize] + h[g.targets[e as usize] as usize], e))
            .collect();
        keyed.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (slot, (_, e)) in self.order[r].iter_mut().zip(keyed) {
            *slot = e;
        }
    }
}

/// The k shortest loopless paths from `s` to `t` (Yen), shortest first. `h` is the exact
/// distance of every node to `t` in the whole graph (a Dijkstra on the reversed graph) or
/// any consistent lower bound, `guide` the adjacency sorted by it ([`Guide::new`] or
/// [`Guide::lazy`]; one guide serves every search with the same `h`).
pub fn k_shortest(
    g: &Csr,
    h: &[f64],
    guide: &mut Guide,
    s: NodeId,
    t: NodeId,
    k: usize,
) -> Vec<Path> {
    let mut found: Vec<Path> = Vec::new();
    if k == 0 || !h[s as usize].is_finite() {
        return found;
    }
    let mut sc = Scratch::new(g.node_count());
    let mut search = Search { g, h, guide, t };
    let Some(first) = search.run(s, &mut sc, &HashSet::new()) else {
        return found;
    };
    found.push(first);
    let mut candidates: Vec<Path> = Vec::new();
    let mut seen: HashSet<Vec<EdgeId>> = HashSet::new();
    seen.insert(found[0].edges.clone());
    while found.len() < k {
        let prev = found[found.len() - 1].clone();
        let mut root_cost = 0.0;
        for i in 0..prev.edges.len() {
            let spur = prev.nodes[i];
            let root_edges = &prev.edges[..i];
            let banned_edges: HashSet<EdgeId> = found
                .iter()
                .filter(|p| p.edges.len() > i && &p.edges[..i] == root_edges)
                .map(|p| p.edges[i])
                .collect();
            sc.ban += 1;
            for &v in &prev.nodes[..i] {
                sc.banned[v as usize] = sc.ban;
            }
            if let Some(sp) = search.run(spur, &mut sc, &banned_edges) {
                let mut edges = root_edges.to_vec();
                edges.extend_from_slice(&sp.edges);
                if seen.insert(edges.clone()) {
                    let mut nodes = prev.nodes[..i].to_vec();
                    nodes.extend_from_slice(&sp.nodes);
                    candidates.push(Path {
                        nodes,
                        edges,
                        cost: root_cost + sp.cost,
                    });
                }
            }
            root_cost += g.weights[prev.edges[i] as usize];
        }
        // the cheapest candidate; ties broken by edge sequence for stable output
        let Some(best) = (0..candidates.len()).min_by(|&a, &b| {
            candidates[a]
                .cost
                .total_cmp(&candidates[b].cost)
                .then_with(|| candidates[a].edges.cmp(&candidates[b].edges))
        }) else {
            break;
        };
        found.push(candidates.swap_remove(best));
    }
    found
}

/// A candidate edge of the lazy A*: position `pos` in the sorted adjacency of `node`.
#[derive(Clone, Copy, PartialEq)]
struct Cand {
    key: f64,
    node: NodeId,
    pos: u32,
}
impl Eq for Cand {}
impl Ord for Cand {
    fn cmp(&self, o: &Self) -> Ordering {
        o.key
            .total_cmp(&self.key)
            .then(o.node.cmp(&self.node))
            .then(o.pos.cmp(&self.pos))
    }
}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

struct Search<'a> {
    g: &'a Csr,
    h: &'a [f64],
    guide: &'a mut Guide,
    t: NodeId,
}

impl Search<'_> {
    /// The candidate for the first edge out of node `u`, just settled (its edges sorted now).
    fn first(&mut self, sc: &Scratch, u: NodeId) -> Option<Cand> {
        self.guide.prepare(self.g, self.h, u);
        self.cand(sc, u, self.g.offsets[u as usize] as usize)
    }

    /// The candidate for the edge at sorted position `pos` out of settled node `u`.
    fn cand(&self, sc: &Scratch, u: NodeId, pos: usize) -> Option<Cand> {
        if pos >= self.g.offsets[u as usize + 1] as usize {
            return None;
        }
        let e = self.guide.order[pos] as usize;
        let key = sc.dist[u as usize] + self.g.weights[e] + self.h[self.g.targets[e] as usize];
        key.is_finite().then_some(Cand {
            key,
            node: u,
            pos: pos as u32,
        })
    }

    /// A* from `s` to the target avoiding the nodes banned for this spur (`sc.banned[v] ==
    /// sc.ban`) and the `banned` edges. Edges are expanded lazily in `guide` order; with a
    /// consistent `h` the first edge popped into a node settles it at its shortest distance.
    fn run(&mut self, s: NodeId, sc: &mut Scratch, banned: &HashSet<EdgeId>) -> Option<Path> {
        let g = self.g;
        sc.search += 1;
        let stamp = sc.search;
        sc.seen[s as usize] = stamp;
        sc.dist[s as usize] = 0.0;
        sc.via[s as usize] = u32::MAX;
        if s == self.t {
            return Some(Path {
                nodes: vec![s],
                edges: Vec::new(),
                cost: 0.0,
            });
        }
        let mut heap = BinaryHeap::new();
        if let Some(c) = self.first(sc, s) {
            heap.push(c);
        }
        let mut reached = false;
        while let Some(c) = heap.pop() {
            let u = c.node;
            if let Some(next) = self.cand(sc, u, c.pos as usize + 1) {
                heap.push(next);
            }
            let e = self.guide.order[c.pos as usize];
            let v = g.targets[e as usize];
            if sc.seen[v as usize] == stamp
                || sc.banned[v as usize] == sc.ban
                || (!banned.is_empty() && banned.contains(&e))
            {
                continue;
            }
            sc.seen[v as usize] = stamp;
            sc.dist[v as usize] = sc.dist[u as usize] + g.weights[e as usize];
            sc.via[v as usize] = e;
            if v == self.t {
                reached = true;
                break;
            }
            if let Some(c) = self.first(sc, v) {
                heap.push(c);
            }
        }
        if !reached {
            return None;
        }
        let via = &sc.via;
        Some(walk_back(g, |v| via[v as usize], s, self.t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diamond() -> Csr {
        // 0 -> 1 -> 3, 0 -> 2 -> 3, 1 -> 2
        Csr::from_edges(
            4,
            &[
                (0, 1, 1.0),
                (0, 2, 2.5),
                (1, 3, 2.0),
                (2, 3, 1.0),
                (1, 2, 0.5),
            ],
        )
    }

    #[test]
    fn edge_sources_by_search_match_the_array() {
        // node 4 has no out-edge, node 0 three: empty ranges in between must not confuse it
        let g = Csr::from_edges(
            6,
            &[
                (0, 1, 1.0),
                (0, 2, 1.0),
                (0, 3, 1.0),
                (2, 3, 1.0),
                (5, 0, 1.0),
                (3, 5, 1.0),
            ],
        );
        let all = edge_sources(&g);
        for e in 0..g.edge_count() as u32 {
            assert_eq!(edge_source(&g, e), all[e as usize], "edge {e}");
        }
        let (d, via) = dijkstra(&g, &[0]);
        let p = path_to(&g, &d, &via, 0, 5).unwrap();
        assert_eq!((p.nodes, p.cost), (vec![0, 3, 5], 2.0));
        assert!(path_to(&g, &d, &via, 0, 4).is_none());
    }

    #[test]
    fn dijkstra_finds_the_cheapest_route() {
        let g = diamond();
        let (d, _) = dijkstra(&g, &[0]);
        assert_eq!(d, vec![0.0, 1.0, 1.5, 2.5]);
    }

    #[test]
    fn yen_lists_all_three_paths_in_order() {
        let g = diamond();
        let r = g.reversed();
        let (h, _) = dijkstra(&r, &[3]);
        let mut guide = Guide::lazy(&g);
        let p = k_shortest(&g, &h, &mut guide, 0, 3, 10);
        let nodes: Vec<_> = p.iter().map(|p| p.nodes.clone()).collect();
        assert_eq!(nodes, vec![vec![0, 1, 2, 3], vec![0, 1, 3], vec![0, 2, 3]]);
        assert_eq!(
            p.iter().map(|p| p.cost).collect::<Vec<_>>(),
            vec![2.5, 3.0, 3.5]
        );
    }
}
