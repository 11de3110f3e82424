# binfmtctl: the two commands the README names are `make run` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
BUILD_DEBS := libelf-dev libsystemd-dev pkg-config
# bench/ (its smoke run is part of `make test`): valgrind for callgrind, binutils for objcopy,
# pax-utils for scanelf, time for peak RSS, python3 for the harness.
BENCH_DEBS := systemd qemu-user-static binutils util-linux file valgrind pax-utils time python3
# mmdebstrap builds the arm64 root file system scan is tested on (make fixtures).
# man-db and groff-base render the man page in a test.
# zsh and fish load the generated completion scripts in a test (bash needs no bash-completion).
# python3-venv holds kubernetes-validate (from PyPI), which checks deploy/kubernetes/ offline.
TEST_DEBS := $(BUILD_DEBS) $(BENCH_DEBS) hyperfine ca-certificates debian-archive-keyring mmdebstrap man-db groff-base python3-venv zsh fish
BIN := .build/release/binfmtctl
# systemtests/containers (make test-containers): Debian's podman with crun, docker.io with runc,
# rootlesskit for dockerd --rootless's proxy, uidmap for the sandbox's 65,536 ids; qemu-user-static
# for the foreign images; iproute2 brings up lo in the sandbox's network namespace (installed by
# make test-containers and test-image, which .ci/run runs after make test).
CONTAINER_DEBS := podman crun conmon docker.io containerd runc rootlesskit uidmap qemu-user-static iproute2
# make image: buildah builds the Containerfile (no container runs: FROM scratch, COPY only);
# binutils strips the binary; libelf1 goes into the image. test-image also needs catatonit
# (the pause process of `podman kube play`'s pod) and python3-yaml (the pod template).
IMAGE_DEBS := buildah binutils qemu-user-static libelf1
IMAGE_TEST_DEBS := $(CONTAINER_DEBS) catatonit python3-yaml
IMAGE_DIR := .build/image
# The validator of deploy/kubernetes/, pinned, in a venv of its own (cached; flock'd so that
# parallel makes install it once).
KUBE_VALIDATE_VERSION := 1.37.0
KUBE_VENV := .build/kubernetes-validate
KUBE_VALIDATE := $(KUBE_VENV)/bin/kubernetes-validate

.PHONY: all deps test-deps buildinfo build release man run test lint format test-reboot test-openrc test-containers image test-image validate-manifests fixtures binfmt.d units bench bench-smoke clean install uninstall deb test-deb

all: release

# Installs Debian packages only when one is missing (apt-get update first, as Debian wants).
define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call apt_install,$(BUILD_DEBS))

test-deps:
	$(call apt_install,$(TEST_DEBS))

# The commit --version names, rewritten only when it changes (so nothing else recompiles); build_info.c
# is touched with it, since a build made before commit.h existed (__has_include) does not depend on it.
buildinfo:
	@c=$$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown); \
	line="#define BCTL_COMMIT \"$$c\""; \
	[ "$$(cat Sources/CBuildInfo/commit.h 2>/dev/null)" = "$$line" ] || { echo "$$line" > Sources/CBuildInfo/commit.h; \
	  touch Sources/CBuildInfo/build_info.c; }

build: deps buildinfo
	$(SWIFT) build

# Static Swift runtime: the binary links only libc, libstdc++ and libgcc_s (libelf and libsystemd are
# dlopened when a command needs them), so it can be
# copied into an image or VM without a Swift toolchain (the reboot and OpenRC tests do).
RELEASE_FLAGS := -c release --static-swift-stdlib

release: deps buildinfo
	$(SWIFT) build $(RELEASE_FLAGS)

# The binary, binfmtctl(1), bash/zsh/fish completions and the systemd unit (not enabled:
# `binfmtctl persist` enables it) at their FHS places for PREFIX, under DESTDIR; uninstall removes
# exactly what install wrote (its manifest, PREFIX/share/binfmtctl/install-manifest). Directories:
# BINDIR MANDIR SYSTEMDUNITDIR BASHCOMPDIR ZSHCOMPDIR FISHCOMPDIR override (scripts/install.sh).
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_ENV = BIN='$(CURDIR)/$(BIN)' PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)' \
  $(foreach v,BINDIR MANDIR SYSTEMDUNITDIR BASHCOMPDIR ZSHCOMPDIR FISHCOMPDIR MANIFEST,$(if $($(v)),$(v)='$($(v))'))

