# The README's two commands: `make run` and `make test`. Both bootstrap .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install bench lint clean demo docker-steps fuzz load messages

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

# Extract every UI string (babel.cfg) into the template catalogue and merge it into the Italian
# one: new strings get an empty msgstr to fill in; tests/test_i18n.py lists any left empty.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ --sort-by-file --project=matchmaker \
	  -o matchmaker/locale/messages.pot .
	$(BIN)/pybabel update -i matchmaker/locale/messages.pot -d matchmaker/locale -l it \
	  --no-fuzzy-matching --ignore-obsolete
	$(BIN)/python -m pytest -q tests/test_i18n.py -k "translation or catalogue"

# Load test: 50 members against 100k firms for 60 s on SQLite (seeded once, cached), 2 workers.
# LOAD_ARGS="--backend postgresql --pg-url URL" for PostgreSQL; see benchmarks/load/run.py.
load: $(STAMP)
	$(BIN)/pip install --quiet -e '.[load]'
	$(BIN)/python benchmarks/load/run.py $(LOAD_ARGS)

clean:
	rm -rf $(VENV) *.db .pytest_cache
