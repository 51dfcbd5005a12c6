#!/usr/bin/env python3
"""Fails when an import runs against the architecture's arrows (docs/ARCHITECTURE.md).

Each crate's top-level modules sit in layers, listed top first; a module may import only from
layers below its own, never from its own layer or above. Within a top-level module, its
submodules may not import each other in a circle. `--graph` prints the module graph instead.

References are read from the source: `crate::x` (in `use` lines, groups included, and in
paths anywhere in code) and `super::` chains, after comments and string literals are blanked.
"""

import pathlib
import re
import sys
from collections import defaultdict

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Top first. A layer may hold several modules that do not import each other.
LAYERS = {
    "server/src": [
        ["main", "startup"],
        ["console"],
        ["console_http", "console_models", "console_routes"],
        ["sync"],
        ["admin_api"],
        ["endpoints"],
        ["engine"],
        ["state"],
        ["metering"],
        ["observe"],
        ["routing", "policy"],
        ["config"],
        ["providers"],
        ["core"],
    ],
    "app/src": [
        ["lib"],
        ["shell"],
        ["pages"],
        ["api"],
        ["ops"],
        ["state", "password_guard"],
        ["error"],
        ["db"],
        ["route_policy", "sealing", "secrets", "model"],
    ],
}


def blank_comments_and_strings(source: str) -> str:
    """Comments and string/char literals become spaces; lines stay where they were."""
    out = []
    i, n = 0, len(source)
    while i < n:
        if source.startswith("//", i):
            j = source.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
            continue
        if source.startswith("/*", i):
            depth, j = 0, i
            while j < n:
                if source.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif source.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                    if depth == 0:
                        break
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", source[i:j]))
            i = j
            continue
        raw = re.match(r'b?r(#*)"', source[i : i + 20])
        if raw and (i == 0 or not (source[i - 1].isalnum() or source[i - 1] == "_")):
            end = source.find('"' + raw.group(1), i + raw.end())
            j = (n if end < 0 else end) + 1 + len(raw.group(1))
            out.append(re.sub(r"[^\n]", " ", source[i:j]))
            i = j
            continue
        if source[i] == '"' or (
            source.startswith('b"', i) and (i == 0 or not (source[i - 1].isalnum() or source[i - 1] == "_"))
        ):
            j = i + (2 if source[i] == "b" else 1)
            while j < n and source[j] != '"':
                j += 2 if source[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", source[i:j]))
            i = j
            continue
        if source[i] == "'":
            char = re.match(r"'(\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'])'", source[i : i + 12])
            if char:
                out.append(" " * char.end())
                i += char.end()
                continue
        out.append(source[i])
        i += 1
    return "".join(out)


def module_path(src: pathlib.Path, file: pathlib.Path) -> list[str]:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] == "mod":
        parts.pop()
    return parts


def referenced_paths(text: str) -> list[tuple[list[str], int]]:
    """Every `crate::a::b…` path (groups expanded one level) and `super::` chain, with its line."""
    found = []
    for match in re.finditer(r"\bcrate\s*::\s*(\{)?", text):
        line = text.count("\n", 0, match.start()) + 1
        if match.group(1):
            depth, j, start = 1, match.end(), match.end()
            items, item_start = [], start
            while j < len(text) and depth:
                if text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        items.append(text[item_start:j])
                elif text[j] == "," and depth == 1:
                    items.append(text[item_start:j])
                    item_start = j + 1
                j += 1
            for item in items:
                head = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)(\s*::\s*([A-Za-z_][A-Za-z0-9_]*))?", item)
                if head:
                    found.append(([head.group(1)] + ([head.group(3)] if head.group(3) else []), line))
        else:
            path = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(\s*::\s*([A-Za-z_][A-Za-z0-9_]*))?", text[match.end() :])
            if path:
                found.append(([path.group(1)] + ([path.group(3)] if path.group(3) else []), line))
    for match in re.finditer(r"\b((?:super\s*::\s*)+)([A-Za-z_][A-Za-z0-9_]*)?", text):
        line = text.count("\n", 0, match.start()) + 1
        ups = match.group(1).count("super")
        found.append(([f"super*{ups}"] + ([match.group(2)] if match.group(2) else []), line))
    return found


def test_module_lines(text: str) -> set[int]:
    """Lines inside `#[cfg(test)] mod … { … }` blocks: tests may reach anywhere."""
    lines = set()
    for match in re.finditer(r"#\[cfg\(test\)\]\s*(pub\s+)?mod\s+\w+\s*\{", text):
        depth, j = 1, match.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        first = text.count("\n", 0, match.start()) + 1
        last = text.count("\n", 0, j) + 1
        lines.update(range(first, last + 1))
    return lines


def edges(crate_src: str):
    """(from top-level, to top-level, file, line) and (top-level, from child, to child, file, line)."""
    src = ROOT / crate_src
    top_edges, child_edges = [], []
    for file in sorted(src.rglob("*.rs")):
        if "bin" in file.relative_to(src).parts:
            continue
        own = module_path(src, file)
        if not own:
            own = ["lib"]
        text = blank_comments_and_strings(file.read_text())
        tests = test_module_lines(text)
        for path, line in referenced_paths(text):
            if line in tests:
                continue
            if path[0].startswith("super*"):
                ups = int(path[0][6:])
                base = own[: len(own) - ups] if file.stem != "mod" else own[: len(own) - ups]
                # A file `a/b.rs` is module a::b; `super` is a.
                target = base + path[1:]
            else:
                target = path
            if not target:
                continue
            if target[0] != own[0]:
                top_edges.append((own[0], target[0], file, line))
            elif len(own) > 1 and len(target) > 1 and own[1] != target[1]:
                child_edges.append((own[0], own[1], target[1], file, line))
    return top_edges, child_edges


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on_stack, result, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def main() -> int:
    show_graph = "--graph" in sys.argv
    problems = []
    for crate_src, layers in LAYERS.items():
        level = {module: depth for depth, layer in enumerate(layers) for module in layer}
        top_edges, child_edges = edges(crate_src)
        graph = defaultdict(set)
        for source, target, file, line in top_edges:
            graph[source].add(target)
            where = f"{file.relative_to(ROOT)}:{line}"
            if source not in level or target not in level:
                unknown = source if source not in level else target
                if target in level or source in level:
                    problems.append(f"{where}: module `{unknown}` has no layer in scripts/check-layers.py")
                continue
            if level[target] <= level[source]:
                problems.append(f"{where}: `{source}` imports `{target}`, which is not below it")
        if show_graph:
            print(f"# {crate_src}: top-level module -> modules it imports")
            for layer in layers:
                for module in layer:
                    print(f"{module:16} -> {', '.join(sorted(graph.get(module, ()))) or '-'}")
        for component in cycles(graph):
            problems.append(f"{crate_src}: import cycle between {', '.join(component)}")
        inner = defaultdict(lambda: defaultdict(set))
        where_inner = {}
        for top, source, target, file, line in child_edges:
            inner[top][source].add(target)
            where_inner[(top, source, target)] = f"{file.relative_to(ROOT)}:{line}"
        for top, graph_inner in sorted(inner.items()):
            for component in cycles(graph_inner):
                members = set(component)
                sites = [
                    where_inner[(top, a, b)]
                    for a in component
                    for b in graph_inner[a]
                    if b in members
                ]
                problems.append(
                    f"{crate_src}/{top}: import cycle between {', '.join(component)} ({'; '.join(sites)})"
                )
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} import(s) run against the layers", file=sys.stderr)
        return 1
    if not show_graph:
        print("layers: every import runs downwards")
    return 0


if __name__ == "__main__":
    sys.exit(main())
