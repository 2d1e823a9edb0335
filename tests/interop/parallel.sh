# shellcheck shell=bash
# Several User-Mode Linux guests at once: the host side of tests/interop/run when it has
# more than one scenario to run (TERN_INTEROP_JOBS guests, default INTEROP_DEFAULT_JOBS).
#
# Each guest boots once and runs its share of the scenarios one after another, as a
# single guest runs them all otherwise. The guests wait a lot (rekey timers, DPD), but
# not mostly: every process a check starts costs the host a fork and an address space,
# so a guest running at full speed keeps about half a core busy (measured: three guests
# used 1009 CPU-s in 1267 s while others' builds kept the load at 9-12 and slowed them
# about twofold). Two guests on two cores leave room; three or more saturate them, and
# the scenarios' checks, several seconds of processes each, then outlast the windows
# their rekey timers leave (quiet checks between 10 s rekeys, a ping before the first
# rekey): five such failures in a run of three guests at load 9-12, none serially.
# Hence the default of 2; TERN_INTEROP_JOBS=3 is faster on an idle machine.
# Full runs on 7 Dec (2 cores shared with other builds; the lead's serial run: 2684 s):
#   3 guests: 1660 s, load 8-12, 49/54, scenarios 1.70 times their serial time
#   2 guests: 1668 s, load 7 falling to 3, 53/54, scenarios 1.21 times their serial time The shares are planned longest
# first, each scenario going to the guest with the least work so far, by the times of
# the last runs (target/interop/results.tsv, else docs/INTEROP.md), so that the guests
# finish together.
#
# Nothing the guests write collides: a scenario's logs are in target/interop/<scenario>/
# (each scenario runs in one guest only), its sockets and daemons' /run on the guest's own
# tmpfs, and everything else of guest K in target/interop/guests/K/: its scenarios, its
# results.tsv, and uml/ (run-in-uml's console.log, output.log, status). The host merges
# the guests' results into target/interop/results.tsv, in the order the scenarios were
# named, and a scenario that a guest never reported (the guest died) fails there with the
# reason.
#
# Sourced by tests/interop/run (which also sources report.sh, for record_result).

INTEROP_DEFAULT_JOBS=2
# A scenario without a recorded time is planned as one this long (most take 15-60 s).
INTEROP_UNKNOWN_SECS=60

# interop_jobs COUNT: how many guests for COUNT scenarios (never more than scenarios).
interop_jobs() {
    local jobs=${TERN_INTEROP_JOBS:-$INTEROP_DEFAULT_JOBS}
    [[ $jobs =~ ^[1-9][0-9]*$ ]] || die "TERN_INTEROP_JOBS must be a positive number of guests (is: $jobs)"
    ((jobs > $1)) && jobs=$1
    echo "$jobs"
}

# uml_will_be_used: run-in-uml will boot a guest (rather than run on this kernel).
# Only guests have namespaces of their own: on the host, scenarios must run one by one.
uml_will_be_used() {
    case ${TERN_UML:-auto} in
    never) return 1 ;;
    always) return 0 ;;
    *) ! host_kernel_has_esp ;;
    esac
}

