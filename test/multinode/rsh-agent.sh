#!/bin/sh
# The "ssh" that mpirun uses (--mca plm_rsh_agent) to start its daemon on
# the second simulated host of multinode.sh: it runs the remote command line
# inside that host's network namespace, in a UTS namespace of its own named
# after the host, so the orted and its ranks see the host's hostname and
# network only.  Called as "rsh-agent.sh HOST COMMAND...", like ssh.
# MULTINODE_REMOTE_HOST and MULTINODE_REMOTE_NETNS (set by multinode.sh,
# inherited through mpirun) name the only host it knows.
set -u
host=$1
shift
if [ "$host" != "${MULTINODE_REMOTE_HOST:-}" ] || [ -z "${MULTINODE_REMOTE_NETNS:-}" ]; then
    # 255 is what ssh returns when it cannot connect.
    echo "rsh-agent.sh: unknown host '$host'" >&2
    exit 255
fi
# ssh hands the words of the command to the remote shell joined by spaces,
# and Open MPI writes the command for that shell (quoted arguments, and a
# "PATH=...; export PATH; ..." prologue when mpirun was called by its
# absolute path): eval does what that shell does.
# shellcheck disable=SC2016  # expanded by the inner shell
exec ip netns exec "$MULTINODE_REMOTE_NETNS" unshare --uts -- \
    sh -c 'hostname "$1" || exit 255; shift; eval "$*"' rsh-agent "$host" "$@"
