# Two commands for a newcomer: `make demo` (install + render a demo) and `make test` (install + run the tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
BASE   := $(VENV)/.base
STAMP  := $(VENV)/.installed

.PHONY: install demo studio test test-slow lint bench docs docs-serve clean

# Two layers: what `make demo` needs (the package on TensorFlow, the offline nets), then the rest of [dev] for the
# tests. scripts/install.py installs with uv (pip's settings passed on; pip where uv cannot be had), in under half
# pip's time. The first layer is compiled to bytecode there: where PYTHONDONTWRITEBYTECODE is set nothing writes it
# later, and every process compiled TensorFlow's modules again (`import tensorflow` 12.7 s against 4.9). The
# second is not (`make test` imports about a third of its files): the targets that run it write the bytecode of
# what they import (WRITE_BYTECODE), once.
INSTALL := $(BIN)/python scripts/install.py
WRITE_BYTECODE := PYTHONDONTWRITEBYTECODE=
$(BASE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(INSTALL) -e ".[tensorflow]"
	# musicnn (installed without its numpy<1.17 pin) and the offline nets converted: what `mmdream models setup` does.
	$(BIN)/mmdream models setup
	touch $(BASE)

$(STAMP): $(BASE)
	$(INSTALL) --no-compile -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(BASE)
	$(BIN)/python scripts/demo.py

studio: install
	$(WRITE_BYTECODE) $(BIN)/mmdream serve

# Two steps: everything but the checks of time and speed, across $(WORKERS) processes, groups in the order
# tests/conftest.py gives (GROUP_ORDER); then those alone (`serial`).
# Both always run; the first failure's status is make's.
WORKERS ?= 2
test: install
	$(WRITE_BYTECODE) $(BIN)/python -m pytest -m "not slow and not serial" -q -n $(WORKERS) --dist loadgroup \
	  --no-loadscope-reorder --durations=30; first=$$?; \
	$(WRITE_BYTECODE) $(BIN)/python -m pytest -m "serial and not slow" -q --durations=10; second=$$?; \
	exit $$(( first ? first : second ))

test-slow: install
	$(WRITE_BYTECODE) $(BIN)/python -m pytest -m slow -q

# The manual into site/, strictly (a warning or a broken link fails it); its gallery is dreamed from ../shared/media.
docs: install
	$(WRITE_BYTECODE) NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: docs
	$(WRITE_BYTECODE) NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --strict

lint: install
	$(BIN)/ruff check mmdream tests scripts

bench: install
	$(WRITE_BYTECODE) $(BIN)/python scripts/bench.py --quick

clean:
	rm -rf $(VENV) demo-output .pytest_cache site docs/gallery
