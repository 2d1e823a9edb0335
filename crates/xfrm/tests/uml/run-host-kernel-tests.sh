#!/bin/sh
# Runs tern-xfrm's host-kernel tests (tests/host_kernel*.rs) in a kernel with
# ESP (User-Mode Linux via tests/uml/run-in-uml, or the host if it has ESP),
# so their ESP branches run too. From the checkout, as root:
#   crates/xfrm/tests/uml/run-host-kernel-tests.sh
set -eu
root=$(cd "$(dirname "$0")/../../../.." && pwd)
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
bins=$(cargo test -p tern-xfrm --test host_kernel --test host_kernel_events --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*host_kernel[^"]*\)".*/\1/p')
[ -n "$bins" ] || { echo "could not build the host-kernel test binaries" >&2; exit 1; }
job="$CARGO_TARGET_DIR/tern-xfrm-uml-job.sh"
{
    printf '#!/bin/sh\nset -e\nuname -r\n'
    for b in $bins; do printf '%s --test-threads=1\n' "$b"; done
} >"$job"
chmod +x "$job"
exec "$root/tests/uml/run-in-uml" "$job"
