#!/usr/bin/env bash
# make bench: does netward name the right actor for every rule change?
#
# In a lab network namespace, 8 actors, each a process in a cgroup of its
# own, make 1000 routing-policy rule changes between them (125 each, all 8
# at once): "add" then "del" of "from all uidrange U-U lookup T", each on a
# priority of its own, so that every change names one operation. Two
# workloads: `ip rule add/del` (one ip process per change, as scripts do)
# and build/rule_burst (raw RTM_NEWRULE/RTM_DELRULE over one NETLINK_ROUTE
# socket, as fast as the kernel answers). Each actor records what it did
# (cgroup, pid, priority, result). netwardd then has to agree:
#  - churn map (`netwardctl churn`, counted in the kernel at syscall entry):
#    per actor cgroup exactly 125 rule writes, nothing else;
#  - rule_added / rule_deleted events (`netwardctl events`): one per change,
#    whose actor names the cgroup, pid and comm that made it.
# Attributed correctly: an event for the change with the right actor.
# Unattributed: no event, or an event with no actor. Events lost: the
# counters' events_lost (ring buffer full) during the workload. Goal: 100 %
# attributed correctly and 0 events lost; missing it is reported, not
# failed: this measures, it does not test. Prints a table and writes it to
# the "## Rule churn attribution (make bench)" section of BENCHMARKS.md.
#
# Runs as root. Creates a network namespace, a parent cgroup (the bind guard
# attaches there: nothing goes on the cgroup2 root) with one child cgroup
# per actor and workload, all with random names, a random pin dir under
# /sys/fs/bpf and a temporary directory; moves only the actors it starts;
# removes all of it on exit, whatever happens. Traffic: netlink inside the
# lab namespace only.
#
# Environment: BUILD (build), BENCH_OPS (1000 rule changes per workload),
# BENCH_ACTORS (8), BENCH_OUT (BENCHMARKS.md; empty: do not write).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib/common.sh disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_top
OPS=${BENCH_OPS:-1000}
ACTORS=${BENCH_ACTORS:-8}
OUT=${BENCH_OUT-BENCHMARKS.md}
SECTION="## Rule churn attribution (make bench)"

NWD=$BUILD/netwardd
NWCTL=$BUILD/netwardctl
BURST=$BUILD/rule_burst

need_root "network namespaces, BPF, cgroups"
need_built "$NWD" "$NWCTL" "$BURST"
need_tools ip python3 mountpoint stat
need_positive OPS ACTORS
[ $((OPS % ACTORS)) -eq 0 ] || die "BENCH_OPS ($OPS) must be a multiple of BENCH_ACTORS ($ACTORS)"
[ "$ACTORS" -le 16 ] || die "BENCH_ACTORS must be <= 16"
PER=$((OPS / ACTORS))
if [ "$PER" -lt 2 ] || [ "$PER" -gt 1000 ]; then
	die "ops per actor must be 2-1000 (got $PER)"
fi

# --- state that cleanup undoes -------------------------------------------------
TMP='' PIN='' NS='' PARENT='' DAEMON_PID=''
CGROUPS=()	# children first, the parent last
ACTOR_PIDS=()	# actors still running (only ever processes started here)

