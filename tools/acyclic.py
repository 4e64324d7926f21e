#!/usr/bin/env python3
"""Fails when two files of src/ import each other, directly or round a loop.

Each .rs file is a module (src/a/b.rs and src/a/b/mod.rs are `crate::a::b`).
A file depends on another when it names an item of it: in a `use` tree or
inline, through `crate::`, `super::`, `self::`, a child module it declares,
or a module it imported under a name. Declaring a child (`mod x;`) is
ownership, not a dependency. Comments and string literals are ignored.

Also fails when a file outside src/cli/ imports one inside it: dependencies
point from the command line down to the domain.

Usage: tools/acyclic.py [SRC_DIR] [--graph]
Prints each cycle (the files and the edges between them) and each upward
import, and exits 1 when there is one.
"""
import os
import re
import sys
from collections import defaultdict

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def modules(src):
    files = {}
    for root, _, names in os.walk(src):
        for n in names:
            if not n.endswith(".rs"):
                continue
            path = os.path.join(root, n)
            rel = os.path.relpath(path, src)[:-3].split(os.sep)
            if rel == ["lib"] or rel == ["main"]:
                mod = ("crate",) if rel == ["lib"] else ("main",)
            else:
                if rel[-1] == "mod":
                    rel = rel[:-1]
                mod = ("crate", *rel)
            files[mod] = os.path.relpath(path, os.path.dirname(src.rstrip("/")) or ".")
    return files


def strip(text):
    """Removes comments, string and char literals (keeps line structure)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            out.append('""')
            i = n if j < 0 else j + len(end)
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""')
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]) or (c == "'" and text.startswith("'\\", i)):
            j = text.find("'", i + 2)
            out.append("' '")
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    src = args[0] if args else "src"
    files = modules(src)
    mods = set(files)

    def resolve(base, segs):
        """The longest known module prefix of an absolute path."""
        path = list(base)
        for s in segs:
            if s == "super":
                path = path[:-1]
            elif s == "self":
                pass
            elif s == "crate":
                path = ["crate"]
            else:
                path.append(s)
        best = None
        for k in range(len(path), 0, -1):
            if tuple(path[:k]) in mods:
                best = tuple(path[:k])
                break
        return best, tuple(path)

    edges = defaultdict(set)
    for mod, rel in files.items():
        if mod == ("main",):
            continue
        text = strip(open(os.path.join(os.path.dirname(src.rstrip("/")) or ".", rel)).read())
        targets = []
        for base, body in inline_modules(text, mod):
            targets += paths_in(body, base, resolve, mods)
        for t in targets:
            if t != mod and t != ("crate",):
                edges[mod].add(t)

    if "--graph" in sys.argv:
        for m in sorted(edges):
            for t in sorted(edges[m]):
                print(f"{files[m]} -> {files[t]}")

    # Tarjan's strongly connected components
    index, low, stack, on, sccs = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
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
                sccs.append(comp)

    for v in sorted(files):
        if v not in index:
            visit(v)

    nfiles = len(files)
    nedges = sum(len(v) for v in edges.values())
    # Layering: only the command line may import the command line.
    upward = sorted(
        (files[m], files[t])
        for m in edges
        for t in edges[m]
        if t[:2] == ("crate", "cli") and m[:2] != ("crate", "cli") and m != ("crate",)
    )
    for a, b in upward:
        print(f"domain code imports the command line: {a} -> {b}")
    if not sccs and not upward:
        print(f"acyclic: {nfiles} files, {nedges} import edges, no cycle, no import of cli/ from outside it")
        return 0
    for comp in sccs:
        comp_set = set(comp)
        print("cycle among " + ", ".join(sorted(files[c] for c in comp)) + ":")
        for c in sorted(comp):
            for t in sorted(edges[c] & comp_set):
                print(f"  {files[c]} -> {files[t]}")
    if sccs:
        print(f"{len(sccs)} cycle(s) among {nfiles} files")
    return 1


def inline_modules(text, base):
    """Splits a file into (module path, text) for itself and each inline
    `mod name { ... }`, so that `super::` inside `mod tests` means the file."""
    out = []
    rest, i = [], 0
    for m in re.finditer(r"\bmod\s+(" + IDENT + r")\s*\{", text):
        if m.start() < i:
            continue
        depth, j = 1, m.end()
        while j < len(text) and depth:
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
            j += 1
        rest.append(text[i:m.start()])
        out += inline_modules(text[m.end():j - 1], tuple(base) + (m.group(1),))
        i = j
    rest.append(text[i:])
    return [(tuple(base), "".join(rest))] + out


def paths_in(text, mod, resolve, mods):
    """The modules that `text`, in module `mod`, names."""
    children = set(re.findall(r"\bmod\s+(" + IDENT + r")\s*;", text))
    names = {c: tuple(mod) + (c,) for c in children}
    targets = []
    for tree in re.findall(r"\buse\s+([^;]+);", text):
        tree_clean = re.sub(r"\s+as\s+", " as ", tree.strip())
        for segs, alias in expand_with_alias(tree_clean):
            if not segs:
                continue
            first = segs[0]
            if first in ("crate", "super", "self"):
                target, full = resolve(mod, segs)
            elif first in names:
                target, full = resolve(names[first], segs[1:])
            else:
                continue  # an external crate
            if target is None:
                continue
            targets.append(target)
            if full in mods:
                names[alias or full[-1]] = full
    for m in re.finditer(r"(?<![A-Za-z0-9_:])(" + IDENT + r")((?:::" + IDENT + r")+)", text):
        first, rest = m.group(1), [s for s in m.group(2).split("::") if s]
        if first in ("crate", "super", "self"):
            target, _ = resolve(mod, [first] + rest)
        elif first in names:
            target, _ = resolve(names[first], rest)
        else:
            continue
        if target is not None:
            targets.append(target)
    return targets


def expand_with_alias(tree):
    """Like use_paths, but keeps `as` renames."""
    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        if cur.strip():
            parts.append(cur)
        return parts

    def expand(prefix, s):
        s = s.strip()
        if not s:
            return
        if "{" in s and s.endswith("}"):
            head, inner = s[: s.index("{")], s[s.index("{") + 1 : -1]
            head = [p.strip() for p in head.split("::") if p.strip()]
            for part in split_top(inner):
                yield from expand(prefix + head, part)
            return
        alias = None
        if " as " in s:
            s, alias = [x.strip() for x in s.split(" as ", 1)]
            if alias == "_":
                alias = None
        segs = [p.strip() for p in s.split("::") if p.strip()]
        if segs and segs[-1] == "self":
            segs = segs[:-1]
        if segs and segs[-1] == "*":
            segs = segs[:-1]
        yield prefix + segs, alias

    yield from expand([], tree)


if __name__ == "__main__":
    sys.exit(main())
