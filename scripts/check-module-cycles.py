#!/usr/bin/env python3
"""Fails if the crate's modules import each other in a cycle.

Every file under src/ is a module (foo.rs and foo/mod.rs are `foo`). A file depends
on the modules its non-test code names through `crate::`, `super::` or `self::`
paths (in `use` lines and inline). Test code (`#[cfg(test)]` items, tests.rs, the
tests/ folders, testing.rs, fuzz.rs) is left out: tests may reach anywhere. Cycles
are found between files, and between folders (a folder is the files below it).

    python3 scripts/check-module-cycles.py [src]
"""

import re
import sys
from pathlib import Path

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else "src")
TEST_FILES = {"tests.rs", "testing.rs", "fuzz.rs"}
PATH_RE = re.compile(r"\b((?:crate|super|self)(?:::(?:super|self))*(?:::\s*\{?\s*[A-Za-z_][A-Za-z0-9_]*)+)")


def module_of(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip_tests(text):
    """The file without its #[cfg(test)] items (brace-matched)."""
    out, i = [], 0
    while True:
        j = text.find("#[cfg(test)]", i)
        if j == -1:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        k = j + len("#[cfg(test)]")
        semi, brace = text.find(";", k), text.find("{", k)
        if semi != -1 and (brace == -1 or semi < brace):
            i = semi + 1
            continue
        depth, k = 0, brace
        while k < len(text):
            if text[k] == "{":
                depth += 1
            elif text[k] == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        i = k + 1


def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def main():
    files = {}
    for path in sorted(ROOT.rglob("*.rs")):
        if path.name in TEST_FILES or "tests" in path.relative_to(ROOT).parts[:-1]:
            continue
        files[module_of(path)] = path
    modules = set(files)
    graph = {m: set() for m in modules}
    for module, path in files.items():
        # A file's own `super` is its parent module; mod.rs files are their folder.
        text = strip_comments(strip_tests(path.read_text()))
        for raw in PATH_RE.findall(text):
            segments = [s.strip(" {") for s in raw.split("::")]
            base = list(module)
            rest = []
            for s in segments:
                if s == "crate" and not rest:
                    base = []
                elif s == "super" and not rest:
                    base = base[:-1]
                elif s == "self" and not rest:
                    pass
                else:
                    rest.append(s)
            target = tuple(base)
            for s in rest:
                if target + (s,) in modules:
                    target = target + (s,)
                else:
                    break
            if target != module and target in modules and not module[: len(target)] == target:
                graph[module].add(target)
    failures = []
    for level, key in (("file", lambda m: m), ("folder", lambda m: m if files[m].name == "mod.rs" else m[:-1])):
        nodes = {}
        for a, deps in graph.items():
            for b in deps:
                ka, kb = key(a), key(b)
                if ka != kb and not kb[: len(ka)] == ka and not ka[: len(kb)] == kb:
                    nodes.setdefault(ka, set()).add(kb)
        failures += [(level, c) for c in cycles(nodes)]
    for level, cycle in failures:
        print(f"import cycle between {level}s: " + " -> ".join("::".join(m) or "crate" for m in cycle + [cycle[0]]))
    if failures:
        sys.exit(1)
    print(f"no import cycles among {len(modules)} modules")


def cycles(graph):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    main()
