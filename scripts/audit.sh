#!/usr/bin/env bash
# Known-vulnerability check of the pinned runtime dependencies (requirements.txt). See scripts/audit.py for why
# this is not plain pip-audit here. Run from anywhere: scripts/audit.sh
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/audit.py requirements.txt