cleanup() {
	local rc=$? daemon_ran=$DAEMON_PID pid
	set +e
	trap - EXIT INT TERM HUP
	# actors not waited for yet (a child's pid stays ours until then); an ip
	# actor is a subshell with at most one ip child, which ends on its own
	for pid in "${ACTOR_PIDS[@]}"; do
		[ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${ACTOR_PIDS[@]}"; do
		[ -z "$pid" ] || wait "$pid" 2>/dev/null
	done
	[ -z "$DAEMON_PID" ] || stop_daemon
	remove_pin "$PIN"
	delete_netns "$NS"
	remove_cgroups "${CGROUPS[@]}"	# the actors have exited
	daemon_log_tail "$rc" "$daemon_ran"
	[ -z "$TMP" ] || rm -rf "$TMP"
	exit $rc
}
trap_exits

# --- file systems ----------------------------------------------------------------
mount_fs
find_cgroup2

# --- scratch: lab, cgroups, pin dir, config ---------------------------------------------
make_scratch
PARENT=$CG2/netward-bench-$ID
if [ "$PARENT" = "$CG2" ] || [ "$PARENT" = / ]; then
	die "refusing cgroup $PARENT"
fi
mkdir "$PARENT"
WORKLOADS=(ip burst)
for w in "${WORKLOADS[@]}"; do
	for ((k = 0; k < ACTORS; k++)); do
		mkdir "$PARENT/$w-$k"
		CGROUPS+=("$PARENT/$w-$k")
	done
done
CGROUPS+=("$PARENT")
NS=nwb-$ID
ip netns add "$NS"
ip -n "$NS" link set lo up

# rule_storm events would only add noise (auto_quarantine is off by
# default): the threshold is out of reach. The rules made here are not
# protected: the rule guard only reports them. The history keeps every
# event of the run.
cat >"$TMP/netward.json" <<EOF
{
  "binds": { "cgroup": "$PARENT", "scan_listeners": false },
  "rules": { "storm_threshold": 1000000 },
  "log": { "level": "notice", "history": 100000 }
}
EOF

start_daemon ip netns exec "$NS"
"$NWCTL" --socket "$SOCK" wait-stable --quiet 200 --timeout 10000 >/dev/null ||
	die "the lab never became quiet"

# --- actors ----------------------------------------------------------------------
# Actor k of workload w: cgroup $PARENT/w-k, uid range U-U with U = 20000 +
# 100 * workload + k, table 1000 + k, priorities BASE..BASE+PER/2 with BASE
# = 1000 + 1000 * (16 * workload + k): unique per actor and workload. Ground
# truth lines into $TMP/truth: "workload k cgroup_id verb priority pid comm rc".
cg_id() { stat -c %i "$1"; }
# PER/2 + 1 priorities per actor, 1000 apart: 16 actors per workload stay under 32766
prio_base() { echo $((1000 + 1000 * ($1 * 16 + $2))); }

# ip_actor K CGROUP BASE UID TABLE GO: runs in a subshell, moves itself
# into CGROUP, waits for GO, then one `ip rule` per op
ip_actor() {
	local k=$1 cg=$2 base=$3 uid=$4 table=$5 go=$6 i verb prio pid rc log
	trap - EXIT INT TERM HUP
	log=$TMP/ip-$k.log
	echo "$BASHPID" >"$cg/cgroup.procs"
	: >"$TMP/ip-$k.ready"
	while [ ! -e "$go" ]; do sleep 0.001; done
	for ((i = 0; i < PER; i++)); do
		prio=$((base + i / 2))
		if ((i % 2 == 0)); then verb=add; else verb=del; fi
		ip -n "$NS" rule "$verb" priority "$prio" uidrange "$uid-$uid" table "$table" \
			2>>"$TMP/ip-$k.err" &
		pid=$!
		rc=0
		wait "$pid" || rc=$?
		echo "$verb $prio $pid $rc" >>"$log"
	done
}

# run_workload W: W = ip or burst; fills $TMP/truth, $TMP/W.elapsed
run_workload() {
	local w=$1 wi k cg go="$TMP/go-$1" t0 t1 pid line i verb prio rc pids=()
	case $w in ip) wi=0 ;; burst) wi=1 ;; esac
	ACTOR_PIDS=()
	for ((k = 0; k < ACTORS; k++)); do
		cg=$PARENT/$w-$k
		if [ "$w" = ip ]; then
			ip_actor "$k" "$cg" "$(prio_base $wi $k)" $((20000 + 100 * wi + k)) $((1000 + k)) "$go" &
		else
			"$BURST" --netns "$NS" --cgroup "$cg" --go "$go" --prio "$(prio_base $wi $k)" \
				--uid $((20000 + 100 * wi + k)) --table $((1000 + k)) --ops "$PER" \
				>"$TMP/burst-$k.out" 2>"$TMP/burst-$k.err" &
		fi
		ACTOR_PIDS+=($!)
		pids+=($!)
	done
	# every actor in its cgroup (and namespace) before the first op
	all_ready() {
		local k
		for ((k = 0; k < ACTORS; k++)); do
			alive "${pids[$k]}" ||
				die "$w actor $k exited before the start: $(cat "$TMP/$w-$k.err" 2>/dev/null)"
		done
		for ((k = 0; k < ACTORS; k++)); do
			if [ "$w" = ip ]; then
				[ -e "$TMP/ip-$k.ready" ] || return 1
			else
				grep -q '^ready ' "$TMP/burst-$k.out" 2>/dev/null || return 1
			fi
		done
	}
	wait_until 15 all_ready || die "$w actors not ready after 15 s"
	t0=$(date +%s%N)
	: >"$go"
	for ((k = 0; k < ACTORS; k++)); do
		rc=0
		wait "${pids[$k]}" || rc=$?
		ACTOR_PIDS[k]=''	# waited for: its pid is no longer ours
		[ $rc -eq 0 ] || die "$w actor $k failed: $(cat "$TMP/$w-$k.err" 2>/dev/null)"
	done
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000)) >"$TMP/$w.elapsed"
	for ((k = 0; k < ACTORS; k++)); do
		cg=$(cg_id "$PARENT/$w-$k")
		if [ "$w" = ip ]; then
			[ "$(wc -l <"$TMP/ip-$k.log")" -eq "$PER" ] || die "ip actor $k logged $(wc -l <"$TMP/ip-$k.log") ops, not $PER"
			while read -r verb prio pid rc; do
				echo "$w $k $cg $verb $prio $pid ip $rc"
			done <"$TMP/ip-$k.log"
		else
			line=$(grep '^done ' "$TMP/burst-$k.out") || die "rule_burst $k printed no result"
			pid=${pids[$k]}
			[[ $line = "done pid=$pid "* ]] || die "rule_burst $k: pid $pid expected: $line"
			# per-op results: only the totals are known; all ok if err=0
			rc=0
			[[ $line = *" err=0 "* ]] || { rc='?'; say "rule_burst $k: some ops failed: $line"; }
			for ((i = 0; i < PER; i++)); do
				if ((i % 2 == 0)); then verb=add; else verb=del; fi
				echo "$w $k $cg $verb $(($(prio_base $wi $k) + i / 2)) $pid rule_burst $rc"
			done
		fi
	done >>"$TMP/truth"
	ACTOR_PIDS=()
}

