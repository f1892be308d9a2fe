# Developer commands; see README.md.
PYTHON ?= python3
export PYTHONDONTWRITEBYTECODE = 1

.PHONY: setup test test-engine test-odoo test-faults run lint bench pot screenshots help

help:
	@echo "make setup    install the Python dependencies (and Debian's chromium for the UI tour)"
	@echo "make test     Odoo-free pytest suite, then the addon's Odoo suite when Odoo is installed"
	@echo "make test-faults  crash, concurrency and failing-provider scenarios on real Odoo processes"
	@echo "make run      start Odoo with the addon and demo data on http://localhost:8069"
	@echo "make lint     ruff and pylint-odoo"
	@echo "make bench    the benchmarks of bench/"

setup:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	@tools/install_chromium.sh

test: test-engine test-odoo

test-engine:
	$(PYTHON) -m pytest

test-odoo:
	$(PYTHON) tools/odoo_tests.py

# Real Odoo server processes killed, raced and starved (needs Odoo; skipped loudly without).
test-faults:
	$(PYTHON) tools/run_faults.py

run:
	$(PYTHON) tools/odoo_run.py

lint:
	ruff check .
	ruff format --check .
	$(PYTHON) -m pylint --rcfile=.pylintrc outbound_bulk_messaging

# The translation template, from a fresh database.
pot:
	$(PYTHON) tools/export_pot.py

# docs/*.png from demo data, through the same headless Chromium as the UI tour.
screenshots:
	$(PYTHON) tools/screenshots.py

bench:
	$(PYTHON) bench/bench_render.py
	$(PYTHON) bench/bench_import.py
	$(PYTHON) bench/bench_wizard.py
	$(PYTHON) bench/bench_cost.py
	$(PYTHON) bench/bench_send.py
