#!/bin/bash
# The house format: every C file of the tree is as clang-format (with the
# project's .clang-format) would write it. Prints the files that differ and
# how to fix them. Run from the build directory (make check runs it).
set -euo pipefail

srcdir=${top_srcdir:-${srcdir:-.}}
if ! command -v clang-format >/dev/null; then
	echo "skip: clang-format is not installed (./bootstrap installs it)"
	exit 77
fi
cd "$srcdir"
files=$(find agentd agentctl common nss_agent pam_agent tests -name '*.[ch]' | sort)
bad=0
for f in $files; do
	if ! clang-format --style=file "$f" | cmp -s "$f" -; then
		echo "format: $f differs from clang-format's output"
		bad=$((bad + 1))
	fi
done
n=$(wc -w <<<"$files")
if [ "$bad" -gt 0 ]; then
	echo "format: $bad of $n files; fix with: clang-format -i FILE ($(clang-format --version))"
	exit 1
fi
echo "format: $n files as .clang-format writes them"
