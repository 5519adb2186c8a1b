#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# scripts/spdx-check.sh on a small tree of its own (the last case checks the
# repository itself, without --fix):
# it finds the files without the Apache-2.0 tag, --fix adds the tag in each
# file's comment style after a shebang (and a Python coding line), leaves a
# file with another license alone, and a second --fix changes nothing.
. "$(dirname "$0")/lib.sh"
T=$TMP/tree
mkdir -p "$T/scripts" "$T/src/core" "$T/include" "$T/tests" "$T/bench" "$T/docs"
cp "$ROOT/scripts/spdx-check.sh" "$T/scripts/"
printf '#include <stdio.h>\nint main(void) { return 0; }\n' >"$T/src/core/a.c"
printf '/* SPDX-License-Identifier: Apache-2.0 */\n#define X 1\n' >"$T/include/h.h"
printf '#!/bin/sh\necho hi\n' >"$T/bench/run.sh"
printf '# shellcheck shell=bash\nx=1\n' >"$T/tests/lib.sh"
printf '#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint(1)\n' >"$T/tests/c.py"
printf 'print(2)\n' >"$T/tests/d.py"
printf 'not source\n' >"$T/docs/readme.md"
chmod 755 "$T/bench/run.sh"

out=$(bash "$T/scripts/spdx-check.sh" 2>&1); rc=$?
expect_eq "spdx-check: files without the tag fail the check" "$rc" 1
expect_eq "spdx-check: it names each of them, and only source files" \
    "$(printf '%s\n' "$out" | grep -o '^[^:]*: no' | sort | tr '\n' ' ')" \
    "bench/run.sh: no src/core/a.c: no tests/c.py: no tests/d.py: no tests/lib.sh: no "

printf '/* SPDX-License-Identifier: MIT */\nint y;\n' >"$T/src/core/mit.c"
cp "$T/src/core/mit.c" "$TMP/mit.orig"
out=$(bash "$T/scripts/spdx-check.sh" --fix 2>&1); rc=$?
expect_eq "spdx-check --fix: a file under another license still fails" "$rc" 1
check "spdx-check --fix: ... and is not changed" cmp -s "$T/src/core/mit.c" "$TMP/mit.orig"
expect_eq "spdx-check --fix: C gets a /* */ line first" "$(head -2 "$T/src/core/a.c")" \
    "/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>"
expect_eq "spdx-check --fix: shell gets # after the shebang" "$(head -3 "$T/bench/run.sh")" \
    "#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
echo hi"
expect_eq "spdx-check --fix: Python keeps its coding line second" "$(head -3 "$T/tests/c.py")" \
    "#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: Apache-2.0"
expect_eq "spdx-check --fix: a file without shebang gets it on line 1" "$(head -1 "$T/tests/d.py")" \
    "# SPDX-License-Identifier: Apache-2.0"
expect_eq "spdx-check --fix: a tagged file is unchanged" "$(cat "$T/include/h.h")" \
    "/* SPDX-License-Identifier: Apache-2.0 */
#define X 1"
expect_eq "spdx-check --fix: the file mode is kept" "$(stat -c %a "$T/bench/run.sh")" 755
check "spdx-check --fix: the shell file still runs" test "$("$T/bench/run.sh")" = hi
check "spdx-check --fix: the Python file still runs" test "$(python3 "$T/tests/c.py")" = 1
check "spdx-check --fix: the C file still compiles" cc -c -o "$TMP/a.o" "$T/src/core/a.c"

rm "$T/src/core/mit.c"
sum1=$(cat "$T"/src/core/a.c "$T"/tests/*.py "$T"/tests/lib.sh "$T"/bench/run.sh | sha256sum)
out=$(bash "$T/scripts/spdx-check.sh" --fix 2>&1); rc=$?
expect_eq "spdx-check: after --fix the check passes" "$rc" 0
expect_eq "spdx-check: a second --fix changes nothing" \
    "$(cat "$T"/src/core/a.c "$T"/tests/*.py "$T"/tests/lib.sh "$T"/bench/run.sh | sha256sum)" "$sum1"

# The repository itself: every source file carries the tag.
out=$("$ROOT/scripts/spdx-check.sh" 2>&1); rc=$?
expect_eq "the repository's source files all carry the Apache-2.0 tag ($(echo "$out" | tail -1))" "$rc" 0
[ "$rc" = 0 ] || echo "$out" | head -20 | sed 's/^/    /'
