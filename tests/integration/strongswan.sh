# shellcheck shell=bash
# Real strongSwan charon instances in namespaces the test makes (issue 7):
# a bridge namespace and, hanging off it by veth, a client (10.66.0.10)
# and gateways gw1..gw3 (10.66.0.1..3). Each charon has its own directory
# ($TMP/sw-NAME: strongswan.conf, run/, charon.vici, charon.log) and its
# own /run (charon hard-codes /var/run/charon.pid), fast retransmits so a
# dead peer is noticed in ~4.4 s instead of 165 s. Sourced by lib.sh.

SW_CHARON=${SW_CHARON:-/usr/lib/ipsec/charon}
SW_PSK=lab-secret-$RANDOM$RANDOM

sw_available() {
	[ -x "$SW_CHARON" ] && command -v swanctl >/dev/null
}

# sw_lab: the namespaces; sets SW_NS_cl, SW_NS_gw1..3 (names)
sw_lab() {
	local id br n ip
	id=$(rand)
	br=nwsw-$id-br
	ip netns add "$br" || fail "netns $br"
	defer "ip netns del '$br'"
	ip -n "$br" link add br0 type bridge
	ip -n "$br" link set br0 up
	for n in cl gw1 gw2 gw3; do
		case $n in cl) ip=10.66.0.10 ;; *) ip=10.66.0.${n#gw} ;; esac
		ip netns add "nwsw-$id-$n" || fail "netns $n"
		defer "ip netns del 'nwsw-$id-$n'"
		ip -n "nwsw-$id-$n" link set lo up
		ip -n "$br" link add "p-$n" type veth peer name eth0 netns "nwsw-$id-$n"
		ip -n "$br" link set "p-$n" master br0 up
		ip -n "nwsw-$id-$n" addr add "$ip/24" dev eth0
		ip -n "nwsw-$id-$n" link set eth0 up
		printf -v "SW_NS_$n" '%s' "nwsw-$id-$n"
	done
}

sw_dir() { printf '%s/sw-%s' "$TMP" "$1"; }

# sw_conf NAME: strongswan.conf for charon NAME
sw_conf() {
	local d
	d=$(sw_dir "$1")
	mkdir -p "$d/run"
	cat >"$d/strongswan.conf" <<EOT
charon {
  load_modular = no
  load = random nonce aes sha1 sha2 hmac gmp kdf pem pkcs1 x509 pubkey kernel-netlink socket-default vici
  install_routes = no
  install_virtual_ip = no
  retransmit_timeout = 1.0
  retransmit_base = 1.4
  retransmit_tries = 2
  plugins {
    vici {
      socket = unix://$d/charon.vici
    }
  }
  filelog {
    main {
      path = $d/charon.log
      time_format = %H:%M:%S
      ike_name = yes
      default = 1
      ike = 2
    }
  }
  syslog {
    daemon {
      default = -1
    }
  }
}
EOT
}

# sw_swanctl_conf FILE CONN LOCAL_ADDR LOCAL_ID [REMOTE_ADDR]: a swanctl.conf
# with the IKE connection CONN as every charon of the lab has it (IKEv2,
# the lab's proposal and PSK, any remote id; IKE only: this kernel has no
# ESP); without REMOTE_ADDR it only answers
sw_swanctl_conf() {
	local remote=
	[ -z "${5:-}" ] || remote=$'\n'"    remote_addrs = $5"
	cat >"$1" <<EOT
connections {
  $2 {
    version = 2
    local_addrs = $3$remote
    proposals = aes128-sha256-modp2048
    dpd_delay = 1s
    local {
      auth = psk
      id = $4
    }
    remote {
      auth = psk
      id = %any
    }
  }
}
secrets {
  ike-$2 {
    secret = "$SW_PSK"
  }
}
EOT
}

# sw_gw_conf N: gateway N's connection
sw_gw_conf() { sw_swanctl_conf "$(sw_dir "gw$1")/swanctl.conf" segw "10.66.0.$1" "gw$1.lab"; }

sw_pid() { cat "$(sw_dir "$1")/pid" 2>/dev/null; }
sw_vici_up() { [ -S "$(sw_dir "$1")/charon.vici" ]; }

# sw_start NAME NS: charon NAME in namespace NS, with its own /run
sw_start() {
	local name=$1 ns=$2 d
	d=$(sw_dir "$name")
	[ -f "$d/strongswan.conf" ] || sw_conf "$name"
	rm -f "$d/charon.vici"
	STRONGSWAN_CONF=$d/strongswan.conf ip netns exec "$ns" unshare -m --propagation private \
		sh -c "mount --bind '$d/run' /run && exec '$SW_CHARON'" >>"$d/stdout.log" 2>&1 &
	echo $! >"$d/pid"
	defer "sw_stop_hard $name"
	wait_until 5 sw_vici_up "$name" || { cat "$d/stdout.log" >&2; fail "charon $name did not start"; }
	if [ "$name" != cl ]; then
		[ -f "$d/swanctl.conf" ] || sw_gw_conf "${name#gw}"
		swanctl --load-all --noprompt --file "$d/swanctl.conf" --uri "unix://$d/charon.vici" \
			>>"$d/stdout.log" 2>&1 || { cat "$d/stdout.log" >&2; fail "swanctl load on $name"; }
	fi
}

# sw_stop NAME [SIGNAL]: TERM (sends DELETE: peers notice at once) or KILL
# (peers notice by dead peer detection, ~4.4 s)
sw_stop() {
	local pid
	pid=$(sw_pid "$1")
	[ -n "$pid" ] || return 0
	kill "-${2:-TERM}" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$(sw_dir "$1")/pid" "$(sw_dir "$1")/charon.vici"
}
sw_stop_hard() { sw_stop "$1" KILL; }

# sw_sa_remote: the remote address of the client's IKE SA "NAME" (default
# corp), "" when none is established
sw_sa_remote() {
	local d
	d=$(sw_dir cl)
	swanctl --list-sas --ike "${1:-corp}" --uri "unix://$d/charon.vici" 2>/dev/null |
		awk '/ESTABLISHED/ { est = 1 }
		     est && $1 == "remote" { for (i = 2; i <= NF; i++) if ($i ~ /^10\.66\.0\.[0-9]+\[/) { split($i, a, "["); print a[1]; exit } }'
}
