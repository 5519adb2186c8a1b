#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Checks that every source file carries the project's license tag (the
# SPDX identifier line naming Apache-2.0, $TAG below) in one of its first
# three lines.  Source files are the *.c, *.h, *.sh and
# *.py files under src/, include/, tests/, bench/ and scripts/ (those git
# tracks when this is a git checkout, so build directories never count).
#
#   scripts/spdx-check.sh          list the files without the tag; exit 1 if any
#   scripts/spdx-check.sh --fix    add the tag to them; exit 0 when all have it
#
# --fix writes the tag in the file's own comment style: `/* ... */` for C,
# `# ...` for shell and Python.  It goes on the first line, or after the
# shebang line if there is one (and after a Python coding line that follows
# the shebang, which must stay in the first two lines).  A file that has the
# tag with another license is reported and never changed.
set -u
TAG="SPDX-License-Identifier: Apache-2.0"
fix=0
case "${1:-}" in
    --fix) fix=1 ;;
    "") ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--fix]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.." || exit 2

list_sources() {
    local dirs="src include tests bench scripts"
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        # shellcheck disable=SC2086
        git ls-files -- $dirs
    else
        # shellcheck disable=SC2086
        find $dirs -type f 2>/dev/null | grep -v -E '(^|/)build[^/]*/'
    fi | grep -E '\.(c|h|sh|py)$' | sort
}

# The comment line for FILE's language.
tag_line() {
    case "$1" in
        *.c|*.h) printf '/* %s */\n' "$TAG" ;;
        *) printf '# %s\n' "$TAG" ;;
    esac
}

# How many leading lines the tag goes after: 0, 1 (shebang) or 2 (shebang
# and a Python coding line).
insert_after() {
    local first second
    first=$(head -n 1 "$1")
    case "$first" in
        '#!'*) ;;
        *) echo 0; return ;;
    esac
    second=$(sed -n 2p "$1")
    if [[ "$1" == *.py && "$second" =~ ^[[:space:]]*#.*coding[:=] ]]; then echo 2; else echo 1; fi
}

add_tag() {
    local f=$1 n tmp
    n=$(insert_after "$f")
    tmp=$(mktemp "$f.spdx.XXXXXX") || return 1
    {
        [ "$n" -gt 0 ] && head -n "$n" "$f"
        tag_line "$f"
        tail -n +"$((n + 1))" "$f"
    } >"$tmp" || { rm -f "$tmp"; return 1; }
    # A new file renamed over the old one: a reader (this very script, which
    # bash reads as it runs) keeps the old text; mode and owner are copied.
    chmod --reference="$f" "$tmp" && chown --reference="$f" "$tmp" 2>/dev/null
    mv -f "$tmp" "$f" || { rm -f "$tmp"; return 1; }
}

missing=0 fixed=0 other=0 total=0
while IFS= read -r f; do
    [ -f "$f" ] || continue
    total=$((total + 1))
    head3=$(head -n 3 "$f")
    if printf '%s\n' "$head3" | grep -qF "$TAG"; then
        continue
    fi
    if printf '%s\n' "$head3" | grep -q 'SPDX-License-Identifier:'; then
        echo "$f: has an SPDX-License-Identifier other than Apache-2.0 (not changed)"
        other=$((other + 1))
        continue
    fi
    if [ "$fix" = 1 ]; then
        if add_tag "$f"; then
            echo "$f: tag added"; fixed=$((fixed + 1))
        else
            echo "$f: could not add the tag" >&2; missing=$((missing + 1))
        fi
    else
        echo "$f: no '$TAG' in its first 3 lines"
        missing=$((missing + 1))
    fi
done < <(list_sources)

summary="spdx-check: $total source files, $missing without the tag, $other with another license"
[ "$fix" = 1 ] && summary="$summary, $fixed fixed"
echo "$summary" >&2
[ "$missing" = 0 ] && [ "$other" = 0 ]
