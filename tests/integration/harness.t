#!/bin/bash
# lib.sh itself: a test file fails when a log holds a sanitizer's report or
# the daemon, still running at the end, does not stop with status 0 — even
# when every one of its tests passed and it never called tbd_stop.  This is
# what makes `make check` fail on an ASan, LSan or UBSan report.
. "$(dirname "$0")/lib.sh"

plan 6
LIB=$(cd "$(dirname "$0")" && pwd)/lib.sh

# run_file BODY: a test file sourcing lib.sh with BODY after one passing
# test; prints its exit status and then its output.
run_file() {
	printf '. %q\nplan 1\nok 0 "passes"\n%s\ndone_testing\n' "$LIB" "$1" >"$T_DIR/file.t"
	bash "$T_DIR/file.t" >"$T_DIR/file.out" 2>&1
	echo "$?"
	cat "$T_DIR/file.out"
}

out=$(run_file 'echo "==42==ERROR: AddressSanitizer: heap-use-after-free" >>"$T_DIR/daemon.log"')
is "${out%%$'\n'*}" 1 "an ASan report in the daemon's log fails the file"
like "$out" "a sanitizer's report in daemon.log" "and says where"
out=$(run_file 'echo "x.c:1:2: runtime error: signed integer overflow" >>"$T_DIR/idp.log"')
is "${out%%$'\n'*}" 1 "so does a UBSan report in a fake's log"
# A stand-in for a daemon that exits 3 when stopped (a leak report does).
out=$(run_file 'sh -c "trap \"exit 3\" TERM; while :; do sleep 0.1; done" & TBD_PID=$!; sleep 0.3')
is "${out%%$'\n'*}" 1 "a daemon left running that stops with status 3 fails the file"
like "$out" 'exited with status 3' "and says so"
out=$(run_file 'sh -c "trap \"exit 0\" TERM; while :; do sleep 0.1; done" & TBD_PID=$!; sleep 0.3')
is "${out%%$'\n'*}" 0 "one that stops with status 0 does not"
done_testing
