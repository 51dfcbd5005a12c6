#!/usr/bin/env python3
"""Prints a crate's top-level module graph and its cycles from the DOT that the public tool
`cargo-modules` writes (its "uses" edges between different top-level modules, and the strongly
connected components among them):

    cargo modules dependencies --lib -p server --no-externs --no-sysroot > server.dot
    python3 scripts/module-cycles.py server.dot server

cargo-modules files an `impl` under its self type's module; `scripts/check-layers.py` (run by
the tests) reads where the code is written. Both must show no cycle.
"""
import collections
import re
import sys
dot = open(sys.argv[1]).read()
crate = sys.argv[2]
edges = collections.defaultdict(set)
for a, b, label in re.findall(r'"([^"]+)" -> "([^"]+)" \[label="(\w+)"', dot):
    if label != "uses":
        continue
    pa, pb = a.split("::"), b.split("::")
    if pa[0] != crate or pb[0] != crate or len(pa) < 2 or len(pb) < 2:
        continue
    if pa[1] != pb[1]:
        edges[pa[1]].add(pb[1])
nodes = sorted(set(edges) | {n for v in edges.values() for n in v})
# Tarjan
index, low, stack, on, sccs, i = {}, {}, [], set(), [], [0]
def strong(v):
    index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            strong(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        sccs.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in nodes:
    if v not in index: strong(v)
print(f"{len(nodes)} top-level modules, {sum(len(v) for v in edges.values())} import arrows between them")
for v in nodes:
    print(f"  {v} -> {', '.join(sorted(edges[v])) or '(nothing)'}")
cycles = [c for c in sccs if len(c) > 1]
print("cycles:", "none" if not cycles else "; ".join(" <-> ".join(c) for c in cycles))
