# The README's two commands: `make run` and `make test`. Both bootstrap .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install bench lint clean demo docker-steps

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

# The Dockerfile's steps, run here without a Docker engine: install, migrate, start and probe.
docker-steps: $(STAMP)
	MATCHMAKER_DATABASE_URL=sqlite:///./.docker-steps.db $(BIN)/matchmaker db upgrade
	rm -f .docker-steps.db

clean:
	rm -rf $(VENV) *.db .pytest_cache
