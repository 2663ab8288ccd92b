#!/usr/bin/env bash
# Regenerates vmlinux/<arch>/vmlinux.h.
#
#   tools/gen-vmlinux.sh                       from the running kernel's BTF
#   tools/gen-vmlinux.sh --btf FILE [ARCH]     from a BTF file or vmlinux ELF
#   tools/gen-vmlinux.sh --image IMAGE ARCH    from an uncompressed kernel
#                                              Image (e.g. Debian's arm64
#                                              vmlinuz), whose .BTF is found
#                                              by its header
#
# CO-RE means the checked-in header need not match the kernel the programs run
# on: libbpf relocates field offsets at load time. Regenerate only when a
# program needs a type or field the header lacks (a newer kernel's struct),
# and from a kernel at least that new. Checked in: x86 (from 6.18) and arm64
# (from Debian 12's linux-image-6.1.0-*-arm64, via --image).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
btf=/sys/kernel/btf/vmlinux
tmp=

case ${1:-} in
--btf) btf=$2; arch=${3:-$arch} ;;
--image)
	arch=${3:?--image needs an arch (x86, arm64)}
	tmp=$(mktemp)
	trap 'rm -f "$tmp"' EXIT
	python3 - "$2" "$tmp" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
i = 0
while (i := data.find(b"\x9f\xeb\x01\x00", i)) >= 0:
    hdr, toff, tlen, soff, slen = struct.unpack_from("<IIIII", data, i + 4)
    if hdr == 24 and toff == 0 and soff == tlen and tlen > 1 << 20 and slen > 1 << 16:
        open(sys.argv[2], "wb").write(data[i:i + hdr + soff + slen])
        sys.exit(0)
    i += 1
sys.exit("gen-vmlinux: no BTF found in " + sys.argv[1] + " (compressed? pass the raw Image)")
PY
	btf=$tmp ;;
"") ;;
*) echo "usage: $0 [--btf FILE [ARCH] | --image IMAGE ARCH]" >&2; exit 2 ;;
esac

[ -r "$btf" ] || { echo "gen-vmlinux: $btf not readable (kernel without BTF?)" >&2; exit 1; }
out=$here/../vmlinux/$arch/vmlinux.h
mkdir -p "$(dirname "$out")"
bpftool btf dump file "$btf" format c >"$out.tmp"
mv "$out.tmp" "$out"
echo "gen-vmlinux: wrote vmlinux/$arch/vmlinux.h from $btf"
