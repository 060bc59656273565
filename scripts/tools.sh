#!/usr/bin/env bash
# The offline AWS stand-ins, installed into .tools/ (idempotent; `make tools` runs it, CI too):
#   .tools/aws-lambda-rie   the Lambda Runtime Interface Emulator, taken from the aws-sam-cli wheel, sha256-checked
#   .tools/sam-venv         the AWS SAM CLI in its own virtualenv (sam local generate-event, sam validate)
#   java (system)           a JVM for PySpark's local mode (tests/test_spark.py): Debian's openjdk-17-jre-headless
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

# PySpark 4 runs on Java 17 or newer. Installed with apt-get only when no java is on PATH (CI runs this as root).
if command -v java >/dev/null 2>&1; then
    echo "tools: java already present ($(java -version 2>&1 | head -n1))"
else
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "tools: ERROR: no java on PATH; install a JDK/JRE 17+ (Debian: apt-get install openjdk-17-jre-headless)" >&2
        exit 1
    fi
    echo "tools: installing openjdk-17-jre-headless with apt-get (for PySpark)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
    java -version 2>&1 | head -n1
fi

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

# The Lambda python3.12 runtime stand-in, for running `sam build` output under the RIE (tests/deploy, bench/):
# a python3.12 venv with what the Lambda runtime itself provides, awslambdaric and boto3, and nothing else.
LAMBDA_VENV=$TOOLS/lambda-python3.12
LAMBDA_RUNTIME_PACKAGES=("awslambdaric==4.2.2" "boto3==1.44.8")
lambda_venv_ok() {
    [ -x "$LAMBDA_VENV/bin/python" ] && "$LAMBDA_VENV/bin/python" - "${LAMBDA_RUNTIME_PACKAGES[@]}" <<'PYEOF' 2>/dev/null
import sys
from importlib.metadata import version
assert sys.version_info[:2] == (3, 12)
for pin in sys.argv[1:]:
    name, wanted = pin.split("==")
    assert version(name) == wanted, pin
PYEOF
}
if lambda_venv_ok; then
    echo "tools: $LAMBDA_VENV already has ${LAMBDA_RUNTIME_PACKAGES[*]}"
else
    py312=""
    if python3.12 -c "" 2>/dev/null; then py312=$(command -v python3.12); fi
    if [ -z "$py312" ] && command -v pyenv >/dev/null; then
        py312=$(ls -d "$(pyenv root)"/versions/3.12.*/bin/python3.12 2>/dev/null | tail -n1 || true)
    fi
    if [ -z "$py312" ]; then
        echo "tools: ERROR: no python3.12 found (on PATH or in pyenv); install Python 3.12 for the Lambda stand-in" >&2
        exit 1
    fi
    echo "tools: creating $LAMBDA_VENV from $py312 with ${LAMBDA_RUNTIME_PACKAGES[*]}"
    rm -rf "$LAMBDA_VENV"
    "$UV" venv -q --python "$py312" "$LAMBDA_VENV"
    "$UV" pip install -q --python "$LAMBDA_VENV/bin/python" "${LAMBDA_RUNTIME_PACKAGES[@]}"
    "$LAMBDA_VENV/bin/python" -m compileall -q "$LAMBDA_VENV/lib" >/dev/null || true  # the runtime ships .pyc too
    lambda_venv_ok || { echo "tools: ERROR: $LAMBDA_VENV does not import ${LAMBDA_RUNTIME_PACKAGES[*]}" >&2; exit 1; }
fi
echo "tools: lambda runtime stand-in ready"
