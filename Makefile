# Two commands on a fresh machine: `make demo` (install + train on the embedded digits set)
# and `make test`. torch is pinned to the CPU wheel: an unpinned one pulls a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo train-demo test unit lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/hourglass compare --out runs/compare
	@echo "open runs/compare/report.html"

train-demo: $(STAMP)
	$(BIN)/hourglass train --task denoise --dataset digits --skip-dim 256 --inner-dim 32 \
	    --depth 4 --input-proj fixed --lr 3e-3 --out runs/demo --resume
	@echo "run directory: runs/demo (samples.png shows noisy / denoised / clean)"

# two workers, each test file on one (its module fixtures shared), the longest files first
# (tests/conftest.py, LONGEST_FILES): on a busy 2-core machine the suite takes 0.73x the time
# of one worker
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=15

# the unit tier, seconds: what to run after every change
unit: $(STAMP)
	$(BIN)/python -m pytest -q -m "not integration"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench studies

clean:
	rm -rf $(VENV) runs .pytest_cache
