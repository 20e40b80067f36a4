# `make run`: set everything up (.venv, Python and npm packages, database, demo data) and
# serve the portal at http://127.0.0.1:5000.  `make test`: the whole test suite, on every
# core (pytest-xdist; `make test TEST_WORKERS=0` runs it in one process, TEST_WORKERS=3 on
# three). PYTEST_ARGS adds pytest options: `make test PYTEST_ARGS="-m 'not browser'"`.
VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
FLASK   := $(BIN)/flask --app wsgi
VENDOR  := portal/static/vendor
TEST_WORKERS ?= auto

.PHONY: run setup test test-browser lint format migrate demo clean screens

run: setup migrate demo
	$(FLASK) run --host 127.0.0.1 --port 5000

setup: $(VENV)/.installed $(VENDOR)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 ou plus récent est requis.")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

# npm ci also installs the development dependencies: axe-core, which the browser tests
# inject into every page they visit (tests/browser/conftest.py); it is not served.
$(VENDOR)/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm est requis (paquet Debian npm, ou Node.js)."; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@test -f node_modules/axe-core/axe.min.js || { echo "axe-core manque après npm ci."; exit 1; }
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/
	cp node_modules/@picocss/pico/css/pico.min.css $(VENDOR)/
	mkdir -p $(VENDOR)/swagger-ui
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/swagger-ui/
	@touch $@

migrate: setup
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo seed

test: setup
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

test-browser: setup
	$(BIN)/pytest tests/browser $(PYTEST_ARGS)

# Screenshots of the README (docs/screens/), on a fresh demo: `make screens`.
screens: setup
	$(BIN)/python scripts/screens.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) node_modules $(VENDOR)
