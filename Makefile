# Two commands on a fresh machine:  `make demo`  (set up, predict, evaluate)  and  `make test`  (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SMS := ../shared/data/sms-spam-collection/SMSSpamCollection

.PHONY: setup tools demo serve test lint model clean

$(BIN)/spam-classifier: pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements-dev.txt -e '.[dev]'
	@touch $@

setup: $(BIN)/spam-classifier  ## virtualenv with the pinned dependencies

tools: setup  ## the offline AWS stand-ins: Lambda RIE and the SAM CLI
	bash scripts/tools.sh

demo: setup  ## predictions with the shipped model, then a 5-fold evaluation on the SMS corpus
	$(BIN)/spam-classifier predict "WINNER!! Claim your free iPhone now" "Are we still on for lunch tomorrow?"
	$(BIN)/spam-classifier evaluate --data sms:$(SMS) --cv 5

test: tools  ## the whole test suite, lint included
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

model: setup  ## rebuild the shipped default model (fixed seeds): SMS + SpamAssassin
	$(BIN)/spam-classifier train --data sms:$(SMS) --data spamassassin --out build/default-model
	rm -rf src/spam_classifier/models/default && cp -r build/default-model src/spam_classifier/models/default

clean:
	rm -rf $(VENV) .tools build .pytest_cache
