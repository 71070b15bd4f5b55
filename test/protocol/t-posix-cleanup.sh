#!/bin/sh
# A job interrupted during MPI_Init with POSIX segments: local rank 0 has
# created its /dev/shm name and waits for a peer that never attaches, then
# mpirun gets SIGINT.  The name must not outlive the job (it is registered
# with the local daemon for removal; before, it stayed until another job's
# creation reaped it).
# It runs in a private mount namespace with a /dev/shm of its own, so
# that the name it waits for is invisible to the protocol tests running
# beside it (run.sh counts new names); skipped (77) where that is not
# permitted.
set -u
if [ -z "${CMA_PRIVATE_SHM:-}" ]; then
    unshare -m true 2>/dev/null || { echo "unshare -m not permitted: skipped"; exit 77; }
    exec env CMA_PRIVATE_SHM=1 unshare -m sh -c 'mount -t tmpfs -o size=64m tmpfs /dev/shm || exit 77; exec "$0"' "$0"
fi
. "$(dirname "$0")/env.sh"
names() { ls /dev/shm | grep '^btl_cma\.' | sort; }
before=$(names)
timeout 60 $MPIRUN -np 2 --bind-to none --mca pml ob1 --mca btl cma,self \
    --mca mca_base_component_path "$top/src/btl_cma/.libs:$pkglib" --mca btl_cma_segment posix \
    sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then sleep 30; fi; exec "$0"' "$builddir/bsend_check" &
job=$!
new=""
for _ in $(seq 100); do
    new=$(names | grep -vxF -e "$before" | grep . || true)
    [ -n "$before" ] || new=$(names)
    [ -n "$new" ] && break
    sleep 0.1
done
if [ -z "$new" ]; then
    echo "FAIL: local rank 0 never created its POSIX segment"
    kill -INT $job 2>/dev/null
    wait $job
    exit 1
fi
echo "created while rank 1 sleeps: $new"
pkill -INT -P $job -f "$MPIRUN" 2>/dev/null || kill -INT $job
wait $job
sleep 1
left=$(names | grep -xF -e "$new" || true)
if [ -n "$left" ]; then
    echo "FAIL: left in /dev/shm after the interrupted job: $left"
    for n in $left; do rm -f "/dev/shm/$n"; done
    exit 1
fi
echo "nothing left in /dev/shm"
