# Two commands on a fresh machine:  `make demo`  (set up, predict, evaluate)  and  `make test`  (the whole suite).
PYTHON ?= python3
# Catalog corpora (`--data NAME`) are copied from this mirror into the data directory on first use.
export SPAM_CLASSIFIER_MIRROR ?= $(abspath ../shared/data)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup tools demo test lint model quality docs clean

$(BIN)/spam-classifier: pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check uv
	@# --no-cache: PyPI has pyspark only as a source package, and uv kept each build (about 1.4 GB) in
	@# ~/.cache/uv without ever reusing it; a few dozen fresh installs filled a shared disk.
	$(BIN)/uv pip install -q --no-cache --python $(BIN)/python -r requirements-dev.txt -e '.[dev]'
	@touch $@

setup: $(BIN)/spam-classifier  ## virtualenv with the pinned dependencies

tools: setup  ## the offline AWS stand-ins: Lambda RIE and the SAM CLI
	bash scripts/tools.sh

demo: setup  ## predictions with the shipped model, a 5-fold evaluation on SMS, then the API on :8000
	$(BIN)/spam-classifier predict "WINNER!! Claim your free iPhone now" "Are we still on for lunch tomorrow?"
	$(BIN)/spam-classifier evaluate --data sms --cv 5
	@echo "Serving the shipped model: try http://127.0.0.1:8000/docs (Ctrl-C to stop)"
	$(BIN)/spam-classifier serve --host 127.0.0.1 --port 8000

test: tools  ## the whole test suite: lint, docs drift, dependency audit, then pytest (what CI runs)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/python scripts/cli_reference.py --check
	$(BIN)/python scripts/quality.py --check
	bash scripts/audit.sh
	$(BIN)/python -m pytest -n auto --dist loadgroup

lint: setup
	$(BIN)/ruff check src tests bench scripts

model: setup  ## rebuild the shipped default model (fixed seeds) from every catalog corpus whose licence allows it
	rm -rf build/default-model
	$(BIN)/spam-classifier train --data sms --data spamassassin --data nus-sms --data youtube \
		$(if $(shell grep -qs '"cross_corpus"' reports/quality.json && echo y),--cross-corpus-report reports/quality.json) \
		--out build/default-model
	rm -rf src/spam_classifier/models/default && cp -r build/default-model src/spam_classifier/models/default

quality: setup  ## in-corpus CV, the cross-corpus tables of this design and of 1ba1893, re-typed mail: reports/quality.json, the README (hours)
	$(BIN)/python scripts/quality.py

docs: setup  ## regenerate docs/cli-reference.md from every command's --help
	$(BIN)/python scripts/cli_reference.py

clean:
	rm -rf $(VENV) .tools build .pytest_cache
