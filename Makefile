# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DB ?= data/demo.db
PORT ?= 8800

.PHONY: install demo test lint fixtures mirror serve bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: install  ## serve the local mirror, crawl every paper into $(DB), say how to browse it
	$(PY) -m crawler demo --db $(DB)

test: install  ## the whole suite (real Scrapy engine, real HTTP on loopback, real SQLite)
	$(PY) -m pytest -q
	$(VENV)/bin/ruff check .

lint: install
	$(VENV)/bin/ruff check .

fixtures: install  ## regenerate mirror pages and golden outputs; review `git diff` before committing
	$(PY) -m crawler fixtures all

mirror: install  ## serve the mirror on $(PORT) for manual crawls: MIRROR_URL=http://127.0.0.1:$(PORT)
	$(PY) -m crawler mirror --port $(PORT)

serve: install  ## open the demo database in Datasette
	$(VENV)/bin/datasette $(DB) -h 127.0.0.1

bench: install  ## benchmarks/ : extraction vs trafilatura, ratios in one run
	$(PY) benchmarks/bench_extract.py

clean:
	rm -rf data/demo.db* .pytest_cache
