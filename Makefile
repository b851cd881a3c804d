# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BENCH_VENV ?= .venv-bench
PY := $(VENV)/bin/python
DB ?= data/demo.db
PORT ?= 8800
NEWS_DB ?= data/news.db
SITES ?=
REFRESH_ARGS ?=

SERVE_PORT ?= 8001

.PHONY: install demo refresh test lint fixtures mirror serve chromium redis bench soak audit clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: install  ## serve the local mirror, crawl every paper into $(DB), say how to browse it
	$(PY) -m crawler demo --db $(DB)

refresh: install  ## incremental refresh of every paper (or SITES="baolaocai baocantho") into $(NEWS_DB)
	$(PY) -m crawler refresh --db $(NEWS_DB) $(REFRESH_ARGS) $(SITES)

test: install  ## the whole suite (real Scrapy engine, real HTTP on loopback, real SQLite)
	$(PY) -m pytest -q
	$(VENV)/bin/ruff check .

soak: install  ## the long reliability loops: 50 kill -9 points, ten heavy-fault seeds (NEWS_SOAK=1)
	NEWS_SOAK=1 $(PY) -m pytest -q -s tests/test_crash_safety.py tests/test_heavy_faults.py

audit: install  ## known vulnerabilities of the installed packages (pip-audit; needs PyPI's JSON API or OSV)
	$(PY) -m pip install -q pip-audit
	@# --strict: a package that could not be checked fails the audit (pip-audit says "no known
	@# vulnerabilities" even when it reached no vulnerability service at all)
	$(VENV)/bin/pip-audit --local --strict --progress-spinner off || { \
	  echo "audit: failed, or could not check every package (is a vulnerability service reachable?)" >&2; exit 1; }

lint: install
	$(VENV)/bin/ruff check .

fixtures: install  ## regenerate mirror pages and golden outputs; review `git diff` before committing
	$(PY) -m crawler fixtures all

mirror: install  ## serve the mirror on $(PORT) for manual crawls: MIRROR_URL=http://127.0.0.1:$(PORT)
	$(PY) -m crawler mirror --port $(PORT)

serve: install  ## browse and search $(DB) in Datasette on 127.0.0.1:$(SERVE_PORT) (read-only)
	$(PY) -m crawler serve --db $(DB) --port $(SERVE_PORT)

chromium:  ## Debian's Chromium for tests/test_browser.py (apt-get: root, as in CI); nothing when present
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

redis:  ## Debian's redis-server for tests/test_distributed.py (apt-get: root, as in CI); nothing when present
	@command -v redis-server >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

# The extraction peers (pyproject's bench extra) pin older cssselect and python-dateutil: they get a venv of
# their own, used only by bench_extract.py; a failed install only leaves them out of its table.
$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -q -e '.[test]'
	$(BENCH_VENV)/bin/python -m pip install -q -e '.[bench]' || echo "bench: newspaper4k/news-please did not install; bench_extract.py leaves them out" >&2
	touch $@

bench: install $(BENCH_VENV)/.installed  ## benchmarks/: extraction, SQLite, crawl, scale, near-dups, refresh, WARC, distributed, each beside a peer
	$(PY) benchmarks/run_all.py --extract-python $(BENCH_VENV)/bin/python $(BENCH_ARGS)  # BENCH_ARGS=--quick: about a minute

clean:
	rm -rf data/demo.db* .pytest_cache
