#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# conf-man.sh TEMPLATE < KEYS.md > bulwark.conf.5
#
# Builds the bulwark.conf(5) manual page: TEMPLATE (man/bulwark.conf.5.in,
# the hand-written part: syntax, types, groups, errors) with its @KEYS@ line
# replaced by the key reference that `bulwarkd --config-doc` prints (on
# standard input), turned from Markdown into roff.  The reference comes from
# the same tables the loader uses, so the page cannot drift from the code;
# `make man` and `make install` run this.
#
# The Markdown is the small, fixed shape conf-dump.c writes: "### [section]"
# headings, an optional "Keys marked *per group* ..." paragraph, and one
# table per section (Key | Value | Default | Description) whose cells escape
# '|' as '\|' and mark code with backquotes.  Anything else is an error, so
# a change of that shape fails the build instead of garbling the page.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 TEMPLATE < config-doc.md > bulwark.conf.5" >&2; exit 2; }
tmpl=$1
[ -r "$tmpl" ] || { echo "$0: cannot read $tmpl" >&2; exit 1; }
grep -q '^@KEYS@$' "$tmpl" || { echo "$0: $tmpl has no @KEYS@ line" >&2; exit 1; }

keys=$(awk '
# roff text from one Markdown cell: backslashes escaped, `code` in bold
# (hyphens as \- and a break point after | and /, so long patterns can
# wrap), *per group* (the only emphasis conf-dump.c writes; a lone * is
# text, as in "*:1344") in italics.
function inline(s,    out, i, c, code) {
    gsub(/\\/, "\\e", s)
    gsub(/\*per group\*/, "\002", s)
    out = ""; code = 0
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "`") { out = out (code ? "\\fR" : "\\fB"); code = !code; continue }
        if (c == "\002") c = "\\fIper group\\fR"
        else if (code && c == "-") c = "\\-"
        else if (c == "|" || (code && c == "/")) c = c "\\:"
        out = out c
    }
    if (code) out = out "\\fR"
    return out
}
function sentence(s) { return toupper(substr(s, 1, 1)) substr(s, 2) }
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
function fail(what) {
    printf "conf-man.sh: line %d of the key reference: %s: %s\n", NR, what, $0 > "/dev/stderr"
    bad = 1; exit 1
}
/^$/ { next }
/^### \[[^]]+\]$/ {
    sec = substr($0, 5)
    printf ".SS \"%s\"\n", sec
    nsec++; next
}
/^Keys marked \*per group\* / {
    if (!sec) fail("paragraph before any section")
    print ".PP"; print "\\&" inline($0); next
}
/^\| Key \| Value \| Default \| Description \|$/ || /^\|---\|---\|---\|---\|$/ { next }
/^\| `/ {
    if (!sec) fail("row before any section")
    row = $0
    gsub(/\\\|/, "\001", row)              # escaped bars are cell text
    n = split(row, cell, "|")
    if (n != 6) fail("expected 4 cells")
    for (i = 2; i <= 5; i++) { gsub(/\001/, "|", cell[i]); cell[i] = trim(cell[i]) }
    key = cell[2]; gsub(/`/, "", key)
    type = cell[3]; expect = ""
    if ((p = index(type, ": ")) > 0) { expect = substr(type, p + 2); type = substr(type, 1, p - 1) }
    def = cell[4] == "(none)" ? "none" : inline(cell[4])
    print ".TP"
    printf "\\fB%s\\fR (%s)\n", key, type
    if (cell[5] != "") print "\\&" sentence(inline(cell[5])) "."
    print ".br"
    if (expect != "") print "\\&Value: " inline(expect) "."
    print ".br"
    print "\\&Default: " def "."
    nkey++; next
}
{ fail("unexpected line") }
END {
    if (bad) exit 1
    if (!nsec || !nkey) { print "conf-man.sh: no sections or keys on standard input" > "/dev/stderr"; exit 1 }
}
')

# Put the reference in place of @KEYS@ (awk -v would mangle backslashes:
# pass it through the environment instead).
KEYS=$keys awk '$0 == "@KEYS@" { print ENVIRON["KEYS"]; next } { print }' "$tmpl"
