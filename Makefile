# Debunk developer commands. `make run` and `make test` work on a fresh machine with nothing but the repo.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format setup demo screenshots stack stack-stop lock messages clean ci

$(STAMP): requirements/base.txt requirements/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	touch $(STAMP)

setup: $(STAMP)

# debunk.settings applies the production rules unless DEBUG is on: the local demo, its server and the
# translation commands run in development mode (the test run sets it itself, in tests/settings.py).
demo run messages: export DEBUG = 1

demo: $(STAMP)
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py search_reindex
	$(BIN)/python manage.py create_demo_users
	$(BIN)/python manage.py publish_report weekly

run: demo
	@echo "Serving on http://$(HOST):$(PORT)/  (admin: http://$(HOST):$(PORT)/admin/)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(STAMP)
	$(BIN)/pytest -rs -n auto; status=$$?; if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

screenshots: $(STAMP)
	$(BIN)/pytest -m browser tests/browser -p no:cacheprovider --screenshots-dir var/screenshots

messages: $(STAMP)
	$(BIN)/python manage.py makemessages -l zh_Hans --ignore '.venv/*' --ignore 'var/*'
	$(BIN)/python manage.py compilemessages -l zh_Hans --ignore '.venv/*'

stack: $(STAMP)
	bash .ci/stack.sh start

stack-stop:
	bash .ci/stack.sh stop

lock:
	rm -rf /tmp/debunk-lock && $(PYTHON) -m venv /tmp/debunk-lock
	/tmp/debunk-lock/bin/pip install --quiet -r requirements/base.in
	(echo "# Generated from base.in by 'make lock'. Do not edit by hand."; /tmp/debunk-lock/bin/pip freeze) > requirements/base.txt
	/tmp/debunk-lock/bin/pip install --quiet -r requirements/dev.in
	(echo "# Generated from dev.in by 'make lock'. Do not edit by hand."; echo "-r base.txt"; \
	  /tmp/debunk-lock/bin/pip freeze | grep -vxFf <(tail -n +2 requirements/base.txt)) > requirements/dev.txt

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) .venv313 var .pytest_cache .ruff_cache
