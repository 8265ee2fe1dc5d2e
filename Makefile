# spaces-graphql — everything a fresh machine needs, from python3 and make alone.
#
# Dependencies (pyproject.toml) come in three sets, all pinned with hashes and environment
# markers in uv.lock:
#   runtime  [project.dependencies]      make demo, sandbox, serve, schema, test-clients
#   dev      [dependency-groups] dev     make install, test, lint, fmt (what CI runs)
#   bench    [dependency-groups] bench   make bench, bench-check
# uv itself is bootstrapped into .tools/ with `python3 -m venv` + pip (pinned UV_VERSION).
# Each set has its own stamp in .venv/, so moving from one set to another syncs again; a sync
# only adds and updates (--inexact): running the demo in a dev venv keeps the test tools.
# `make clean` then `make demo` gives a venv with the runtime set alone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
UV_VERSION := 0.13.9
UV := $(TOOLS)/bin/uv
UV_STAMP := $(TOOLS)/.uv-$(UV_VERSION)
# uv installs into .venv and never downloads a Python of its own: the machine's python3 only.
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
# --locked: refuse to run when uv.lock is not current with pyproject.toml (run `make lock`).
SYNC := $(UV) sync --locked --inexact --no-default-groups
EXPORT := $(UV) export --locked --no-default-groups --no-emit-project --format requirements-txt \
	--no-header --quiet
EXPORT_HEADER := "\# The runtime set with hashes and markers, exported from uv.lock by make lock (do not edit)."

.PHONY: install install-runtime install-bench demo sandbox serve test test-clients \
	graphiql-assets lint typecheck fmt schema lock lock-check build wheel-check bench \
	bench-check clean

install: $(VENV)/.sync-dev
install-runtime: $(VENV)/.sync-runtime
install-bench: $(VENV)/.sync-bench

$(UV_STAMP):
	rm -rf $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@touch $@

# The venv is made by python3 itself (with pip, for one-off experiments); uv fills it.
$(VENV)/.sync-%: $(UV_STAMP) pyproject.toml uv.lock Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(SYNC) $(if $(filter runtime,$*),,--group $*) || \
	  { echo "make: if uv.lock is stale (pyproject.toml changed), run: make lock" >&2; exit 1; }
	@touch $@

# The upstream dialect of `make demo` and `make sandbox` (docs/dialects.md):
# spaces, spotcap or launch27, e.g. `make demo DIALECT=launch27`.
DIALECT ?= spaces

demo: install-runtime
	$(BIN)/spaces-graphql demo --dialect $(DIALECT)

sandbox: install-runtime
	$(BIN)/spaces-graphql sandbox --dialect $(DIALECT)

serve: install-runtime
	$(BIN)/spaces-graphql serve --profile development

test: install
	$(BIN)/python -m pytest -q

# Apollo Client, graphql-ws and GraphiQL in headless Chromium against a real sandbox + facade
# (installs clients/' npm packages and Debian's chromium as needed; see clients/run.sh).
test-clients: install-runtime
	bash clients/run.sh

# Rebuild the vendored GraphiQL bundles from web/package-lock.json (no CDN at run time).
graphiql-assets:
	cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && node vendor.mjs

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python scripts/schema_check.py

# schema.graphql against the last v* release tag: an undeclared breaking change, or a removal
# without @deprecated first, fails (CHANGELOG.md says how to declare; README: "Schema evolution").
.PHONY: schema-check
schema-check: install
	$(BIN)/python scripts/schema_check.py

typecheck: install
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: install-runtime
	$(BIN)/python -m spaces_graphql.printschema > schema.graphql

# Re-resolve uv.lock after a change to pyproject.toml (keeps every pin it can; `uv lock
# --upgrade-package NAME` moves one), and export the runtime set to requirements.lock
# (hashes + markers, for `pip install --require-hashes -r requirements.lock` deployments).
lock: $(UV_STAMP)
	$(UV) lock
	{ echo $(EXPORT_HEADER); $(EXPORT); } > requirements.lock

# Fails when uv.lock or requirements.lock is not what `make lock` would write.
lock-check: $(UV_STAMP)
	$(UV) lock --check
	{ echo $(EXPORT_HEADER); $(EXPORT); } | cmp -s - requirements.lock || \
	  { echo "requirements.lock is stale: run make lock" >&2; exit 1; }

# The sdist, and the wheel built from it, in dist/.
build: $(UV_STAMP)
	$(UV) build --out-dir dist

# Build, install the wheel into a temp venv outside the checkout, run the demo, query it.
wheel-check: $(UV_STAMP)
	UV=$(abspath $(UV)) $(PYTHON) scripts/wheel_check.py

# Benchmarks (about 7 minutes; loopback only; not part of `make test`). See bench/README.md.
bench: install-bench
	$(BIN)/python -m bench run

bench-check: install-bench
	$(BIN)/python -m bench check

clean:
	rm -rf $(VENV) $(TOOLS) dist build .pytest_cache .mypy_cache .ruff_cache
