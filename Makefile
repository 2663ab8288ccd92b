# netward build. `make` builds build/netwardd and build/netwardctl;
# `make check` installs deps, builds and runs every test (also under SAN=1).
# V=1 shows the commands.

VERSION := 0.1.0
ARCH ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
PREFIX ?= /usr/local
DESTDIR ?=

ifeq ($(SAN),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
SANFLAGS :=
endif

CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config

ifeq ($(V),1)
Q :=
msg := @true
else
Q := @
msg = @printf '  %-8s %s\n'
endif

PKGS := libbpf libelf zlib libsystemd libcjson libmnl libcurl
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-format-truncation -Iinclude -Iuser -I$(BUILD) \
	  -DNW_VERSION='"$(VERSION)"' $(SANFLAGS) $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
LDFLAGS += $(SANFLAGS)
LDLIBS += $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null || echo -lbpf -lelf -lz -lsystemd -lcjson -lmnl -lcurl) -lm -lpthread

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux/$(ARCH) -Iinclude \
	      -Wall -Werror
BPF_OBJS := bind_guard route_watch
SKELS := $(BPF_OBJS:%=$(BUILD)/%.skel.h)

COMMON := util log cgroup policy config config_json config_recovery events counters stability \
	  quarantine_map recovery probe_names resolvconf reboot_guard \
	  config_tunnels secret sha256 units config_segw config_metrics
GUARD := rtnl route_guard route_state churn
# issue 5: probes (libcurl multi, sd-resolve) and the recovery steps
PROBE := probe probe_icmp probe_tcp probe_http probe_dns curl_event
RECOVERY := recovery_steps step_worker step_links step_iface step_dns step_dhcp step_kill step_reboot sysbus recovery_run
# issue 6: the tunnel poller (Cloudflare API replies, budget, failover)
TUNNELS := cf_api tunnels tunnel_http tunnel_answer tunnel_unit tunnel_status tunnel_state sysbus
SEGW := vici_codec vici
# issue 7: SEGW failover over strongSwan's VICI (segw: the state machine)
SEGW_RUN := $(SEGW) segw
DAEMON := $(COMMON) $(GUARD) $(PROBE) $(RECOVERY) $(TUNNELS) $(SEGW_RUN) bpf_pin bind_guard route_watch listeners \
	  control quarantine metrics netwardd
CTL := $(COMMON) netwardctl ctl_stable ctl_quarantine ctl_churn ctl_probes ctl_tunnels ctl_segw

UNIT_TESTS := test_config test_policy test_cgroup test_events test_util \
	      test_config_routes test_route_guard test_churn test_stability \
	      test_rule_guard test_config_rules
TEST_OBJS := $(COMMON) $(GUARD)
UNIT_TESTS += test_quarantine test_recovery test_config_recovery test_probe test_recovery_steps
UNIT_TESTS += test_config_tunnels test_secret test_units test_cf_api test_tunnels test_config_segw
UNIT_TESTS += test_vici test_segw test_metrics test_route_state

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all clean check deps unit integration test bench demo install uninstall helpers fuzz chaos soak

all: $(BUILD)/netwardd $(BUILD)/netwardctl helpers