install: release
	$(INSTALL_ENV) scripts/install.sh install

uninstall:
	$(INSTALL_ENV) scripts/install.sh uninstall

# binfmtctl_<version>_amd64.deb (scripts/build-deb.sh): the release binary stripped, the files
# `make install` installs under /usr (the unit in /lib/systemd/system), Depends from dpkg-shlibdeps
# plus libelf1, Recommends qemu-user-static; lintian must report no error.
DEB_DEBS := dpkg-dev lintian binutils
DEB := binfmtctl_$(shell sed -n 's/.*static let version = "\(.*\)"/\1/p' Sources/BinfmtCommands/BuildInfo.swift)_amd64.deb

deb: release
	$(call apt_install,$(DEB_DEBS))
	BIN=$(CURDIR)/$(BIN) scripts/build-deb.sh

# The .deb on a fresh Debian 12 minbase (mmdebstrap, cached in .fixtures/) in systemd-nspawn:
# apt-get install ./$(DEB), arch list, inspect, status, then purge and nothing left.
test-deb: deb
	$(call apt_install,mmdebstrap systemd-container debian-archive-keyring)
	systemtests/deb/run.sh $(DEB)

# The main job, safely on this machine (scripts/demo.sh): foreign busyboxes registered and run in a
# private binfmt_misc (scripts/binfmt-sandbox.sh, never the host's table), probe, inspect, doctor,
# then the commands for the real host. Emulators: the host's qemu-user-static, else Debian's package
# unpacked into .fixtures/qemu (not installed).
run: release
	$(call apt_install,ca-certificates debian-archive-keyring)
	BIN=$(BIN) scripts/demo.sh

# Foreign binaries (busybox, hello) and, for `scan`, a Debian arm64 root file system; both cached.
fixtures: test-deps
	scripts/fetch-fixtures.sh
	scripts/fetch-rootfs.sh

# Regenerates the committed binfmt.d/ files (host-independent: every architecture).
binfmt.d: release
	$(BIN) generate --all --include-native --output binfmt.d

# swift-format ships with the toolchain; .swift-format is the project's style.
FORMAT_PATHS := Sources Tests Package.swift

lint:
	$(SWIFT) format lint --strict --recursive --parallel $(FORMAT_PATHS)

format:
	$(SWIFT) format --in-place --recursive --parallel $(FORMAT_PATHS)

test: test-deps fixtures lint buildinfo validate-manifests
	$(SWIFT) build --build-tests -Xswiftc -warnings-as-errors
	$(SWIFT) build $(RELEASE_FLAGS) -Xswiftc -warnings-as-errors
	BINFMTCTL=$(CURDIR)/.build/debug/binfmtctl BINFMTCTL_RELEASE=$(CURDIR)/$(BIN) $(SWIFT) test --skip-build
	BINFMTCTL=$(CURDIR)/$(BIN) bench/run.sh --smoke
	fuzz/run.sh 20000

# The real reboot: a Debian 12 VM under qemu-system-x86_64 (TCG), three boots.
# The guest installs the .deb (dpkg -i), so persist enables the packaged unit over sd-bus.
test-reboot: deb fixtures
	$(call apt_install,mmdebstrap qemu-system-x86 qemu-utils e2fsprogs)
	BINFMTCTL_DEB=$(CURDIR)/$(DEB) systemtests/reboot/run.sh

# OpenRC boot in systemd-nspawn with a private binfmt_misc (Linux 6.7+; 77 = skipped, said loudly).
test-openrc: release fixtures
	$(call apt_install,mmdebstrap systemd-container)
	BINFMTCTL_STATIC=$(CURDIR)/$(BIN) systemtests/openrc/run.sh

