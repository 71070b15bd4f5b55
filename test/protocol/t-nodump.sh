#!/bin/sh
exec "$(dirname "$0")/run.sh" --drop-ptrace --expect-warnings 1 -- protocol_check 4194304 emu 0
