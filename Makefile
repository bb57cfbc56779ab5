# The README's two commands: `make run` and `make test`. Both bootstrap .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install bench lint clean demo docker-steps fuzz

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/matchmaker serve --demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

lint: $(STAMP)
	$(BIN)/python -m ruff check matchmaker tests

# Fuzz the JSON API from /openapi.json with schemathesis, in-process; stopped after 10 minutes.
# FUZZ_EXAMPLES sets the generated requests per operation.
FUZZ_EXAMPLES ?= 300
fuzz: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,fuzz]'
	MATCHMAKER_FUZZ=1 MATCHMAKER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) timeout 600 \
	  $(BIN)/python -m pytest tests/fuzz $(PYTEST_ARGS)

# The Dockerfile's steps without a Docker engine: install, migrate, warm the refdata cache,
# start the server the way CMD does and probe /healthz and /readyz.
docker-steps: $(STAMP)
	rm -f .docker-steps.db
	MATCHMAKER_DATABASE_URL=sqlite:///./.docker-steps.db $(BIN)/matchmaker db upgrade
	$(BIN)/python -c "import matchmaker.refdata.places as p; p.all_comuni()"
	MATCHMAKER_DATABASE_URL=sqlite:///./.docker-steps.db $(BIN)/matchmaker serve --port 8765 --workers 2 & \
	  pid=$$!; ok=1; for i in $$(seq 1 60); do \
	    if $(BIN)/python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8765/readyz')" 2>/dev/null; then ok=0; break; fi; \
	    sleep 1; done; kill $$pid; wait $$pid 2>/dev/null; rm -f .docker-steps.db*; exit $$ok

clean:
	rm -rf $(VENV) *.db .pytest_cache
