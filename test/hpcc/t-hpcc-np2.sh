#!/bin/sh
exec "$(dirname "$0")/run-hpcc.sh" 2
