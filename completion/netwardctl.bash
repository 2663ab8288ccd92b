# bash completion for netwardctl(8)                          -*- shell-script -*-
# SPDX-License-Identifier: GPL-2.0-only
#
# Installed by `make install` to $(PREFIX)/share/bash-completion/completions/
# (bash-completion loads it the first time netwardctl is completed); or
# `source completion/netwardctl.bash` by hand. Needs nothing from the
# bash-completion package.
#
# Keep in step with user/netwardctl.c (verbs[], the getopt options, usage())
# and user/events.c (type_names[], public ones only):
# tests/integration/test_install.sh compares these lists with the sources.

_netwardctl_verbs='status counters blocklist events wait-stable churn quarantine probes recovery tunnels segw'
_netwardctl_global_opts='--json --pin-dir --socket --help --version'
# options that take a value (getopt required_argument)
_netwardctl_arg_opts='--pin-dir --socket --cgroup --port --proto --family --action --type --limit --quiet --timeout'
# public event types (nw_event_type_public): not none, rtnl_request,
# no_route_sample, cgroup_change
_netwardctl_event_types='bind_audit bind_denied bind_rewritten wildcard_listener
	route_deleted route_restored route_restore_failed route_flapping
	rule_added rule_deleted rule_restored rule_restore_failed rule_flapping rule_storm
	no_route link_down probe_failed probe_ok connectivity_lost connectivity_restored
	recovery_step recovery_failed tunnel_state unit_started unit_stopped
	segw_down segw_up segw_failover segw_retry_exhausted quarantined events_lost
	daemon'
_netwardctl_actions='allow audit deny rewrite kill'

# _netwardctl_segw_names CMD [--socket PATH]: the SEGW connection names
# netwardd reports (`segw --json`); nothing when it does not answer.
_netwardctl_segw_names()
{
	local cmd=$1 out
	shift
	type -P "$cmd" >/dev/null 2>&1 || cmd=netwardctl
	if type -P timeout >/dev/null 2>&1; then
		out=$(timeout 2 "$cmd" "$@" segw --json 2>/dev/null </dev/null)
	else
		out=$("$cmd" "$@" segw --json 2>/dev/null </dev/null)
	fi
	# {"vici_socket":…,"connections":[{"name":"hq","gateways":[…],…},…]}:
	# "name" is only ever a connection's name in that object
	printf '%s\n' "$out" | grep -o '"name":"[^"\\]*"' | sed -e 's/^"name":"//' -e 's/"$//'
}

# _netwardctl_cgroups CUR: cgroup directories, relative to the cgroup2
# mount (absolute when CUR is), each with a trailing / to go on descending
_netwardctl_cgroups()
{
	local mnt d
	if [[ $1 == /* ]]; then
		while IFS= read -r d; do
			[ -n "$d" ] && printf '%s/\n' "$d"
		done < <(compgen -d -- "$1")
		return 0
	fi
	mnt=$(awk '{ for (i = 1; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' \
		/proc/self/mountinfo 2>/dev/null)
	[ -n "$mnt" ] && [ -d "$mnt" ] || return 0
	while IFS= read -r d; do
		[ -n "$d" ] && printf '%s/\n' "${d#"$mnt"/}"
	done < <(compgen -d -- "$mnt/$1")
}

_netwardctl()
{
	local cur prev cword i w IFS=$' \t\n'
	local -a words=("${COMP_WORDS[@]}")
	cword=$COMP_CWORD
	cur=${words[cword]}
	prev=
	((cword > 0)) && prev=${words[cword - 1]}
	# COMP_WORDBREAKS splits --type=x into "--type" "=" "x"
	if [[ $cur == = ]]; then
		cur=
	elif [[ $prev == = ]] && ((cword > 1)); then
		prev=${words[cword - 2]}
	fi
	COMPREPLY=()

	# the value of an option
	case $prev in
	--type)
		mapfile -t COMPREPLY < <(compgen -W "$_netwardctl_event_types" -- "$cur")
		return 0 ;;
	--action)
		mapfile -t COMPREPLY < <(compgen -W "$_netwardctl_actions" -- "$cur")
		return 0 ;;
	--proto)
		mapfile -t COMPREPLY < <(compgen -W 'tcp udp any' -- "$cur")
		return 0 ;;
	--family)
		mapfile -t COMPREPLY < <(compgen -W '4 6 any' -- "$cur")
		return 0 ;;
	--pin-dir)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return 0 ;;
	--socket)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0 ;;
	--cgroup)
		mapfile -t COMPREPLY < <(_netwardctl_cgroups "$cur")
		[[ ${#COMPREPLY[@]} -gt 0 ]] && compopt -o nospace 2>/dev/null
		return 0 ;;
	--port | --limit | --quiet | --timeout)
		return 0 ;;	# a number
	esac

	# the words before the cursor: verb, sub-verb, arguments; --socket
	local -a pos=() sock=()
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		case $w in
		--socket=*) sock=(--socket "${w#--socket=}") ;;
		--*=*) ;;
		--socket | --pin-dir | --cgroup | --port | --proto | --family | --action | --type | \
		--limit | --quiet | --timeout)
			[[ ${words[i + 1]} == = ]] && ((i++))
			((i + 1 < cword)) && [[ $w == --socket ]] && sock=(--socket "${words[i + 1]}")
			((i++)) ;;
		-*) ;;
		*) pos+=("$w") ;;
		esac
	done

	local verb=${pos[0]-} sub=${pos[1]-} opts=$_netwardctl_global_opts
	case $verb in
	blocklist)
		case $sub in
		add) opts+=' --action --cgroup --port --proto --family' ;;
		del) opts+=' --cgroup --port --proto --family' ;;
		esac ;;
	events) opts+=' --follow --type --limit' ;;
	wait-stable) opts+=' --quiet --timeout' ;;
	quarantine) opts+=' --cgroup' ;;
	probes) opts+=' --now' ;;
	esac

	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
		return 0
	fi
	case ${#pos[@]} in
	0) mapfile -t COMPREPLY < <(compgen -W "$_netwardctl_verbs" -- "$cur") ;;
	1)
		case $verb in
		blocklist | quarantine)
			mapfile -t COMPREPLY < <(compgen -W 'list add del' -- "$cur") ;;
		segw) mapfile -t COMPREPLY < <(compgen -W 'list failover' -- "$cur") ;;
		esac ;;
	2)
		if [[ $verb == segw && $sub == failover ]]; then
			mapfile -t COMPREPLY < <(compgen -W \
				"$(_netwardctl_segw_names "${words[0]}" "${sock[@]}")" -- "$cur")
		fi ;;
	esac
	return 0
}
complete -F _netwardctl netwardctl
