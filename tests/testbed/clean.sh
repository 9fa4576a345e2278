#!/usr/bin/env bash
# Remove every container and network the test bed owns (label dcos-testbed=1, given to each
# test container when it is made, never by the image: a demo cluster made from the same image
# is the operator's and stays): what a killed earlier run left behind would otherwise hold
# names and subnets the next run needs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../demo/node/lib.sh"
containers=$(docker ps -aq --filter "label=$TESTBED_LABEL")
if [ -n "$containers" ]; then
  say "removing $(echo "$containers" | wc -l) leftover container(s)"
  echo "$containers" | xargs -r docker rm -f >/dev/null
fi
networks=$(docker network ls -q --filter "label=$TESTBED_LABEL")
if [ -n "$networks" ]; then
  say "removing $(echo "$networks" | wc -l) leftover network(s)"
  echo "$networks" | xargs -r docker network rm >/dev/null
fi