# interop_known_secs: "NAME SECS" for every scenario with a recorded time: docs/INTEROP.md
# first, then target/interop/results.tsv (later lines win).
interop_known_secs() {
    local doc="$TERN_ROOT/docs/INTEROP.md" tsv="$TERN_ROOT/target/interop/results.tsv"
    # | `name` | what it shows | PASS | 18.2 s |
    [[ -f $doc ]] && awk -F'|' '$2 ~ /^ `[^`]+` $/ && $(NF - 1) ~ /^ [0-9.]+ s $/ {
        name = $2; gsub(/[ `]/, "", name); secs = $(NF - 1); gsub(/[ s]/, "", secs); print name, secs }' "$doc"
    # (0 s: a scenario a dead guest never ran.)
    [[ -f $tsv ]] && awk -F'\t' '$3 ~ /^[0-9.]+$/ && $3 > 0 { print $1, $3 }' "$tsv"
    return 0
}

# interop_plan JOBS NAME...: "GUEST SECS NAME" per scenario, longest first, each to the
# guest with the least planned time so far (of equals, the one with fewest scenarios:
# every guest gets at least one, as JOBS is at most the number of scenarios).
interop_plan() {
    local jobs=$1 name secs
    shift
    local -A known=()
    while read -r name secs; do known[$name]=$secs; done < <(interop_known_secs)
    for name in "$@"; do printf '%s %s\n' "${known[$name]:-$INTEROP_UNKNOWN_SECS}" "$name"; done |
        sort -s -g -r -k1,1 |
        awk -v jobs="$jobs" '{ g = 1
                               for (i = 2; i <= jobs; i++)
                                   if (load[i] < load[g] || (load[i] == load[g] && n[i] < n[g])) g = i
                               load[g] += $1; n[g]++; print g, $1, $2 }'
}

# interop_run_parallel JOBS NAME...: the scenarios in JOBS guests; merges the results
# into target/interop/results.tsv, writes docs/INTEROP.md after a run of all scenarios.
# Fails if any scenario failed or was not run.
interop_run_parallel() {
    local jobs=$1
    shift
    local dir="$TERN_ROOT/target/interop/guests" g t0 plan name
    rm -rf "$dir"
    for ((g = 1; g <= jobs; g++)); do mkdir -p "$dir/$g"; done
    plan=$(interop_plan "$jobs" "$@")
    for ((g = 1; g <= jobs; g++)); do
        awk -v g="$g" '$1 == g { print $3 }' <<<"$plan" >"$dir/$g/scenarios"
        # A guest given no names would run every scenario.
        [[ -s "$dir/$g/scenarios" ]] || die "interop_plan left guest $g without a scenario"
        info "interop: guest $g: $(wc -l <"$dir/$g/scenarios") scenarios, about $(awk -v g="$g" '$1 == g { s += $2 } END { printf "%d", s }' <<<"$plan") s by the last runs"
    done
    info "interop: $# scenarios in $jobs User-Mode Linux guests at once (TERN_INTEROP_JOBS); each prints PASS or FAIL as it ends"
    t0=$(now_ms)
    local pids=()
    # Each guest's job in a process group of its own (job control), so that an
    # interruption can be passed on to all of it, run-in-uml included, which then kills
    # its guest.
    set -m
    for ((g = 1; g <= jobs; g++)); do
        (
            mapfile -t names <"$dir/$g/scenarios"
            start=$(now_ms)
            TERN_INTEROP_GUEST_DIR="$dir/$g" TERN_UML_RESULTS="$dir/$g/uml" \
                "$TERN_ROOT/tests/uml/run-in-uml" "$TERN_ROOT/tests/interop/run" "${names[@]}"
            echo $? >"$dir/$g/exit"
            echo $((($(now_ms) - start) / 1000)) >"$dir/$g/secs"
        ) &
        pids+=($!)
    done
    set +m
    trap 'for g in "${pids[@]}"; do kill -TERM -- "-$g" 2>/dev/null; done; wait; exit 130' INT TERM
    wait
    trap - INT TERM
    interop_merge "$dir" "$jobs" "$@"
    local passed failed secs
    passed=$(awk -F'\t' '$2 == "PASS"' "$INTEROP_RESULTS" | wc -l)
    failed=$(awk -F'\t' '$2 != "PASS"' "$INTEROP_RESULTS" | wc -l)
    secs=$((($(now_ms) - t0) / 1000))
    local each=()
    for ((g = 1; g <= jobs; g++)); do each+=("guest $g $(cat "$dir/$g/secs" 2>/dev/null || echo '?') s"); done
    info "$passed passed, $failed failed; $secs s with $jobs guests at once ($(IFS=,; echo "${each[*]}" | sed 's/,/, /g'))"
    if [[ "$*" == "${ALL_SCENARIOS[*]}" ]]; then
        local release kind
        read -r release kind <"$dir/1/kernel" 2>/dev/null
        write_interop_doc "$secs" "${release:-?}" "${kind:-uml}" "$jobs"
    else
        info "docs/INTEROP.md left as it is (only a run of all scenarios writes it)"
    fi
    ((failed == 0))
}

# interop_merge DIR JOBS NAME...: target/interop/results.tsv from the guests' results, in
# the order of NAME...; a scenario no guest reported fails, loudly, with the guest's fate.
interop_merge() {
    local dir=$1 jobs=$2 name g line status why
    shift 2
    : >"$INTEROP_RESULTS"
    for name in "$@"; do
        line=
        for ((g = 1; g <= jobs; g++)); do
            line=$(awk -F'\t' -v n="$name" '$1 == n' "$dir/$g/results.tsv" 2>/dev/null)
            [[ -n $line ]] && break
        done
        if [[ -n $line ]]; then
            printf '%s\n' "$line" >>"$INTEROP_RESULTS"
            continue
        fi
        g=$(grep -lxF "$name" "$dir"/*/scenarios | head -n1 | xargs -r dirname | xargs -r basename)
        status=$(cat "$dir/$g/exit" 2>/dev/null)
        why="no result: guest $g ended (run-in-uml exit ${status:-?}) while running it or before; see ${dir#"$TERN_ROOT"/}/$g/uml/ (console.log, output.log)"
        info "FAIL $name: $why"
        record_result "$name" FAIL 0 "$why"
    done
}
