#!/usr/bin/env bash
# Run `bazel test` offline (Debian bazel-bootstrap 4.2.3, no internet).
#
#   tools/bazel_test.sh                      # bazel test //...
#   tools/bazel_test.sh //tests:foo_test --test_output=all
#
# Installs bazel-bootstrap with apt-get when no `bazel` is on PATH, puts .venv/bin first
# on PATH (tests run with that python3), and points the repositories Bazel would
# download (@rules_cc, @rules_java, @remote_coverage_tools) at the local stand-ins in
# tools/bazel_offline/.  Exits with bazel's status.  See tools/bazel_offline/README.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."   # repo root
ROOT=$PWD

if ! command -v bazel >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi
    echo "bazel_test.sh: installing bazel-bootstrap with apt-get ..." >&2
    $SUDO apt-get update -qq >/dev/null
    $SUDO env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends bazel-bootstrap >/dev/null
fi

if [ -d "$ROOT/.venv/bin" ]; then
    export PATH="$ROOT/.venv/bin:$PATH"
else
    echo "bazel_test.sh: warning: no $ROOT/.venv; tests use $(command -v python3 || echo 'no python3')" >&2
fi

# Tests that need the shared data read it from this absolute path.
if [ -z "${KERAS_ELECTRA_SHARED_DATA:-}" ] && [ -d "$ROOT/../shared/data" ]; then
    KERAS_ELECTRA_SHARED_DATA="$(cd "$ROOT/../shared/data" && pwd)"
    export KERAS_ELECTRA_SHARED_DATA
fi

OFFLINE="$ROOT/tools/bazel_offline"
set +e
bazel test \
    --override_repository=rules_cc="$OFFLINE/rules_cc" \
    --override_repository=rules_java="$OFFLINE/rules_java" \
    --override_repository=remote_coverage_tools="$OFFLINE/remote_coverage_tools" \
    --spawn_strategy=processwrapper-sandbox \
    "${@:-//...}"
status=$?
exit $status
