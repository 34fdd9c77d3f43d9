# Hromada Lab: the commands the README names.
#   make demo   the main job: prepare this machine as a lab server (what the service needs,
#               nothing more), build the base image, bring up the sample lab, serve the API
#               and web page on http://127.0.0.1:$(PORT)/
#   make test   the whole test suite (what .ci/run calls), with the development tools
SHELL := /bin/bash
VENV := .venv
TOOLS := .tools
LAB := $(VENV)/bin/lab
PYTEST := $(VENV)/bin/pytest
NS ?= hromada
PORT ?= 8080
DEMO_PROFILE ?= profiles/rural-hromada.yaml
# The profiles whose role images the integration tests boot.
TEST_PROFILES := profiles/stack.yaml profiles/role-sets.yaml profiles/rural-hromada.yaml
export LAB_HOME ?= /var/lib/hromada-lab

.PHONY: setup server image test-images lint unit test demo demo-down

# Development and tests: the host playbook with the linters, browser, vagrant, [dev] extras.
setup:
	bash scripts/setup-host.sh

# A lab server: the host playbook, the service's needs only.
server:
	bash scripts/setup-host.sh --server

# The base image of every lab machine (the only steps that need the Debian mirror are this
# and `lab prepare`, which bakes roles' packages onto it).
image:
	$(LAB) image build images/debian-12.yaml

# The base and role images the tests boot, and the vendor appliance the appliance tests
# import (built from the Debian mirror like a vendor would ship one; cached by its recipe).
test-images: setup image
	for p in $(TEST_PROFILES); do $(LAB) prepare $$p || exit 1; done
	$(VENV)/bin/python -m tests.appliances.vendor $(LAB_HOME)/test-appliances

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy lab api tests bench
	$(TOOLS)/bin/yamllint --strict playbooks/
	PATH=$(CURDIR)/$(TOOLS)/bin:$$PATH ansible-lint --offline playbooks/
	VAGRANT_DEFAULT_PROVIDER=libvirt VAGRANT_CHECKPOINT_DISABLE=1 vagrant validate

# Pure and driver tiers only: no root, no namespace, no guests.
unit: setup
	$(PYTEST) -m "not integration"

# Everything: lint, then all tiers inside a fresh network namespace whose libvirt starts
# from pristine state, prepared only by the host playbook (scripts/labns run); the heaviest
# module runs beside the rest (scripts/test-streams).
test: lint test-images
	mkdir -p artifacts && : > artifacts/test-timings.log
	LABNS_PURGE_PREFIX=hlt- LABNS_SERVERS=2 scripts/labns run env LAB_REQUIRE_INTEGRATION=1 \
	  LAB_TEST_TIMINGS=$(CURDIR)/artifacts/test-timings.log PYTEST=$(PYTEST) \
	  scripts/test-streams --durations=25

demo: server
	$(MAKE) image
	$(LAB) prepare $(DEMO_PROFILE)
	scripts/labns up $(NS)
	scripts/labns exec $(NS) $(LAB) host check || true
	scripts/labns exec $(NS) $(LAB) status demo >/dev/null 2>&1 || \
	  scripts/labns exec $(NS) $(LAB) up $(DEMO_PROFILE) --name demo
	scripts/demo-serve.sh $(NS) $(PORT)

demo-down:
	scripts/demo-serve.sh --stop $(NS)
	if [ -e /run/hromada-labns/$(NS)/mnt ]; then scripts/labns exec $(NS) $(LAB) down --all; fi
	scripts/labns down $(NS)
