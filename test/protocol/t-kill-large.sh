#!/bin/sh
exec "$(dirname "$0")/run.sh" --expect-death -- kill_peer large
