# SPDX-License-Identifier: GPL-2.0
# The TCP face's test setup, sourced after lib.sh and cluster.sh: a client
# namespace hasync-c on a bridge with both units' service interfaces
# (svc0, each unit with its own address there, as a node has; the service
# address floats), a secret, and the units' [tcp] table.

SVC=10.77.0.100
PORT=7700
C="ip netns exec hasync-c"
KEY=$CL/control.key
# tcp.allow, when set (else the default: the service address's network).
TCP_ALLOW=${TCP_ALLOW:-}

# svc_link N: node N's service interface on the client's bridge.
svc_link() {
	ip link add "c-n$1" netns hasync-c type veth peer name svc0 netns "hasync-n$1" &&
		$C ip link set "c-n$1" master br0 &&
		$C ip link set "c-n$1" up &&
		in_ns "$1" ip link set svc0 up &&
		in_ns "$1" ip addr add "10.77.0.$1/24" dev svc0
}

# segment_up [ADDR...]: the client's segment; the client is 10.77.0.10,
# and ADDRs are more addresses of its.
segment_up() {
	ip netns add hasync-c &&
		$C ip link set lo up &&
		$C ip link add br0 type bridge &&
		$C ip link set br0 up &&
		$C ip addr add 10.77.0.10/24 dev br0 || return 1
	for a in "$@"; do
		$C ip addr add "$a/24" dev br0 || return 1
	done
	svc_link 1 && svc_link 2 || return 1
	(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$KEY")
}

# conf_tcp N: node N's config with the TCP face.
conf_tcp() {
	cl_conf "$1" both || return 1
	cat >>"$CL/n$1.toml" <<EOT
[tcp]
listen = "$SVC:$PORT"
interface = "svc0"
prefix = 24
secret = "$KEY"
EOT
	[ -z "$TCP_ALLOW" ] || echo "allow = [$TCP_ALLOW]" >>"$CL/n$1.toml"
}
