#!/usr/bin/env bash
# The offline AWS stand-ins, installed into .tools/ (idempotent; `make tools` runs it, CI too):
#   .tools/aws-lambda-rie   the Lambda Runtime Interface Emulator, taken from the aws-sam-cli wheel, sha256-checked
#   .tools/sam-venv         the AWS SAM CLI in its own virtualenv (sam local generate-event, sam validate)
# See ../shared/docs/aws-offline.md for why and how these are used.
set -euo pipefail
cd "$(dirname "$0")/.."

SAM_VERSION=1.170.0
RIE_SHA256=6b1e686e62ab2baf5759c412c4864276ef2a88b094fca53ec070637ccba9b9a5
TOOLS=.tools
RIE=$TOOLS/aws-lambda-rie
SAM_VENV=$TOOLS/sam-venv
PY=.venv/bin/python
UV=.venv/bin/uv

mkdir -p "$TOOLS"

rie_ok() { [ -x "$RIE" ] && echo "$RIE_SHA256  $RIE" | sha256sum --quiet -c - 2>/dev/null; }

if rie_ok; then
    echo "tools: $RIE already present (sha256 ok)"
else
    wheel=$(ls "$TOOLS"/aws_sam_cli-"$SAM_VERSION"-*.whl 2>/dev/null | head -n1 || true)
    if [ -z "$wheel" ]; then
        echo "tools: downloading the aws-sam-cli $SAM_VERSION wheel (about 8 MB) for the RIE"
        "$PY" -m pip download -q --no-deps --only-binary=:all: -d "$TOOLS" "aws-sam-cli==$SAM_VERSION"
        wheel=$(ls "$TOOLS"/aws_sam_cli-"$SAM_VERSION"-*.whl | head -n1)
    fi
    "$PY" - "$wheel" "$RIE" <<'PYEOF'
import sys, zipfile
wheel, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, open(target + ".tmp", "wb") as out:
    out.write(z.read("samcli/local/rapid/aws-lambda-rie-x86_64"))
PYEOF
    chmod +x "$RIE.tmp"
    if ! echo "$RIE_SHA256  $RIE.tmp" | sha256sum --quiet -c -; then
        rm -f "$RIE.tmp"
        echo "tools: ERROR: the RIE extracted from $wheel does not match sha256 $RIE_SHA256" >&2
        exit 1
    fi
    mv "$RIE.tmp" "$RIE"
    echo "tools: installed $RIE (sha256 ok)"
fi

if [ -x "$SAM_VENV/bin/sam" ] && SAM_CLI_TELEMETRY=0 "$SAM_VENV/bin/sam" --version 2>/dev/null | grep -qF "$SAM_VERSION"; then
    echo "tools: $SAM_VENV already has SAM CLI $SAM_VERSION"
else
    echo "tools: installing aws-sam-cli==$SAM_VERSION into $SAM_VENV (about 340 MB)"
    [ -x "$SAM_VENV/bin/python" ] || "$UV" venv -q --python "$PY" "$SAM_VENV"
    "$UV" pip install -q --python "$SAM_VENV/bin/python" "aws-sam-cli==$SAM_VERSION"
    echo "tools: installed $(SAM_CLI_TELEMETRY=0 "$SAM_VENV/bin/sam" --version)"
fi
echo "tools: done"
