# Test lab for Yu Zhao's arm64 split PMD page-table lock series on Linux 6.1.
# `make help` lists the targets; README.md explains them.

CONFIG ?= 4k-48
STEP ?= series-head
FLAVOUR ?= debug
PLANS ?= boot
V ?= 0
export CONFIG STEP FLAVOUR PLANS V

export PTLAB := $(CURDIR)/build/harness/ptlab

.PHONY: help deps source harness kernel rootfs run shell test test-full check lint matrix bisect bench fresh-check clean distclean

help:
	@echo "make deps       install Debian packages, fetch busybox-static:arm64"
	@echo "make run        build what is missing, boot CONFIG at STEP, run PLANS, report"
	@echo "make shell      interactive shell in the same guest"
	@echo "make test       everything the CI checks; ends with 'N passed, N failed'"
	@echo "make source     build/linux: pristine, series-base, series-head"
	@echo "make kernel     build CONFIG at STEP (FLAVOUR=debug)"
	@echo "make rootfs     the guest initramfs"
	@echo "make harness    the host tool (ptlab) and its unit tests"
	@echo "make check      host-only checks: unit tests, patches, configs, lint"
	@echo "make test-full  make test on all four configs"
	@echo "make matrix     every step x every config: build, boot, plans; table, JSON, JUnit"
	@echo "make bisect     GOOD=<rev> BAD=<rev> CONFIG=<name> PLANS=<plans> [SERIES=<dir>]"
	@echo "make bench      series-base vs series-head fault throughput and lock contention (CONFIG)"
	@echo "make fresh-check  make deps, builds and a boot inside a clean Debian 12 root (root only)"
	@echo "variables: CONFIG=$(CONFIG) STEP=$(STEP) FLAVOUR=$(FLAVOUR) PLANS='$(PLANS)' V=$(V)"
	@echo "configs: $(notdir $(basename $(wildcard configs/geometry/*.config)))"

deps:
	@scripts/deps.sh

source: deps harness
	@scripts/source.sh

harness: deps
	@scripts/harness.sh

kernel: source harness
	@scripts/kernel.sh >/dev/null

rootfs: source
	@scripts/rootfs.sh >/dev/null

run: source harness
	@scripts/run.sh

shell: source harness
	@scripts/run.sh --shell

check: source harness
	@scripts/test.sh --host-only

test: deps
	@scripts/test.sh

test-full: deps
	@scripts/test.sh --full

matrix: source harness
	@scripts/matrix.sh

bisect: source harness
	@scripts/bisect.sh

bench: source harness
	@scripts/bench.sh

fresh-check: kernel
	@scripts/fresh-machine.sh

lint:
	@scripts/lint.sh

clean:
	rm -rf build/out build/runs build/rootfs build/harness build/results

distclean:
	rm -rf build
