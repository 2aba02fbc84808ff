# Set-up, tests and the demo. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# System packages the project runs against (tor network, tracker, Privoxy baseline,
# headless browser for the console tests, a JDK for the Elasticsearch test node, Redis for
# probes that split their targets).
APT_PACKAGES := tor opentracker privoxy chromium iproute2 util-linux maven redis-server
ES_VERSION := 9.3.2
ES_CACHE := .cache/elasticsearch
PYTEST_ARGS ?=

.PHONY: setup system-packages venv es-node test test-fast demo lint bench clean

setup: system-packages venv es-node

# Debian would start a system tor and privoxy on the public network when it installs them:
# a temporary policy-rc.d stops any service from starting during the install.
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  made=""; if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; \
	    chmod +x /usr/sbin/policy-rc.d; made=1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; rc=$$?; \
	  [ -n "$$made" ] && rm -f /usr/sbin/policy-rc.d; exit $$rc; \
	fi

$(BIN)/heroes: pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test,lab,coordination]'
	@touch $@

venv: $(BIN)/heroes

# Elasticsearch's own test distribution, fetched before the tests enter the
# loopback-only namespace (they cannot reach any registry from there).
es-node:
	@$(BIN)/python -m heroes.lab.elasticsearch_node fetch --version $(ES_VERSION) --cache $(ES_CACHE) \
	  || echo "elasticsearch test node not available: its tests will say why"

# The suite runs in a network namespace with only loopback up: nothing can leave the machine.
# It includes tests/bench, which runs every benchmark with --smoke (tiny sizes).
test: setup
	$(BIN)/ruff check .
	bash scripts/loopback-only.sh $(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-fast: venv
	bash scripts/loopback-only.sh $(BIN)/python -m pytest -q -m "not tor and not swarm and not elasticsearch and not browser" $(PYTEST_ARGS)

demo: setup
	bash scripts/loopback-only.sh $(BIN)/heroes demo --data-dir var/demo

lint: venv
	$(BIN)/ruff check .

# Benchmarks print figures and ratios against a baseline run in the same process.
bench: venv
	for b in index index_es extract crawl frontier probe discover match video console evidence peers access cluster analysis; do \
	  bash scripts/loopback-only.sh $(BIN)/python -m bench.$$b || exit 1; done

clean:
	rm -rf var .pytest_cache