counters() { "$NWCTL" --pin-dir "$PIN" --json counters; }

: >"$TMP/truth"
for w in "${WORKLOADS[@]}"; do
	counters >"$TMP/$w.counters.before"
	say "$w: $ACTORS actors x $PER rule changes ..."
	run_workload "$w"
	# netwardd has read every notification once the namespace is quiet
	"$NWCTL" --socket "$SOCK" wait-stable --quiet 300 --timeout 15000 >/dev/null ||
		say "$w: the lab did not become quiet within 15 s"
	counters >"$TMP/$w.counters.after"
	say "$w: done in $(cat "$TMP/$w.elapsed") ms"
done

# every event of the run, oldest first (the order netwardd made them in)
"$NWCTL" --socket "$SOCK" --json events >"$TMP/events" || die "netwardctl events failed"
"$NWCTL" --pin-dir "$PIN" --json churn >"$TMP/churn.json" || die "netwardctl churn failed"
"$NWCTL" --socket "$SOCK" --json status >"$TMP/status.json" || die "netwardctl status failed"
stop_daemon || die "netwardd exited with status $? after SIGTERM"
[ ! -e "$PIN" ] || say "PROBLEM: netwardd left $PIN behind after SIGTERM (removed)"

# --- analysis ---------------------------------------------------------------------
cat >"$TMP/analyse.py" <<'PY'
import json, sys

tmp, per = sys.argv[1], int(sys.argv[2])
truth = {}            # (verb, priority) -> op
ops_by_w = {}
for line in open(tmp + "/truth"):
    w, k, cg, verb, prio, pid, comm, rc = line.split()
    op = dict(w=w, k=int(k), cg=int(cg), verb=verb, prio=int(prio), pid=int(pid), comm=comm,
              ok=rc == "0", events=[])
    key = (verb, int(prio))
    if key in truth:
        sys.exit("duplicate op %s" % (key,))
    truth[key] = op
    ops_by_w.setdefault(w, []).append(op)

evs_all = [json.loads(l) for l in open(tmp + "/events") if l.strip()]
stray = 0
order = {}            # workload -> [op of each rule event, in history order]
for ev in evs_all:
    verb = {"rule_added": "add", "rule_deleted": "del"}.get(ev.get("type"))
    if not verb:
        continue
    op = truth.get((verb, int(ev.get("priority", -1))))
    if op is None or ev.get("family") != 4:
        stray += 1
        continue
    op["events"].append(ev)
    order.setdefault(op["w"], []).append((op, ev))
