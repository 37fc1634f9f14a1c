"""networkx side of bench/paths.sh: the most likely path to each crown jewel of the graph
paths_bench wrote (edges.tsv: from, to, weight = -ln likelihood), from one Dijkstra out of the
attacker node (dijkstra_predecessor_and_distance), timed, and compared with ctem's answers
(ctem.json). Exit status 1 when the costs differ."""
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
c = time.process_time()
answers = []
# one Dijkstra from the attacker node, as ctem does, then each jewel's path from predecessors
pred, dist = nx.dijkstra_predecessor_and_distance(g, ctem["attacker"], weight="weight")
for j in ctem["jewels"]:
    goal = j["goal"]
    if goal not in dist:
        answers.append((None, None))
        continue
    path = [goal]
    while path[-1] != ctem["attacker"]:
        path.append(pred[path[-1]][0])
    path.reverse()
    answers.append((dist[goal], path))
nx_seconds = time.perf_counter() - t
nx_cpu = time.process_time() - c

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
print(json.dumps({"jewels": n, "same_cost": same_cost, "same_path": same_path, "networkx_seconds": nx_seconds, "networkx_cpu_seconds": nx_cpu}))
sys.exit(0 if same_cost == n else 1)
