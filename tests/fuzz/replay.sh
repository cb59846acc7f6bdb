#!/bin/sh
# make check: replay every fuzz corpus through its target.
set -eu
: "${top_builddir:?}" "${top_srcdir:?}"
for name in wire config snapshot nss kv audit_record; do
	dir="$top_srcdir/tests/fuzz/corpus/$name"
	if [ -z "$(ls -A "$dir" 2>/dev/null)" ]; then
		echo "corpus $dir is empty" >&2
		exit 1
	fi
	printf '%s: ' "$name"
	"$top_builddir/tests/fuzz/replay_$name" "$dir"
done