storms = sum(1 for ev in evs_all if ev.get("type") == "rule_storm")

churn = {int(r["cgroup_id"]): r for r in json.load(open(tmp + "/churn.json"))}

def counter(w, when):
    return int(json.load(open("%s/%s.counters.%s" % (tmp, w, when))).get("events_lost", 0))

for w, ops in ops_by_w.items():
    n = len(ops)
    failed = sum(1 for o in ops if not o["ok"])
    correct = wrong = unattributed = missing = dup = 0
    examples = []
    for o in ops:
        evs = o["events"]
        if len(evs) > 1:
            dup += 1
        if not evs:
            missing += 1
            unattributed += 1
            if len(examples) < 3:
                examples.append("%s %d (actor %d): no event" % (o["verb"], o["prio"], o["k"]))
            continue
        a = evs[0].get("actor")
        if not isinstance(a, dict):
            unattributed += 1
            if len(examples) < 3:
                examples.append("%s %d (actor %d): actor null" % (o["verb"], o["prio"], o["k"]))
            continue
        if (int(a.get("cgroup_id", -1)) == o["cg"] and int(a.get("pid", -1)) == o["pid"]
                and a.get("comm") == o["comm"]):
            correct += 1
        else:
            wrong += 1
            if len(examples) < 3:
                examples.append("%s %d: expected cgroup %d pid %d %s, got cgroup %s pid %s %s"
                                % (o["verb"], o["prio"], o["cg"], o["pid"], o["comm"],
                                   a.get("cgroup_id"), a.get("pid"), a.get("comm")))
    # churn map: per actor cgroup, exactly its rule writes and nothing else
    cgs = sorted(set((o["k"], o["cg"]) for o in ops))
    churn_ok = 0
    churn_bad = []
    for k, cg in cgs:
        r = churn.get(cg)
        want = sum(1 for o in ops if o["cg"] == cg)
        got = (int(r["rule"]), int(r["route"]), int(r["link"]), int(r["addr"])) if r else None
        if got == (want, 0, 0, 0):
            churn_ok += 1
        else:
            churn_bad.append("actor %d: rule/route/link/addr %s, expected %d/0/0/0" % (k, got, want))
    lost = counter(w, "after") - counter(w, "before")
    print("row w=%s ops=%d failed=%d correct=%d wrong=%d unattributed=%d missing=%d dup=%d "
          "lost=%d churn_ok=%d churn_n=%d" % (w, n, failed, correct, wrong, unattributed, missing,
                                              dup, lost, churn_ok, len(cgs)))
    # in the order netwardd reported them: where the attributed ones are
    seq = [isinstance(ev.get("actor"), dict) for _, ev in order.get(w, [])]
    head = next((i for i, a in enumerate(seq) if a), len(seq))
    if 0 < head < len(seq) and all(seq[head:]):
        print("pattern w=%s first=%d last=%d" % (w, head, len(seq) - head))
    for e in examples:
        print("note %s: %s" % (w, e))
    for e in churn_bad[:3]:
        print("note %s: churn %s" % (w, e))
print("total stray=%d storms=%d" % (stray, storms))
PY
python3 "$TMP/analyse.py" "$TMP" "$PER" >"$TMP/analysis" || die "analysis failed"

# --- report ------------------------------------------------------------------------
# how the requests were seen; notifications the monitor socket lost
read -r WATCH ENOBUFS < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1])).get("routes", {})
print("fexit-programs" if r.get("fexit_supported") else "syscall-tracepoints",
      int(r.get("guard", {}).get("enobufs", -1)))' "$TMP/status.json" 2>/dev/null || echo "? ?")