# binfmtctl(1), generated from the command definitions (scripts/gen-man.py, man/sections.man).
man: release
	mkdir -p .build/man
	scripts/gen-man.py $(BIN) > .build/man/binfmtctl.1.tmp && mv .build/man/binfmtctl.1.tmp .build/man/binfmtctl.1
	@echo "man -l .build/man/binfmtctl.1"

# Foreign images in podman (crun) and docker (runc), each engine in a private binfmt_misc sandbox:
# fails before install, runs after; each failure mode's exact engine message against
# Tests/Fixtures/engine-messages.tsv (77 = skipped, said loudly). BINFMTCTL_STATIC overrides
# the binary (e.g. a prebuilt one, without building).
test-containers: fixtures
	$(call apt_install,$(CONTAINER_DEBS))
	@if [ -z "$(BINFMTCTL_STATIC)" ]; then $(MAKE) release; fi
	BINFMTCTL_STATIC=$(or $(BINFMTCTL_STATIC),$(CURDIR)/$(BIN)) systemtests/containers/run.sh

# binfmtctl's container image (Containerfile, FROM scratch): the stripped release binary, its
# libraries and Debian's qemu-user-static, built with buildah in storage under $(IMAGE_DIR);
# saved as $(IMAGE_DIR)/binfmtctl.oci.tar and binfmtctl.docker.tar (podman load / docker
# load). QEMU_TARGETS="aarch64 arm riscv64" limits the emulators (default: all).
image: release
	$(call apt_install,$(IMAGE_DEBS))
	scripts/build-image.sh $(BIN) $(IMAGE_DIR) $(QEMU_TARGETS)

# The image in podman and docker inside the binfmt_misc sandbox, used like tonistiigi/binfmt,
# the only-mount case, and deploy/kubernetes/'s pod template under `podman kube play`
# (systemtests/containers/run.sh --suite image; 77 = skipped, said loudly).
test-image: fixtures image
	$(call apt_install,$(IMAGE_TEST_DEBS))
	BINFMTCTL_STATIC=$(CURDIR)/$(BIN) BINFMTCTL_IMAGE_DIR=$(CURDIR)/$(IMAGE_DIR) systemtests/containers/run.sh --suite image

$(KUBE_VALIDATE):
	@mkdir -p .build
	flock .build/kubernetes-validate.lock sh -c 'test -x $(KUBE_VALIDATE) || { rm -rf $(KUBE_VENV) && python3 -m venv $(KUBE_VENV) && $(KUBE_VENV)/bin/pip install -q kubernetes-validate==$(KUBE_VALIDATE_VERSION) || { rm -rf $(KUBE_VENV); exit 1; }; }'

# deploy/kubernetes/ against the Kubernetes schemas, offline and strict (make test runs it).
validate-manifests: $(KUBE_VALIDATE)
	scripts/validate-manifests.sh $(KUBE_VALIDATE)

# Regenerates units/ from the texts `persist` installs.
units: build
	.build/debug/binfmtctl _unit systemd > units/binfmtctl.service
	.build/debug/binfmtctl _unit openrc > units/openrc/binfmtctl

# The benchmark suite (bench/RESULTS.md, a few minutes; not part of .ci/run). bench-smoke: one
# short round of each bench, seconds; fails if a benchmarked command fails (make test runs it).
bench: release fixtures
	$(call apt_install,$(BENCH_DEBS))
	BINFMTCTL=$(CURDIR)/$(BIN) bench/run.sh

bench-smoke: release fixtures
	$(call apt_install,$(BENCH_DEBS))
	BINFMTCTL=$(CURDIR)/$(BIN) bench/run.sh --smoke

clean:
	rm -rf .build

# libFuzzer targets in fuzz/ (fuzz/RESULTS.md): each runs FUZZ_RUNS executions on its seeds;
# one line per target (runs, seconds, exec/s, coverage); fails on any crash, whose input is
# kept in .build-fuzz/crashes/. Builds in .build-fuzz, never .build.
.PHONY: fuzz fuzz-smoke
FUZZ_RUNS ?= 1000000

fuzz:
	fuzz/run.sh $(FUZZ_RUNS)

# Quick: 20000 runs per target.
fuzz-smoke:
	fuzz/run.sh 20000
