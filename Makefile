# GPT-2 Provenance: `make demo` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.installed-runtime
SHARED := $(abspath ../shared)
SHARED_MODEL := $(SHARED)/models/gpt2-corpus-27m
SHARED_CORPUS := $(SHARED)/corpus
PYTEST_ARGS ?=

# Use the GPU-trained reference checkpoint beside the repo when present, so the demo need not bootstrap
# for 15 minutes. The product never hard-codes ../shared: this only sets the documented variable.
ifeq ($(origin PROVENANCE_MODEL), undefined)
ifneq ($(wildcard $(SHARED_MODEL)/config.json),)
DEMO_ENV := PROVENANCE_MODEL=$(SHARED_MODEL)
endif
endif
DEMO_CORPUS := $(if $(wildcard $(SHARED_CORPUS)),--corpus $(SHARED_CORPUS),)
SHARED_DETECT := $(SHARED)/data/detect
# Real GPT-2 text (OpenAI's own samples) and WebText human passages. The short WebText passages are left out: they
# are far shorter than every machine text there, and mixing them in unchanged teaches length (the data's README).
SHARED_GPT2 := $(filter-out %short63.jsonl,$(wildcard $(SHARED)/data/gpt2-output/*.jsonl))
DEMO_DETECT := $(if $(wildcard $(SHARED_DETECT)),--detect-data $(SHARED_DETECT),) \
	$(foreach file,$(SHARED_GPT2),--detect-data $(file))
SHARED_TOXICITY := $(SHARED)/data/toxicity
DEMO_TOXICITY := $(if $(wildcard $(SHARED_TOXICITY)),--toxicity-data $(SHARED_TOXICITY),)

export TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS :=
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo dashboard demo-bootstrap test test-slow lint bench docs docs-serve clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,docs]"
	@touch $(STAMP) $(RUNTIME_STAMP)

# What the product needs to run (the demo and dashboard): no test/lint tools.
$(RUNTIME_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	@touch $(RUNTIME_STAMP)

install: $(STAMP)

demo: $(RUNTIME_STAMP)
	$(DEMO_ENV) $(VENV)/bin/provenance demo $(DEMO_CORPUS) $(DEMO_DETECT) $(DEMO_TOXICITY)

# The reviewer dashboard on the demo's data (./.provenance).
dashboard: $(RUNTIME_STAMP)
	$(DEMO_ENV) $(VENV)/bin/provenance dashboard --host 127.0.0.1 --port 8501

# The offline fallback end to end: no reference checkpoint, bootstrap (first run) or reuse (later runs).
demo-bootstrap: $(RUNTIME_STAMP)
	PROVENANCE_HUB_OFFLINE=1 $(VENV)/bin/provenance demo $(DEMO_CORPUS) $(DEMO_DETECT) $(DEMO_TOXICITY)

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

# Slow tests (full demo with a bootstrap, longer training). Exit 5 = nothing selected, not a failure.
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Benchmarks print JSON; each compares against its baseline in the same run (see each script's docstring).
# bench/record.py runs each one unchanged and keeps what it printed, with date, machine and load, in
# bench/recorded/NAME.json: the docs' "Measured numbers" page is generated from those files.
RECORD := $(PY) bench/record.py
bench: $(STAMP)
	$(DEMO_ENV) $(RECORD) bench/generation_speed.py $(if $(wildcard $(SHARED_CORPUS)),--eval-corpus $(SHARED_CORPUS),)
	$(RECORD) bench/watermark_generation.py
	$(RECORD) bench/watermark_detection.py
	$(RECORD) bench/watermark_quality.py
	$(DEMO_ENV) $(RECORD) bench/watermark_attacks.py
	$(RECORD) bench/pii_quality.py --untouched
	$(RECORD) bench/pii_speed.py
	$(RECORD) bench/pii_prose.py
	$(RECORD) bench/pii_forms.py
	$(RECORD) bench/pii_memory.py
	$(DEMO_ENV) $(RECORD) bench/detect_speed.py
	$(DEMO_ENV) $(RECORD) bench/detect_quality.py
	$(DEMO_ENV) $(RECORD) bench/detect_gpt2_output.py
	$(DEMO_ENV) $(RECORD) bench/detect_recipe_speed.py
	$(DEMO_ENV) $(RECORD) bench/memorisation_guard.py --corpus $(SHARED_CORPUS)
	$(DEMO_ENV) $(RECORD) bench/pipeline_throughput.py
	$(DEMO_ENV) $(RECORD) bench/pipeline_reliability.py
	$(RECORD) bench/optimize_scoring.py $(if $(wildcard $(SHARED_MODEL)/config.json),--model $(SHARED_MODEL),) \
		$(if $(wildcard .provenance/models/distilled/config.json),--student .provenance/models/distilled,)
	$(DEMO_ENV) $(RECORD) bench/api_verify.py
	$(DEMO_ENV) $(RECORD) bench/api_verify_processes.py
	$(DEMO_ENV) $(RECORD) bench/api_verify_cpu.py
	$(DEMO_ENV) $(RECORD) bench/pipeline_workers_scaling.py
	$(DEMO_ENV) $(RECORD) bench/pipeline_drills.py
	$(RECORD) bench/ledger_scale.py
	$(RECORD) bench/dashboard_queue.py
	$(RECORD) bench/dashboard_decision_latency.py
	$(RECORD) bench/toxicity_quality.py
	$(DEMO_ENV) $(RECORD) bench/toxicity_speed.py
	$(RECORD) bench/toxicity_blocking.py
	$(RECORD) bench/toxicity_first_stage.py

# The documentation site, offline: reference pages are generated from the code at build time (docsgen/), strict
# mode fails on a broken link or a missing page. Torch stays on one thread (the CLI walk imports every command).
DOCS_ENV := NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 PROVENANCE_TORCH_THREADS=1
docs: $(STAMP)
	$(DOCS_ENV) $(VENV)/bin/mkdocs build --strict --site-dir site

docs-serve: $(STAMP)
	$(DOCS_ENV) $(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:8001

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info site
