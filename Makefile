# SPDX-License-Identifier: GPL-2.0
#
#   make run     build what is needed, boot the test VM, run a primary and a standby
#                hasyncd, kill the primary mid-stream and show the selective replay
#   make check   lint, host tests, generated-file check, module build, VM selftests
#
# The test kernel is built once per (kernel version, config fragments,
# patches) under $(XDG_CACHE_HOME)/hasync and reused by later runs.

SHELL := /bin/bash
TOP := $(CURDIR)
CARGO ?= cargo
CARGO_FLAGS := --manifest-path $(TOP)/userspace/Cargo.toml
# Resolved lazily: only targets that need the kernel ask for it.
KDIR = $(shell $(TOP)/scripts/kernel-build --print-dir)

.PHONY: all run run-upgrade run-tcp bench check check-long check-debug deps kernel module module-debug userspace \
	prev-release gen gen-check man install uninstall lint test-host selftests clean help

all: module userspace

help:
	@sed -n '3,4p' Makefile

deps:
	@scripts/install-deps

kernel: deps
	@scripts/kernel-build >/dev/null

# W=1 for both C and Rust, and any warning fails the build: the module must
# stay warning-free under the kernel's extra warnings.
module: kernel
	@scripts/module-build >/dev/null

# The same module against the debug kernel (lockdep, kmemleak, KASAN).
module-debug: deps
	@scripts/module-build --variant debug >/dev/null

# hasyncd-fault is hasyncd with the fault-injection points compiled in, for
# the end-to-end tests; the shipped hasyncd has none. Only the hasyncd crate
# is built twice: its dependencies are shared.
userspace: deps
	@$(CARGO) build --release --quiet $(CARGO_FLAGS) -p hasyncd --features fault-injection
	@cp userspace/target/release/hasyncd userspace/target/release/hasyncd-fault
	@$(CARGO) build --release --quiet $(CARGO_FLAGS) --workspace --bins --examples

# The previous release's tools and module, built once from the project's
# history, for the tests that run them against today's module and daemons
# (scripts/selftests asks for them itself).
prev-release: deps kernel
	@scripts/prev-release >/dev/null

gen: deps man
	@scripts/ynl-gen

# The man pages (docs/man) are written from the commands' grammar and the
# example configuration by hasync-man; gen-check proves them current.
man: deps
	@$(CARGO) run --release --quiet $(CARGO_FLAGS) -p hasync-man -- docs/man

gen-check: deps
	@scripts/ynl-gen --check
	@$(CARGO) run --release --quiet $(CARGO_FLAGS) -p hasync-man -- --check docs/man
	@echo "hasync-man: man pages are current"

# The module's Rust in the kernel's rustfmt style (its .rustfmt.toml is
# rustfmt's defaults for edition 2021), from both crate roots.
lint: deps
	@$(CARGO) fmt $(CARGO_FLAGS) --all --check
	@rustfmt --edition 2021 --check kmod/hasync_main.rs kmod/hasync_kunit.rs
	@$(CARGO) clippy --quiet $(CARGO_FLAGS) --workspace --all-targets -- -D warnings

test-host: deps
	@$(CARGO) test --release --quiet $(CARGO_FLAGS) --workspace

selftests: module userspace
	@scripts/selftests

# The selftests again on the debug kernel: any lockdep, KASAN or kmemleak
# report fails them.
check-debug: module-debug userspace
	@HASYNC_KO=$(TOP)/build/debug/kmod/hasync.ko HASYNC_SELFTEST_TIMEOUT=7200 \
		scripts/selftests --variant debug

check: lint test-host gen-check module userspace
	@scripts/install --test
	@scripts/selftests

# Like any system tool: DESTDIR and PREFIX (default /usr/local) are honoured.
PREFIX ?= /usr/local
install: module userspace
	@DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" scripts/install

uninstall:
	@DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" scripts/install --uninstall

# make check with the soaks turned up (hours, not part of the 45-minute
# budget): more simulator seeds, kills, three-unit fault schedules, TCP face
# failovers and moves, and model/module comparisons. Each knob can be set
# from the environment.
check-long: lint gen-check module userspace
	@SIM_SEEDS=$${SIM_SEEDS:-100000} LIFECYCLE_SEEDS=$${LIFECYCLE_SEEDS:-100000} \
		BULK_SIM_SEEDS=$${BULK_SIM_SEEDS:-1000} $(CARGO) test --release --quiet $(CARGO_FLAGS) --workspace
	@HASYNC_KILLS=$${HASYNC_KILLS:-300} HASYNC_SCHEDULES=$${HASYNC_SCHEDULES:-300} \
		HASYNC_TCP_FAILOVERS=$${HASYNC_TCP_FAILOVERS:-200} HASYNC_TCP_MOVES=$${HASYNC_TCP_MOVES:-100} \
		HASYNC_KDIFF_SEEDS=$${HASYNC_KDIFF_SEEDS:-64} HASYNC_KDIFF_STEPS=$${HASYNC_KDIFF_STEPS:-20000} \
		HASYNC_SELFTEST_TIMEOUT=$${HASYNC_SELFTEST_TIMEOUT:-21600} scripts/selftests

# Benchmarks, not tests: figures and ratios measured side by side in the VM.
bench: module userspace
	@scripts/bench

run: module userspace
	@scripts/vm-run --timeout 300 -- scripts/demo

# A rolling upgrade from the previous release to this tree under a stream.
run-upgrade: module userspace prev-release
	@HASYNC_PREV_DIR=$$(scripts/prev-release) scripts/vm-run --timeout 300 -- scripts/demo-upgrade

run-tcp: module userspace
	@scripts/vm-run --timeout 300 -- scripts/demo-tcp

clean:
	@[ ! -d "$(KDIR)" ] || $(MAKE) --no-print-directory -C $(KDIR) M=$(TOP) LLVM=1 clean
	@rm -rf build
	@$(CARGO) clean $(CARGO_FLAGS)
