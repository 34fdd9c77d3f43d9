# Hromada Lab: the commands the README names.
#   make demo   the main job: set up the host, build the base image, bring up a sample lab,
#               serve the API and web page on http://127.0.0.1:$(PORT)/
#   make test   the whole test suite (what .ci/run calls)
SHELL := /bin/bash
VENV := .venv
TOOLS := .tools
LAB := $(VENV)/bin/lab
PYTEST := $(VENV)/bin/pytest
NS ?= hromada
PORT ?= 8080
DEMO_PROFILE ?= profiles/rural-hromada.yaml
export LAB_HOME ?= /var/lib/hromada-lab

.PHONY: setup image lint unit test demo demo-down

setup:
	bash scripts/setup-host.sh

# The base image, and the role images the tests' stack profile boots (`lab prepare` bakes
# the roles' packages in; this is the only step that needs the Debian mirror).
image: setup
	$(LAB) image build images/debian-12.yaml
	$(LAB) prepare profiles/stack.yaml

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

# Everything: lint, then all tiers inside a fresh network namespace with its own libvirtd.
test: lint image
	LABNS_PURGE_PREFIX=hlt- scripts/labns run env LAB_REQUIRE_INTEGRATION=1 $(PYTEST)

demo: image
	$(LAB) prepare $(DEMO_PROFILE)
	scripts/labns up $(NS)
	scripts/labns exec $(NS) $(LAB) host check || true
	scripts/labns exec $(NS) $(LAB) status demo >/dev/null 2>&1 || \
	  scripts/labns exec $(NS) $(LAB) up $(DEMO_PROFILE) --name demo
	scripts/demo-serve.sh $(NS) $(PORT)

demo-down:
	scripts/demo-serve.sh --stop $(NS)
	scripts/labns exec $(NS) $(LAB) down --all || true
	scripts/labns down $(NS)
