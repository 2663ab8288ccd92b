# shellcheck shell=bash
# Pinned maps are for operators too: `bpftool map dump pinned` must print
# named fields (the maps carry BTF), not raw bytes.

test_bpftool_dumps_pinned_maps_with_field_names() {
	local ns cg m out
	command -v bpftool >/dev/null || skip "bpftool is not installed"
	new_netns ns
	new_cgroup cg
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg", "rules": [ { "port": 8443, "action": "deny" } ] } }
JSON
	start_daemon "$ns" "$TMP/cfg.json"
	out=$(bpftool -j map dump pinned "$PIN/bind_policy") || fail "dump bind_policy"
	# -j: the named fields are under "formatted" (the plain dump shows them only)
	jq -e 'any(.[]; .formatted.key.port == 8443 and (.formatted.key | has("cgroup_id") and has("proto") and has("family")))' <<<"$out" \
		>/dev/null || fail "bind_policy without field names: $out"
	out=$(bpftool -j map dump pinned "$PIN/counters") || fail "dump counters"
	jq -e '.[0].formatted.values[0].value | has("bind_wildcard") and has("events_lost")' <<<"$out" >/dev/null ||
		fail "counters without field names: $(head -c 300 <<<"$out")"
	out=$(bpftool -j map dump pinned "$PIN/nw_config") || fail "dump nw_config"
	jq -e '.[0].formatted.value | has("netns") and has("bind_default") and has("dry_run")' <<<"$out" >/dev/null ||
		fail "nw_config without field names: $out"
	# the others dump as JSON (empty is fine here); events is a ring buffer
	# and bind_cgroup a cgroup array: not dumpable by their nature
	for m in churn quarantine fib_fail no_route_last; do
		bpftool -j map dump pinned "$PIN/$m" | jq -e 'type == "array"' >/dev/null ||
			fail "$m does not dump"
	done
	bpftool -j map show pinned "$PIN/events" | jq -e '.type == "ringbuf"' >/dev/null ||
		fail "events is not a ring buffer"
}
