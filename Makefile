# Developer commands; see README.md.
PYTHON ?= python3
export PYTHONDONTWRITEBYTECODE = 1

.PHONY: setup test test-engine test-odoo test-faults run lint bench pot screenshots help

help:
	@echo "make setup    install Odoo 18 when missing (ODOO_SRC=<checkout> or a clone), the Python"
	@echo "              dependencies, and Debian's chromium and spamassassin"
	@echo "make test     Odoo-free pytest suite, then the addon's Odoo suite when Odoo is installed"
	@echo "make test-faults  crash, concurrency and failing-provider scenarios on real Odoo processes"
	@echo "make run      Odoo with the addon and demo data on http://localhost:8069 (DB=… PORT=…)"
	@echo "make lint     ruff and pylint-odoo"
	@echo "make bench    the benchmarks of bench/"

setup:
	$(PYTHON) tools/install_odoo.py
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	@tools/install_debian_packages.sh

test: test-engine test-odoo

test-engine:
	$(PYTHON) -m pytest

test-odoo:
	$(PYTHON) tools/odoo_tests.py

# Real Odoo server processes killed, raced and starved (needs Odoo; skipped loudly without).
test-faults:
	$(PYTHON) tools/run_faults.py

# The database is initialised on first use only, then reused as the user left it.
DB ?= outbound_demo
PORT ?= 8069
run:
	$(PYTHON) tools/odoo_run.py --db "$(DB)" --port "$(PORT)"

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
	$(PYTHON) bench/bench_report.py
	$(PYTHON) bench/bench_scale.py
