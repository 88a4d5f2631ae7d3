# Two commands do everything on a fresh clone with python3 and make:
#   make demo   builds the virtualenv and a demo province, then serves the dashboard
#   make test   installs what the tests need and runs them all
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench bench-import bench-report bench-web bench-predict bench-scale screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/tthc demo

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check tracker web jobs cli tests bench

bench: $(VENV)/.installed
	$(BIN)/python bench/due_dates.py

bench-import: $(VENV)/.installed-test
	$(BIN)/python bench/import_csv.py

bench-report: $(VENV)/.installed
	$(BIN)/python bench/report.py

bench-web: $(VENV)/.installed-test
	$(BIN)/python bench/web.py

# 10,000,000 dossiers on PostgreSQL ($$TTHC_BENCH_PG_URL, default the tests' server), 1,000,000 on SQLite
# (var/bench/), built once and reused; each figure beside its target. bench/scale.py --help
bench-scale: $(VENV)/.installed-test
	$(BIN)/python bench/scale.py

screenshots: $(VENV)/.installed-test
	$(BIN)/python scripts/screenshots.py

bench-predict: $(VENV)/.installed
	$(BIN)/python bench/predict.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
