# Test lab for Yu Zhao's arm64 split PMD page-table lock series on Linux 6.1.
# `make help` lists the targets and the variables; README.md explains them.
# The variables (CONFIG, STEP, PLANS, TIMEOUT, ...) are read, defaulted and
# checked by ptlab, the lab's host tool: make only passes them on.

export PTLAB := $(CURDIR)/build/harness/ptlab

.PHONY: help deps source harness kernel stress rootfs run shell test test-full check lint matrix mutants bisect bench compare fresh-check lava-up lava-down test-lava clean distclean

help:
	@echo "make deps       install Debian packages, fetch busybox-static:arm64"
	@echo "make run        build what is missing, boot CONFIG at STEP, run PLANS, report"
	@echo "make shell      interactive shell in the same guest"
	@echo "make test       everything the CI checks; ends with 'N passed, N failed'"
	@echo "make source     build/linux: pristine, series-base, series-head"
	@echo "make kernel     build CONFIG at STEP (FLAVOUR=debug)"
	@echo "make rootfs     the guest initramfs (and the stress tool in it)"
	@echo "make harness    the host tool (ptlab) and its unit tests"
	@echo "make check      host-only checks: unit tests, patches, configs, lint"
	@echo "make test-full  make test on every config"
	@echo "make matrix     every step x every config: build, boot, plans; table, JSON, JUnit"
	@echo "make mutants    [MUTANTS=<names>] [CONFIGS=<names>] each known-bad patch of tests/mutants: must be caught as stated"
	@echo "make bisect     GOOD=<rev> BAD=<rev> CONFIG=<name> PLANS=<plans> [SERIES=<dir>]"
	@echo "make bench      series-base vs series-head fault throughput and lock contention (CONFIG)"
	@echo "make compare    [A=<results> B=<results>] what changed between two runs (default: the last two)"
	@echo "make lava-up    a local LAVA instance (root; LAVA_DEVICES=2): then make matrix ENGINE=lava"
	@echo "make lava-down  stop what make lava-up started"
	@echo "make test-lava  lava-up, two cells through LAVA and locally: the verdicts must agree"
	@echo "make fresh-check  make deps, builds and a boot inside a clean Debian 12 root (root only)"
	@echo "configs: $(notdir $(basename $(wildcard configs/geometry/*.config)))"
	@if [ -x "$(PTLAB)" ]; then echo "variables (default):"; "$(PTLAB)" knobs; \
	else echo "variables: 'make harness', then 'make help' lists them"; fi

deps:
	@scripts/deps.sh

source: deps harness
	@scripts/source.sh

harness: deps
	@scripts/harness.sh

kernel: source harness
	@"$(PTLAB)" kernel >/dev/null

stress: deps
	@scripts/stress.sh

rootfs: source stress
	@scripts/rootfs.sh >/dev/null

run: source harness
	@"$(PTLAB)" run

shell: source harness
	@"$(PTLAB)" run --shell

# The checks are tests/checks.json, run in order by ptlab (ptlab test --list).
check: source harness
	@"$(PTLAB)" test --host-only

test: deps harness
	@"$(PTLAB)" test

test-full: deps harness
	@"$(PTLAB)" test --full

matrix: source harness
	@"$(PTLAB)" matrix

mutants: source harness
	@"$(PTLAB)" mutants

lava-up: harness
	@scripts/lava-up.sh

lava-down: harness
	@scripts/lava-down.sh

# The "lava: " rows of make test-full: lava-up, the engines agree, lava-down.
test-lava: deps harness
	@"$(PTLAB)" test --full --only '^lava: '

bisect: source harness
	@"$(PTLAB)" bisect

bench: source harness
	@"$(PTLAB)" bench

compare: harness
	@"$(PTLAB)" compare

fresh-check: kernel
	@scripts/fresh-machine.sh

lint:
	@scripts/lint.sh

clean:
	rm -rf build/out build/runs build/rootfs build/harness build/results

distclean:
	rm -rf build
