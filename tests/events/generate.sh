#!/usr/bin/env bash
# Regenerates the Lambda event fixtures in this folder: the exact commands that made them.
# Needs the SAM CLI from `make tools`; works offline, with no AWS credentials.
#
#   http-api/      API Gateway HTTP API, payload 2.0   (sam local generate-event apigateway http-api-proxy)
#   rest-api/      API Gateway REST API, payload 1.0   (sam local generate-event apigateway aws-proxy)
#   alb/           Application Load Balancer           (sam local generate-event alb request)
#   function-url/  Lambda Function URL: SAM has no generator for it, so each one is derived from the
#                  http-api event (same payload 2.0 shape) with a Function URL domain and request context,
#                  no stage or route parameters, and the body as plain text (isBase64Encoded false), which
#                  is how Function URLs deliver text bodies. SAM itself base64-encodes every body.
# SAM's events carry no Content-Type header; a real client sends one with a JSON body, so POST events get
# "content-type: application/json" added. SAM has no option for other headers either, so the feedback events
# get "x-api-key: feedback-test-key" (the FEEDBACK_API_KEY tests/test_feedback_lambda.py configures) added.
set -euo pipefail
cd "$(dirname "$0")"
SAM=../../.tools/sam-venv/bin/sam
PYTHON=../../.venv/bin/python
export SAM_CLI_TELEMETRY=0
[ -x "$SAM" ] || { echo "no $SAM: run 'make tools' first" >&2; exit 1; }

SPAM='{"message": "WINNER!! You have won a free prize, claim now"}'
BATCH='{"messages": ["Are we still on for lunch tomorrow at noon?", "Free entry to win a cash prize, text WIN to 80086"]}'
EMAIL='{"format": "email", "message": "From: \"Prize Team\" <winner@free-prizes.example.com>\nTo: you@example.org\nSubject: You have WON €1000\nContent-Type: text/plain; charset=utf-8\n\nCongratulations — you won a free prize! Claim your cash now, reply WIN."}'
BAD_JSON='{"message": "unterminated'
FEEDBACK='{"message": "WINNER!! You have won a free prize, claim now", "label": "spam", "model_version": "v1", "spam_probability": 0.91}'
FEEDBACK_BATCH='{"reports": [{"message": "Are we still on for lunch tomorrow at noon?", "label": "ham"}, {"message": "winner!!  You have WON a free prize,\nclaim now", "label": "spam"}, {"message": "Free entry to win a cash prize, text WIN to 80086", "label": "spam"}]}'

rm -rf http-api rest-api alb function-url
mkdir -p http-api rest-api alb function-url
generate() {  # name method path body
    "$SAM" local generate-event apigateway http-api-proxy --method "$2" --path "$3" --body "$4" > "http-api/$1.json"
    "$SAM" local generate-event apigateway aws-proxy --method "$2" --path "$3" --body "$4" > "rest-api/$1.json"
    "$SAM" local generate-event alb request --method "$2" --path "$3" --body "$4" > "alb/$1.json"
}
generate predict-spam POST predict "$SPAM"
generate predict-batch POST predict "$BATCH"
generate predict-email POST predict "$EMAIL"
generate bad-json POST predict "$BAD_JSON"
generate health GET health ""
generate model GET model ""
generate feedback-spam POST feedback "$FEEDBACK"
generate feedback-batch POST feedback "$FEEDBACK_BATCH"

"$PYTHON" - <<'PYEOF'
import base64, json, pathlib

for path in sorted(pathlib.Path().glob("*/*.json")):
    event = json.loads(path.read_text())
    method = event.get("httpMethod") or event["requestContext"]["http"]["method"]
    added = {"content-type": "application/json"} if method == "POST" else {}
    if path.name.startswith("feedback-"):
        added["x-api-key"] = "feedback-test-key"
    for name, value in added.items():
        event["headers"][name] = value
        if "multiValueHeaders" in event:
            event["multiValueHeaders"][name] = [value]
    path.write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")

for path in sorted(pathlib.Path("http-api").glob("*.json")):
    event = json.loads(path.read_text())
    for key in ("pathParameters", "stageVariables"):
        event.pop(key)
    context = event["requestContext"]
    for key in ("authentication", "authorizer"):  # a Function URL with AuthType NONE has neither
        context.pop(key)
    context["apiId"] = context["domainPrefix"] = "abcdefghijklmnopqrstuvwxyz0123456"
    context["domainName"] = "abcdefghijklmnopqrstuvwxyz0123456.lambda-url.us-east-1.on.aws"
    event["body"] = base64.b64decode(event["body"]).decode("utf-8")
    event["isBase64Encoded"] = False
    if not event["body"]:
        del event["body"]
    out = pathlib.Path("function-url") / path.name
    out.write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")
PYEOF
ls -1 */*.json