WATCH=${WATCH//-/ }
read -r _ stray storms < <(sed -n 's/^total stray=\([0-9]*\) storms=\([0-9]*\)/x \1 \2/p' "$TMP/analysis")

TABLE=() NOTES=()
printf '\n%-34s %5s %9s %9s %7s %7s %7s %-10s %s\n' workload ops correct fraction wrong unattr lost \
	"churn map" goal
while read -r row; do
	w=$(field w "$row")
	ops=$(field ops "$row")
	failed=$(field failed "$row")
	correct=$(field correct "$row")
	wrong=$(field wrong "$row")
	unattr=$(field unattributed "$row")
	lost=$(field lost "$row")
	churn="$(field churn_ok "$row")/$(field churn_n "$row") exact"
	frac=$(awk -v c="$correct" -v n="$ops" 'BEGIN { printf "%.1f %%", 100 * c / n }')
	case $w in
	ip) label="ip rule add/del (1 process per op)"; ms=$(cat "$TMP/ip.elapsed") ;;
	burst) label="rule_burst (raw netlink, 1 socket)"; ms=$(cat "$TMP/burst.elapsed") ;;
	esac
	if [ "$correct" -eq "$ops" ] && [ "$lost" -eq 0 ] &&
		[ "$(field churn_ok "$row")" -eq "$(field churn_n "$row")" ]; then
		goal="goal met"
	else
		goal="goal missed"
	fi
	[ "$failed" -eq 0 ] || goal="$goal ($failed ops failed)"
	printf '%-34s %5d %9d %9s %7d %7d %7d %-10s %s\n' "$label" "$ops" "$correct" "$frac" "$wrong" \
		"$unattr" "$lost" "$churn" "$goal"
	TABLE+=("| $label | $ops | $ms ms | $correct | $frac | $wrong | $unattr | $lost | $churn | $goal |")
	missing=$(field missing "$row")
	dup=$(field dup "$row")
	[ "$missing" -eq 0 ] || NOTES+=("- $label: $missing of the $unattr unattributed changes had no event at all.")
	[ "$dup" -eq 0 ] || NOTES+=("- $label: $dup changes had more than one event.")
	nullactor=$((unattr - missing))
	if [ "$nullactor" -gt 0 ]; then
		p=$(grep "^pattern w=$w " "$TMP/analysis" || true)
		if [ -n "$p" ]; then
			NOTES+=("- $label: $nullactor changes had an event with \"actor\": null: in the order netwardd reported them, the first $(field first "$p") of the run; the last $(field last "$p") all name their actor.")
		else
			NOTES+=("- $label: $nullactor changes had an event with \"actor\": null.")
		fi
	fi
done < <(grep '^row ' "$TMP/analysis")
echo
grep '^note ' "$TMP/analysis" | sed 's/^note /bench: /' >&2 || true
[ "$stray" -eq 0 ] || NOTES+=("- $stray rule events matched no operation of the run.")
say "rule_storm events: $storms (threshold set out of reach); monitor ENOBUFS: $ENOBUFS; requests seen by $WATCH"

[ -n "$OUT" ] || exit 0

{
	section_head "$SECTION"
	echo "Goal: every rule change attributed to the actor that made it (100 %), 0 events lost."
	echo
	echo "| workload | ops | took | attributed correctly | fraction | wrong actor | unattributed | events lost | churn map | goal |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
	printf '%s\n' "${TABLE[@]}"
	echo
	[ ${#NOTES[@]} -eq 0 ] || { printf '%s\n' "${NOTES[@]}"; echo; }
	echo "$ACTORS actors, each a process in a cgroup of its own, make $OPS routing-policy rule"
	echo "changes between them ($PER each, all at once, in a lab network namespace):"
	echo "add, then delete, \"from all uidrange U-U lookup T\" on a priority of its own, so"
	echo "that each change names one operation. \"ip rule\": one \`ip -n NS rule add|del\`"
	echo "process per change; \"rule_burst\": build/rule_burst, raw RTM_NEWRULE/RTM_DELRULE"
	echo "with send() on one NETLINK_ROUTE socket, each waiting for its ACK. \"took\": from"
	echo "the start signal until the last actor was done. Attributed correctly: the"
	echo "change's rule_added or rule_deleted event (\`netwardctl events\`) names the"
	echo "actor's cgroup id, pid and comm. Unattributed: no event, or an event with no"
	echo "actor. Events lost: events_lost (ring buffer full) during the workload. Churn"
	echo "map: actor cgroups whose \`netwardctl churn\` counts are exactly $PER rule writes"
	echo "and nothing else. rules.storm_threshold is out of reach (rule_storm events:"
	echo "$storms); log.history 100000 keeps every event. Requests seen by the"
	echo "$WATCH; notifications lost by the route guard's monitor socket"
	echo "(ENOBUFS): $ENOBUFS."
	echo
} >"$TMP/section.md"

# replace our section (up to the next "## " heading), keep the rest
write_section "$OUT" "$SECTION" "$TMP/section.md"
