#!/bin/sh
# Every man page is clean under `mandoc -Tlint` (warnings and above), and no
# table renders wider than 80 columns.
: "${top_srcdir:?run through make check}"
if ! command -v mandoc >/dev/null; then
	echo "skip: mandoc is not installed (./bootstrap installs it)"
	exit 77
fi
rc=0
for f in "$top_srcdir"/man/*.[0-9]; do
	if out=$(mandoc -Tlint -W warning "$f" 2>&1) && [ -z "$out" ]; then
		echo "ok - mandoc -Tlint: ${f##*/}"
	else
		printf '%s\n' "$out"
		echo "not ok - mandoc -Tlint: ${f##*/}"
		rc=1
	fi
	# tbl output only: the lines between the table's start and end
	wide=$(awk '/^\.TS/ { t = 1 } t { print } /^\.TE/ { t = 0 }' "$f" |
		sed '1i .TH X 1' | mandoc -Tutf8 -O width=80 2>/dev/null | col -bx |
		python3 -c 'import sys; print(sum(len(l.rstrip("\n")) > 80 for l in sys.stdin))')
	if [ "$wide" = 0 ]; then
		echo "ok - no table wider than 80 columns: ${f##*/}"
	else
		echo "not ok - $wide table line(s) wider than 80 columns: ${f##*/}"
		rc=1
	fi
done
exit $rc
