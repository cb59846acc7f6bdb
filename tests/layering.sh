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
} | awk '
	$1 == "def" { def[$3] = $2; next }
	$1 == "use" { nuse++; ua[nuse] = $2; us[nuse] = $3; next }
	{ addedge($2, $3, "includes") }
	function addedge(a, b, why) {
		node[a] = node[b] = 1
		if (!((a, b) in edge)) { edge[a, b] = why; nsucc[a]++; succ[a, nsucc[a]] = b }
	}
	# depth-first: state 1 = on the path, 2 = done; lvl = 1 + highest callee
	function visit(v,    i, w, l) {
		state[v] = 1; path[++depth] = v; lvl[v] = 0
		for (i = 1; i <= nsucc[v]; i++) {
			w = succ[v, i]
			if (state[w] == 1) { cycle(w, v); continue }
			if (!state[w]) visit(w)
			l = lvl[w] + 1
			if (l > lvl[v]) lvl[v] = l
		}
		depth--; state[v] = 2
	}
	function cycle(w, v,    k, s) {
		s = w
		for (k = depth; k >= 1 && path[k] != w; k--) ;
		for (k++; k <= depth; k++) s = s " -> " path[k]
		printf "layering: cycle: %s -> %s (%s)\n", s, w, edge[v, w]
		bad++
	}
	END {
		for (k = 1; k <= nuse; k++)
			if ((us[k] in def) && def[us[k]] != ua[k])
				addedge(ua[k], def[us[k]], "calls " us[k])
		for (v in node) if (!state[v]) visit(v)
		if (bad) exit 1
		for (v in node) { n++; if (lvl[v] > top) top = lvl[v] }
		for (l = 0; l <= top; l++) {
			line = ""
			for (v in node) if (lvl[v] == l) line = line " " v
			printf "layer %d:%s\n", l, line
		}
		printf "layering: no cycle among %d files\n", n
	}'
