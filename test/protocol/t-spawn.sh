#!/bin/sh
# Two jobs on one node (MPI_Comm_spawn) with tcp beside cma: cma carries
# each job's own pairs, tcp (over loopback) the pairs across jobs.
exec "$(dirname "$0")/run.sh" --btl cma,self,tcp --oversubscribe --mca btl_tcp_if_include lo -- spawn_check
