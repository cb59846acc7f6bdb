#!/bin/bash
# The daemon's files form layers: no file calls or includes a file that
# (directly or through others) calls or includes it back. Edges:
#   X -> Y  if X.c includes "agentd/Y.h" and agentd/Y.c exists, or
#           X's object uses a symbol Y's object defines (nm).
# daemon.h (shared state, no functions) is not an edge. Prints every cycle
# found and fails; prints the layers (callees first) when there is none.
# Run from the build directory after `make` (make check runs it).
set -euo pipefail

srcdir=${top_srcdir:-${srcdir:-.}}
builddir=${top_builddir:-$PWD}
lib=$builddir/.libs/libagentd.a
if [ ! -f "$lib" ]; then
	echo "layering: $lib not built" >&2
	exit 1
fi

{
	# include edges
	for f in "$srcdir"/agentd/*.c; do
		x=$(basename "$f" .c)
		sed -n 's/^#include "agentd\/\([a-z_]*\)\.h".*/\1/p' "$f" | while read -r y; do
			if [ "$y" != "$x" ] && [ -f "$srcdir/agentd/$y.c" ]; then
				echo "inc $x $y"
			fi
		done
	done
	# call edges: "def obj sym" and "use obj sym" lines
	nm -A "$lib" 2>/dev/null | awk '
		{ split($1, p, ":"); obj = p[2]; sub(/^libagentd_la-/, "", obj); sub(/\.o$/, "", obj) }
		NF == 3 && $2 ~ /^[TDBR]$/ { print "def", obj, $3 }
		NF == 3 && $2 == "U" { print "use", obj, $3 }'
} | python3 -c '
import sys
defs, uses, edges = {}, [], {}
for line in sys.stdin:
    k, a, b = line.split()
    if k == "def": defs[b] = a
    elif k == "use": uses.append((a, b))
    else: edges.setdefault(a, set()).add((b, "includes"))
for a, s in uses:
    b = defs.get(s)
    if b and b != a: edges.setdefault(a, set()).add((b, "calls " + s))
nodes = set(edges) | {b for v in edges.values() for b, _ in v}
# Tarjan: strongly connected components
idx, low, on, st, sccs, n = {}, {}, set(), [], [], [0]
sys.setrecursionlimit(10000)
def visit(v):
    idx[v] = low[v] = n[0]; n[0] += 1; st.append(v); on.add(v)
    for w, _ in edges.get(v, ()):
        if w not in idx: visit(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        c = []
        while True:
            w = st.pop(); on.discard(w); c.append(w)
            if w == v: break
        sccs.append(c)
for v in sorted(nodes):
    if v not in idx: visit(v)
bad = [c for c in sccs if len(c) > 1]
for c in bad:
    print("layering: cycle among", " ".join(sorted(c)))
    for a in sorted(c):
        for b, why in sorted(edges.get(a, ())):
            if b in c: print("  %s -> %s (%s)" % (a, b, why))
if bad: sys.exit(1)
# layers: a file sits one above the highest file it depends on
lvl = {}
for c in sccs:  # Tarjan emits callees first
    v = c[0]
    lvl[v] = 1 + max([lvl[w] for w, _ in edges.get(v, ())] + [-1])
for l in range(max(lvl.values()) + 1):
    print("layer %d: %s" % (l, " ".join(sorted(v for v in lvl if lvl[v] == l))))
print("layering: no cycle among %d files" % len(nodes))
'
