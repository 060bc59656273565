#!/usr/bin/env bash
# Known-vulnerability check of the runtime dependencies (requirements.txt: the pinned serving set) against the
# advisories PyPI publishes. Exit code 1 when a pinned version has a known vulnerability, and also when a pin
# could not be checked at all (--strict): an audit that looked at nothing must not pass.
#   --no-deps --disable-pip   every dependency is pinned in requirements.txt, so pip-audit checks exactly those
#                             pins and does not build a throwaway venv to resolve them
#   --vulnerability-service pypi   OSV (the default) is not reachable from CI
# Run from anywhere: scripts/audit.sh
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/pip-audit -r requirements.txt --no-deps --disable-pip --strict --vulnerability-service pypi \
    --progress-spinner off "$@"
