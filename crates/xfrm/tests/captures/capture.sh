#!/bin/sh
# Captures the netlink request an `ip xfrm ...` command sends, as a Rust byte array.
# Usage (as root): ./capture.sh ip xfrm policy add ...
# Runs in a throwaway network namespace so nothing on the host changes.
set -eu
ns="tern-xfrm-capture-$$"
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
ip netns exec "$ns" strace -e trace=sendmsg,sendto -e write=all -s 0 "$@" 2>&1 >/dev/null |
    awk '/^ \| [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]  /{ line=substr($0, 11, 49); gsub(/  +/, " ", line); n=split(line, b, " ");
        out="    "; for (i=1;i<=n;i++) out=out "0x" b[i] ","; print out } !/^ \|/{ print "// " $0 }'
