# spaces-graphql — everything a fresh machine needs, from python3 and make alone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo sandbox serve test test-clients graphiql-assets lint typecheck fmt schema lock bench bench-check clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: install
	$(BIN)/spaces-graphql demo

sandbox: install
	$(BIN)/spaces-graphql sandbox

serve: install
	$(BIN)/spaces-graphql serve --profile development

test: install
	$(BIN)/python -m pytest -q

# Apollo Client, graphql-ws and GraphiQL in headless Chromium against a real sandbox + facade
# (installs clients/' npm packages and Debian's chromium as needed; see clients/run.sh).
test-clients: install
	bash clients/run.sh

# Rebuild the vendored GraphiQL bundles from web/package-lock.json (no CDN at run time).
graphiql-assets:
	cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && node vendor.mjs

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: install
	$(BIN)/python -m spaces_graphql.printschema > schema.graphql

lock: install
	{ echo "# Pinned, reproducible install set for spaces-graphql (runtime + dev). Regenerate with: make lock"; \
	  $(BIN)/python -m pip freeze --all --exclude-editable | grep -v -E "^(spaces-graphql|pip)=="; } > requirements.lock

# Benchmarks (about 7 minutes; loopback only; not part of `make test`). See bench/README.md.
bench: install
	$(BIN)/python -m bench run

bench-check: install
	$(BIN)/python -m bench check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
