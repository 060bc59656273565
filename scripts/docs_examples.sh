#!/usr/bin/env bash
# Re-runs the model-dependent examples of docs/cli.md and docs/batch.md (predict, score, info) against the
# shipped model, with the example files they use, and prints each command and its output. After `make model`,
# paste what changed (version, thresholds, probabilities) into the docs and the README's examples.
#   bash scripts/docs_examples.sh
set -u
SC=$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/spam-classifier
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

cat > suspicious.eml <<'MAIL'
From: "Prize Team" <winner@free-prizes.example.com>
To: you@example.org
Subject: You have WON a $1000 gift card
Content-Type: text/plain; charset=utf-8

Congratulations! Claim your free cash prize now at http://free-prizes.example.com/claim
Reply STOP to opt out.
MAIL
{
    printf 'From alice@example.org Mon Dec  1 09:00:00 2026\nFrom: Alice <alice@example.org>\nTo: bob@example.org\n'
    printf 'Subject: Notes from Tuesday\n\nHi Bob, my notes from the meeting are below. Can we go over the budget on Thursday?\nAlice\n\n'
    printf 'From winner@free-prizes.example.com Mon Dec  1 09:05:00 2026\n'
    cat suspicious.eml
    printf '\nFrom carol@example.net Mon Dec  1 10:00:00 2026\nFrom: Carol <carol@example.net>\nTo: bob@example.org\n'
    printf 'Subject: Re: dinner on Saturday\n\nSounds good, we will bring dessert. See you at 7.\n'
} > archive.mbox
printf 'id,body\nc1,"Great video, the part at 2:19 is my favourite"\n' > comments.csv
printf 'c2,"WINNER!! You have been selected for a FREE iPhone, claim now at http://bit.ly/win-iphone"\n' >> comments.csv
printf 'c3,"\xff\xfe broken"\n' >> comments.csv  # not UTF-8: an error row

run() { printf '$ spam-classifier'; printf ' %q' "${@:2}"; echo; "$@"; echo "(exit $?)"; }
run "$SC" predict "WINNER!! Claim your free iPhone now" "Are we still on for lunch tomorrow?"
run "$SC" predict --json "WINNER!! Claim your free iPhone now"
run "$SC" predict --file suspicious.eml --format email
run "$SC" predict --file suspicious.eml --format email --json
run "$SC" predict --file suspicious.eml --format text --json
run "$SC" score archive.mbox --out scores.jsonl && cat scores.jsonl
run "$SC" score comments.csv --text-column body --id-column id --out scores.csv && cat scores.csv
printf 'See you at lunch?\nWINNER!! Claim your free iPhone now\n' | run "$SC" score - --out - --format csv
run "$SC" info
