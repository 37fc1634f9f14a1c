"""networkx side of bench/paths.sh: the most likely path to each crown jewel of the graph
paths_bench wrote (edges.tsv: from, to, weight = -ln likelihood), timed, and compared with
ctem's answers (ctem.json). Exit status 1 when they differ."""
import json
import math
import sys
import time

import networkx as nx

work = sys.argv[1]
ctem = json.load(open(f"{work}/ctem.json"))
g = nx.DiGraph()
with open(f"{work}/edges.tsv") as f:
    for line in f:
        u, v, w = line.split("\t")
        u, v, w = int(u), int(v), float(w)
        # parallel edges: keep the cheapest, as a shortest path would
        if not g.has_edge(u, v) or g[u][v]["weight"] > w:
            g.add_edge(u, v, weight=w)
print(f"networkx graph: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges", file=sys.stderr)

t = time.perf_counter()
answers = []
for j in ctem["jewels"]:
    try:
        cost, path = nx.single_source_dijkstra(g, ctem["attacker"], target=j["goal"], weight="weight")
    except nx.NetworkXNoPath:
        cost, path = None, None
    answers.append((cost, path))
nx_seconds = time.perf_counter() - t

same_cost = same_path = 0
for j, (cost, path) in zip(ctem["jewels"], answers):
    if (cost is None) != (j["cost"] is None):
        print(f"DIFFERENT reachability for {j['asset']}: networkx {cost} ctem {j['cost']}", file=sys.stderr)
        continue
    if cost is None or math.isclose(cost, j["cost"], rel_tol=1e-9, abs_tol=1e-12):
        same_cost += 1
    else:
        print(f"DIFFERENT cost for {j['asset']}: networkx {cost} ctem {j['cost']}", file=sys.stderr)
    if path == j["nodes"]:
        same_path += 1
n = len(ctem["jewels"])
print(json.dumps({"jewels": n, "same_cost": same_cost, "same_path": same_path, "networkx_seconds": nx_seconds}))
sys.exit(0 if same_cost == n else 1)