$(BUILD):
	$(Q)mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c bpf/common.bpf.h $(wildcard include/netward/*.h) | $(BUILD)
	$(msg) BPF $@
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(msg) GEN-SKEL $@
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(BUILD)/%.o: user/%.c $(wildcard user/*.h include/netward/*.h) $(SKELS) | $(BUILD)
	$(msg) CC $@
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/netwardd: $(DAEMON:%=$(BUILD)/%.o)
	$(msg) LINK $@
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/netwardctl: $(CTL:%=$(BUILD)/%.o)
	$(msg) LINK $@
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# test helpers: real sockets and a bench loop
HELPERS := bindtest bind_bench sendto_bench route_latency rule_burst conn_back
helpers: $(HELPERS:%=$(BUILD)/%) $(BUILD)/route_guard_run

# a driver for the route guard alone, linked with its objects
$(BUILD)/route_guard_run: tests/helpers/route_guard_run.c $(TEST_OBJS:%=$(BUILD)/%.o) | $(BUILD)
	$(msg) CC $@
	$(Q)$(CC) $(CFLAGS) $< $(TEST_OBJS:%=$(BUILD)/%.o) -o $@ $(LDFLAGS) $(LDLIBS)

# quarantine (issue 4): its driver and its unit test also link quarantine.o
helpers: $(BUILD)/quarantine_run
$(BUILD)/quarantine_run: tests/helpers/quarantine_run.c $(TEST_OBJS:%=$(BUILD)/%.o) $(BUILD)/quarantine.o | $(BUILD)
	$(msg) CC $@
	$(Q)$(CC) $(CFLAGS) $< $(TEST_OBJS:%=$(BUILD)/%.o) $(BUILD)/quarantine.o -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/test_quarantine: tests/unit/test_quarantine.c $(TEST_OBJS:%=$(BUILD)/%.o) $(BUILD)/quarantine.o | $(BUILD)
	$(msg) CC $@
	$(Q)$(CC) $(CFLAGS) $< $(TEST_OBJS:%=$(BUILD)/%.o) $(BUILD)/quarantine.o -o $@ $(LDFLAGS) $(LDLIBS) -lcmocka

# probes and recovery steps: their unit tests link those objects too
$(BUILD)/test_probe: tests/unit/test_probe.c $(wildcard tests/unit/*.h) $(TEST_OBJS:%=$(BUILD)/%.o) $(PROBE:%=$(BUILD)/%.o) | $(BUILD)
	$(msg) CC $@
	$(Q)$(CC) $(CFLAGS) $< $(TEST_OBJS:%=$(BUILD)/%.o) $(PROBE:%=$(BUILD)/%.o) -o $@ $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/test_vici: tests/unit/test_vici.c $(wildcard tests/unit/*.h) $(TEST_OBJS:%=$(BUILD)/%.o) $(SEGW:%=$(BUILD)/%.o) | $(BUILD)
	$(msg) CC $@
	$(Q)$(CC) $(CFLAGS) $< $(TEST_OBJS:%=$(BUILD)/%.o) $(SEGW:%=$(BUILD)/%.o) -o $@ $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/test_segw: tests/unit/test_segw.c $(wildcard tests/unit/*.h) $(TEST_OBJS:%=$(BUILD)/%.o) $(SEGW_RUN:%=$(BUILD)/%.o) | $(BUILD)
	$(msg) CC $@
	$(Q)$(CC) $(CFLAGS) $< $(TEST_OBJS:%=$(BUILD)/%.o) $(SEGW_RUN:%=$(BUILD)/%.o) -o $@ $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/test_recovery_steps: tests/unit/test_recovery_steps.c $(wildcard tests/unit/*.h) $(TEST_OBJS:%=$(BUILD)/%.o) $(BUILD)/recovery_steps.o $(BUILD)/step_worker.o $(BUILD)/step_links.o $(BUILD)/step_iface.o $(BUILD)/step_dns.o $(BUILD)/step_dhcp.o $(BUILD)/step_kill.o $(BUILD)/step_reboot.o $(BUILD)/sysbus.o $(BUILD)/listeners.o | $(BUILD)
	$(msg) CC $@
	$(Q)$(CC) $(CFLAGS) $< $(TEST_OBJS:%=$(BUILD)/%.o) $(BUILD)/recovery_steps.o $(BUILD)/step_worker.o $(BUILD)/step_links.o $(BUILD)/step_iface.o $(BUILD)/step_dns.o $(BUILD)/step_dhcp.o $(BUILD)/step_kill.o $(BUILD)/step_reboot.o $(BUILD)/sysbus.o $(BUILD)/listeners.o -o $@ $(LDFLAGS) $(LDLIBS) -lcmocka

# issue 8: the metrics text (tunnel status names come from cf_api)
$(BUILD)/test_metrics: tests/unit/test_metrics.c $(wildcard tests/unit/*.h) $(TEST_OBJS:%=$(BUILD)/%.o) $(BUILD)/metrics.o $(BUILD)/cf_api.o | $(BUILD)
	$(msg) CC $@
	$(Q)$(CC) $(CFLAGS) $< $(TEST_OBJS:%=$(BUILD)/%.o) $(BUILD)/metrics.o $(BUILD)/cf_api.o -o $@ $(LDFLAGS) $(LDLIBS) -lcmocka

# the tunnel poller's unit tests link it and the probes (gateway check)
$(BUILD)/test_cf_api $(BUILD)/test_tunnels: $(BUILD)/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(TEST_OBJS:%=$(BUILD)/%.o) $(PROBE:%=$(BUILD)/%.o) $(TUNNELS:%=$(BUILD)/%.o) | $(BUILD)
	$(msg) CC $@
	$(Q)$(CC) $(CFLAGS) $< $(TEST_OBJS:%=$(BUILD)/%.o) $(PROBE:%=$(BUILD)/%.o) $(TUNNELS:%=$(BUILD)/%.o) -o $@ $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/%: tests/helpers/%.c $(wildcard tests/helpers/*.h) $(SKELS) | $(BUILD)
	$(msg) CC $@
	$(Q)$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS) $(LDLIBS)

# --- tests ------------------------------------------------------------------
$(BUILD)/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(TEST_OBJS:%=$(BUILD)/%.o) | $(BUILD)
	$(msg) CC $@
	$(Q)$(CC) $(CFLAGS) $< $(TEST_OBJS:%=$(BUILD)/%.o) -o $@ $(LDFLAGS) $(LDLIBS) -lcmocka

deps:
	$(Q)tools/deps.sh

unit: $(UNIT_TESTS:%=$(BUILD)/%)
	$(Q)set -e; for t in $^; do echo "== $$t"; $$t; done

integration: all
	$(Q)BUILD=$(BUILD) tests/integration/run.sh

test: unit integration

# The same suite and a chaos run, plain (and the valgrind scenario) and under
# ASan+UBSan, then a short run of every fuzzer over its corpus (the
# regression seeds) and a few new inputs.
FUZZ_CHECK_RUNS ?= 20000
check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory test chaos valgrind
	$(Q)$(MAKE) --no-print-directory SAN=1 all
	$(Q)$(MAKE) --no-print-directory SAN=1 test chaos
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_RUNS=$(FUZZ_CHECK_RUNS)

# tests/chaos/run.sh (root): CHAOS_SECONDS of everything going wrong at once
# around a netwardd that is killed and restarted; checks what it left. ASan
# keeps shadow memory and a quarantine of freed blocks: wider bounds.
CHAOS_SECONDS ?= 60
CHAOS_BOUNDS := $(if $(filter 1,$(SAN)),CHAOS_RSS_MAX_KB=262144 CHAOS_CPU_MAX_PCT=50)
chaos: all
	$(Q)BUILD=$(BUILD) $(CHAOS_BOUNDS) tests/chaos/run.sh $(CHAOS_SECONDS)

# tests/chaos/soak.sh (root, not in check): an hour of the chaos mix with
# one netwardd; its RSS must grow < 1 %, its descriptors not at all
SOAK_SECONDS ?= 3600
soak: all
	$(Q)BUILD=$(BUILD) tests/chaos/soak.sh $(SOAK_SECONDS)

# every tests/bench/*.sh, each appending its section to BENCHMARKS.md
bench: deps all
	$(Q)set -e; for b in tests/bench/*.sh; do BUILD=$(BUILD) $$b; done

# libFuzzer harnesses (tests/fuzz/fuzz_*.c, clang): each runs FUZZ_RUNS
# inputs from its corpus (tests/fuzz/corpus/<name>); a crash is a bug and
# its input a new regression seed
FUZZ_RUNS ?= 200000
FUZZERS := vici config events cf_api control
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	       -Iinclude -Iuser \
	       $(shell $(PKG_CONFIG) --cflags libcjson libsystemd 2>/dev/null)
$(BUILD)/fuzz_vici: tests/fuzz/fuzz_vici.c user/vici_codec.c user/vici.h | $(BUILD)
	$(msg) FUZZ $@
	$(Q)$(CLANG) $(FUZZ_CFLAGS) tests/fuzz/fuzz_vici.c user/vici_codec.c -o $@ \
		$(shell $(PKG_CONFIG) --libs libcjson 2>/dev/null || echo -lcjson)

# The other harnesses compile the user/*.c they need with the harness (all
# instrumented, no objects shared with the gcc build).
FUZZ_LIBS := $(shell $(PKG_CONFIG) --libs libcjson libmnl libsystemd libbpf 2>/dev/null || \
	       echo -lcjson -lmnl -lsystemd -lbpf) -lm
FUZZ_HDRS := $(wildcard user/*.h include/netward/*.h)
# nw_cfg_parse and the section parsers, with what they call
FUZZ_CONFIG := config config_json config_recovery config_tunnels config_segw config_metrics \
	       policy cgroup log util probe_names recovery secret units sha256
$(BUILD)/fuzz_config: tests/fuzz/fuzz_config.c $(FUZZ_CONFIG:%=user/%.c) $(FUZZ_HDRS) | $(BUILD)
	$(msg) FUZZ $@
	$(Q)$(CLANG) $(FUZZ_CFLAGS) tests/fuzz/fuzz_config.c $(FUZZ_CONFIG:%=user/%.c) -o $@ $(FUZZ_LIBS)

# ring buffer records (nw_event_decode) and rtnetlink messages (nw_rt_parse,
# nw_rule_parse, nw_link_parse)
FUZZ_EVENTS := events rtnl cgroup policy log util
$(BUILD)/fuzz_events: tests/fuzz/fuzz_events.c $(FUZZ_EVENTS:%=user/%.c) $(FUZZ_HDRS) | $(BUILD)
	$(msg) FUZZ $@
	$(Q)$(CLANG) $(FUZZ_CFLAGS) tests/fuzz/fuzz_events.c $(FUZZ_EVENTS:%=user/%.c) -o $@ $(FUZZ_LIBS)

# the Cloudflare API replies (nw_cf_parse_tunnel, nw_cf_parse_ready)
FUZZ_CF_API := cf_api util log
$(BUILD)/fuzz_cf_api: tests/fuzz/fuzz_cf_api.c $(FUZZ_CF_API:%=user/%.c) $(FUZZ_HDRS) | $(BUILD)
	$(msg) FUZZ $@
	$(Q)$(CLANG) $(FUZZ_CFLAGS) tests/fuzz/fuzz_cf_api.c $(FUZZ_CF_API:%=user/%.c) -o $@ $(FUZZ_LIBS)

# the control socket: requests through nw_control_open's socket
FUZZ_CONTROL := control events cgroup policy log util
$(BUILD)/fuzz_control: tests/fuzz/fuzz_control.c $(FUZZ_CONTROL:%=user/%.c) $(FUZZ_HDRS) | $(BUILD)
	$(msg) FUZZ $@
	$(Q)$(CLANG) $(FUZZ_CFLAGS) tests/fuzz/fuzz_control.c $(FUZZ_CONTROL:%=user/%.c) -o $@ $(FUZZ_LIBS)

# a crash or undefined behaviour fails the run (its input lands in
# $(BUILD)/fuzz-<name>-crash-*: add it to tests/fuzz/corpus/<name>/)
fuzz: $(FUZZERS:%=$(BUILD)/fuzz_%)
	$(Q)set -e; for f in $(FUZZERS); do \
		echo "== fuzz_$$f: $(FUZZ_RUNS) runs"; \
		mkdir -p $(BUILD)/fuzz-corpus-$$f; \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $(BUILD)/fuzz_$$f -runs=$(FUZZ_RUNS) \
			-max_len=4096 -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz-$$f- \
			$(BUILD)/fuzz-corpus-$$f tests/fuzz/corpus/$$f >$(BUILD)/fuzz-$$f.log 2>&1 || \
			{ tail -n 60 $(BUILD)/fuzz-$$f.log; exit 1; }; \
		grep -E '^#[0-9]+[[:space:]]+DONE|^stat::number_of_executed_units|^stat::average_exec_per_sec' \
			$(BUILD)/fuzz-$$f.log; \
	done

# tests/valgrind/scenario.sh (root): one netwardd under valgrind's memcheck
# through every feature at once; fails on any error, definite, indirect or
# possible leak, or descriptor left open. Logs stay in $(BUILD)/valgrind/.
.PHONY: valgrind
valgrind: all
	$(Q)if [ "$(SAN)" = 1 ]; then echo "make valgrind: not with SAN=1 (ASan and valgrind do not mix)"; exit 2; fi
	$(Q)BUILD=$(BUILD) tests/valgrind/scenario.sh || \
		{ echo "valgrind logs: $(BUILD)/valgrind/ (valgrind.log, daemon.log, events.jsonl, requests.log)"; exit 1; }

demo: deps all
	$(Q)BUILD=$(BUILD) tools/demo.sh

# DESTDIR= PREFIX= (default /usr/local): binaries in $(PREFIX)/sbin, the unit
# in $(PREFIX)/lib/systemd/system (its ExecStart rewritten to
# $(PREFIX)/sbin/netwardd), man pages, the example configuration in
# $(PREFIX)/share/doc/netward, bash completion. Uses the binaries as built.
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR ?= $(PREFIX)/share/doc/netward
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALLED := $(PREFIX)/sbin/netwardd $(PREFIX)/sbin/netwardctl \
	     $(PREFIX)/share/man/man8/netwardd.8 $(PREFIX)/share/man/man8/netwardctl.8 \
	     $(PREFIX)/share/man/man5/netward.json.5 $(UNITDIR)/netwardd.service \
	     $(DOCDIR)/netward.json.example $(BASHCOMPDIR)/netwardctl

install: $(BUILD)/netwardd $(BUILD)/netwardctl
	install -D -m 0755 $(BUILD)/netwardd $(DESTDIR)$(PREFIX)/sbin/netwardd
	install -D -m 0755 $(BUILD)/netwardctl $(DESTDIR)$(PREFIX)/sbin/netwardctl
	install -D -m 0644 man/netwardd.8 $(DESTDIR)$(PREFIX)/share/man/man8/netwardd.8
	install -D -m 0644 man/netwardctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/netwardctl.8
	install -D -m 0644 man/netward.json.5 $(DESTDIR)$(PREFIX)/share/man/man5/netward.json.5
	install -D -m 0644 systemd/netwardd.service $(DESTDIR)$(UNITDIR)/netwardd.service
	sed -i 's|^ExecStart=/usr/local/sbin/netwardd\b|ExecStart=$(PREFIX)/sbin/netwardd|' \
		$(DESTDIR)$(UNITDIR)/netwardd.service
	grep -q '^ExecStart=$(PREFIX)/sbin/netwardd\b' $(DESTDIR)$(UNITDIR)/netwardd.service
	install -D -m 0644 etc/netward.json.example $(DESTDIR)$(DOCDIR)/netward.json.example
	install -D -m 0644 completion/netwardctl.bash $(DESTDIR)$(BASHCOMPDIR)/netwardctl

uninstall:
	rm -f $(INSTALLED:%=$(DESTDIR)%)
	rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true

clean:
	rm -rf build build-san
