#!/bin/sh
# Runs the two-host test: builds two simulated hosts on this machine (each a
# network namespace with its own veth address and a UTS namespace with its
# own hostname), starts mpirun on the first with a hostfile of 2 slots per
# host and rsh-agent.sh as its "ssh" to the second, and runs multinode (4
# ranks) with "--mca btl cma,tcp,self" and this build's component, under a
# time limit.  Open MPI then genuinely sees two nodes (one daemon each,
# different node names), so the job passes only if cma claims exactly the
# same-host peers and tcp carries the rest.  It always tears the hosts down
# and fails if a namespace, veth, session directory or /dev/shm file of the
# run is left; it skips (77) where namespaces cannot be created (not root,
# no CAP_SYS_ADMIN, no iproute2).
#
# Environment (all optional): MPIRUN, OMPI_INFO, abs_top_builddir, srcdir
# (exported by "make check"); MULTINODE_TIMEOUT seconds (default 60);
# MULTINODE_BTL (default cma,tcp,self; "cma,self" must make the test fail).
set -u

MPIRUN=${MPIRUN:-mpirun.openmpi}
OMPI_INFO=${OMPI_INFO:-ompi_info}
MULTINODE_TIMEOUT=${MULTINODE_TIMEOUT:-60}
MULTINODE_BTL=${MULTINODE_BTL:-cma,tcp,self}
srcdir=${srcdir:-$(dirname "$0")}
srcdir=$(cd "$srcdir" && pwd)
abs_top_builddir=${abs_top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=$(pwd)
prog=$builddir/multinode
component_dir=$abs_top_builddir/src/btl_cma/.libs

skip() { echo "multinode.sh: SKIP: $*"; exit 77; }
# 99 is the harness's ERROR: the test could not run, which is not a SKIP.
error() { echo "multinode.sh: ERROR: $*" >&2; exit 99; }

for tool in ip unshare timeout hostname; do
    command -v "$tool" >/dev/null 2>&1 || skip "'$tool' is not installed"
done
[ -x "$prog" ] || error "$prog is not built (make check builds it)"
[ -f "$component_dir/mca_btl_cma.so" ] || error "$component_dir/mca_btl_cma.so is not built"
pkglibdir=$("$OMPI_INFO" --path pkglibdir --parsable 2>/dev/null | sed -n 's/^path:pkglibdir://p')
[ -n "$pkglibdir" ] || error "cannot get pkglibdir from '$OMPI_INFO --path pkglibdir --parsable'"

# Busy-polling MPI jobs cannot share a 2-core machine: one at a time with
# the other MPI suites (test/mpi uses the same lock).
lock=${TMPDIR:-/tmp}/btl-cma-mpi-tests.$(id -u).lock
if command -v flock >/dev/null 2>&1 && exec 9>>"$lock"; then
    flock 9
fi

# Names carry the pid so that runs in parallel (other build trees) never
# share a namespace, an interface or an Open MPI session directory; the
# addresses need not differ, as each pair lives in its own namespaces.
tag=$$
nsA=btlcma-mn$tag-a nsB=btlcma-mn$tag-b
vethA=bcmn${tag}a vethB=bcmn${tag}b
hostA=mn${tag}-hosta hostB=mn${tag}-hostb
subnet=10.77.0.0/24 addrA=10.77.0.1/24 addrB=10.77.0.2/24
tmp=$(mktemp -d) || error "mktemp failed"

netns_exists() { ip netns list 2>/dev/null | grep -q "^$1\( \|$\)"; }
shm_files() { for f in /dev/shm/btl_cma.*; do [ -e "$f" ] && echo "${f##*/}"; done; }

job=
cleanup() {
    if [ -n "$job" ]; then
        # Interrupted: let mpirun (timeout passes the signal on) stop its
        # daemons and remove its session directories before the rest goes.
        kill -TERM "$job" 2>/dev/null && wait "$job"
        job=
    fi
    for ns in "$nsA" "$nsB"; do
        # Whatever still runs in a host after mpirun's end (a rank that
        # ignored SIGTERM) is ours: it can only have been started here.
        pids=$(ip netns pids "$ns" 2>/dev/null)
        # shellcheck disable=SC2086  # one pid per word
        [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
        # Deleting the namespace destroys the veth end inside it.
        netns_exists "$ns" && ip netns delete "$ns"
    done
    rm -rf "$tmp" "${TMPDIR:-/tmp}/ompi.$hostA".* "${TMPDIR:-/tmp}/ompi.$hostB".*
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

shm_before=$(shm_files)

# The first privileged step decides: without the right to create
# namespaces the test cannot run here, which is a SKIP, not a failure.
if ! ip netns add "$nsA" 2>"$tmp/err"; then
    skip "cannot create a network namespace ($(cat "$tmp/err")); needs root or CAP_SYS_ADMIN"
fi
if ! ip netns exec "$nsA" unshare --uts -- true 2>"$tmp/err"; then
    skip "cannot create a UTS namespace ($(cat "$tmp/err"))"
fi
ip netns add "$nsB" || error "cannot create namespace $nsB"
ip link add "$vethA" netns "$nsA" type veth peer name "$vethB" netns "$nsB" ||
    error "cannot create the veth pair $vethA/$vethB"
if ! { ip -n "$nsA" addr add "$addrA" dev "$vethA" &&
    ip -n "$nsB" addr add "$addrB" dev "$vethB" &&
    ip -n "$nsA" link set lo up && ip -n "$nsB" link set lo up &&
    ip -n "$nsA" link set "$vethA" up && ip -n "$nsB" link set "$vethB" up; }; then
    error "cannot configure the veth pair"
fi

# A copy, so the agent is executable even from a read-only source tree
# whose files lost their mode bits.
agent=$tmp/rsh-agent.sh
cp "$srcdir/rsh-agent.sh" "$agent" || error "cannot copy rsh-agent.sh"
chmod 755 "$agent" || error "cannot make $agent executable"
printf '%s slots=2\n%s slots=2\n' "$hostA" "$hostB" >"$tmp/hostfile"
MULTINODE_REMOTE_HOST=$hostB MULTINODE_REMOTE_NETNS=$nsB
export MULTINODE_REMOTE_HOST MULTINODE_REMOTE_NETNS
if [ "$(id -u)" = 0 ]; then
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
fi

# The daemons' out-of-band channel and tcp must use the veth: it is the
# only link between the hosts.  The MCA options reach the remote orted on
# its command line and its ranks from it, the component path included.
# single_copy_min is pinned so the protocol per message size is known to
# multinode.c, and so the startup calibration, which would cache a line
# per (random) host name in ~/.cache, does not run.  Mapping by slot puts
# ranks 0-1 on the first host, as multinode.c expects (and verifies).
set -- "$MPIRUN" --hostfile "$tmp/hostfile" -np 4 --map-by slot --bind-to none \
    --mca plm_rsh_agent "$agent" \
    --mca oob_tcp_if_include "$subnet" --mca btl_tcp_if_include "$subnet" \
    --mca pml ob1 --mca btl "$MULTINODE_BTL" \
    --mca btl_cma_single_copy_min 262144 \
    --mca mca_base_component_path "$component_dir:$pkglibdir" \
    "$prog"
echo "+ [$hostA] timeout $MULTINODE_TIMEOUT $*"
start=$(date +%s)
# In the background, so that a signal to this script is handled at once
# (a shell runs its traps only after the foreground command ends).
# shellcheck disable=SC2016  # expanded by the inner shell
timeout -k 10 "$MULTINODE_TIMEOUT" ip netns exec "$nsA" unshare --uts -- \
    sh -c 'hostname "$1" || exit 99; shift; exec "$@"' multinode "$hostA" "$@" >"$tmp/out" 2>&1 &
job=$!
wait "$job"
rc=$?
job=
end=$(date +%s)
cat "$tmp/out"
result=0
case $rc in
0)
    if grep -q '^multinode: PASS$' "$tmp/out"; then
        echo "multinode.sh: job passed after $((end - start)) s"
    else
        echo "multinode.sh: FAIL: mpirun exited 0 but the program did not report PASS" >&2
        result=1
    fi ;;
124|137)
    echo "multinode.sh: FAIL: no result after $MULTINODE_TIMEOUT s (hang?); killed" >&2
    result=1 ;;
*)
    echo "multinode.sh: FAIL: mpirun exited with $rc after $((end - start)) s" >&2
    result=1 ;;
esac

# mpirun removes its session directories (named after the host) when it
# ends; cleanup removes whatever it left, after this check.
for dir in "${TMPDIR:-/tmp}/ompi.$hostA".* "${TMPDIR:-/tmp}/ompi.$hostB".*; do
    [ -e "$dir" ] && { echo "multinode.sh: FAIL: Open MPI session directory $dir left behind" >&2; result=1; }
done
cleanup
trap - EXIT
for ns in "$nsA" "$nsB"; do
    netns_exists "$ns" && { echo "multinode.sh: FAIL: namespace $ns left behind" >&2; result=1; }
done
# The pair is created straight inside the namespaces; one seen here would
# have escaped a namespace's deletion.
for dev in "$vethA" "$vethB"; do
    ip link show "$dev" >/dev/null 2>&1 && { echo "multinode.sh: FAIL: interface $dev left behind" >&2; result=1; }
done
shm_after=$(shm_files)
left=$(printf '%s\n' "$shm_after" | grep -vxF -e "$shm_before" | grep . )
if [ -n "$left" ]; then
    echo "multinode.sh: FAIL: left in /dev/shm: $left" >&2
    result=1
fi
exit $result
