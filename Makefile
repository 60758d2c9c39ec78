# Entry points. Everything runs from a fresh Debian 12/13 machine as root.
SHELL := /bin/bash
ENV := source tools/env.sh &&
SCENARIOS ?= preflight default tls faults galaxy amqp slurm relay
# Debian 13 runs the scenarios that cover every role task on the Pulsar host.
TRIXIE_SCENARIOS ?= default tls

.PHONY: setup lint test demo bench clean

setup:  ## install podman, the pinned tooling and the base image(s)
	tools/setup.sh

lint: setup
	$(ENV) yamllint -s . && ansible-lint --profile production && python tools/role_docs.py --check \
		&& antsibull-changelog lint && tools/check_build.sh && tools/sanity.sh

test: lint  ## lint, then every molecule scenario on Debian 12, then TRIXIE_SCENARIOS on Debian 13
	$(ENV) for s in $(SCENARIOS); do molecule test -s $$s || exit 1; done
	$(ENV) export GOP_SUITE=trixie && for s in $(TRIXIE_SCENARIOS); do molecule test -s $$s || exit 1; done

demo: setup  ## deploy the repo-root working dir into a local container and run a job
	tools/demo.sh

bench: setup  ## measure converge and job times into docs/benchmarks.md
	tools/bench.sh

clean:
	$(ENV) for s in $(SCENARIOS); do molecule destroy -s $$s; done
