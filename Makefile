# agentbox — the README's two commands end up here:
#   ./scripts/deps.sh && make example     build, then run a real example
#   ./scripts/deps.sh && make test        build, then run every test (what .ci/run does)
BUILD     ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS      ?= $(shell nproc)
PREFIX    ?= /usr/local
DESTDIR   ?=
CMAKE_FLAGS ?=
# Warnings are errors in developers' and CI's builds (`make test` and the targets it runs),
# never in a user's or a packager's (`make`, `make install`, `make deb`).
WERROR    ?= OFF

.PHONY: all deps agents configure build test unit integration conformance asan asan-build asan-unit \
        fuzz fuzz-build fuzz-run release example \
        bench install uninstall deb clean format

all: build

deps:
	./scripts/deps.sh

# The real agent CLIs (pinned in tests/agents/package-lock.json) that the real-agent suite
# runs inside agentbox, into $(BUILD)/agents.
agents: deps
	./scripts/agents.sh $(BUILD)

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

configure: $(BUILD)/CMakeCache.txt

build: deps configure
	cmake -S . -B $(BUILD) -DAGENTBOX_WERROR=$(WERROR) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

# Everything: unit tests, integration and conformance as root and as an unprivileged user,
# the sanitizer build's unit tests, and each fuzzer (profile loader, proxy request parser, DNS
# parser, sys, audit log, git index and git config readers) for 60 s. The tests run the Release build (`make release`: -O3,
# NDEBUG, warnings as errors, in build-release), the build packagers make: GCC warns at -O3
# where it does not at -O2, and one build of the tree both checks that and is what every test
# runs (a second build, -O3 only, cost a sixth of CI's CPU). `make`'s build/ is left as it is.
# The sanitizer and fuzz builds only compute, and nothing waits for them until the suites have
# run: they start first, at the lowest priority (nice 19), and take only the CPU the Release
# build leaves (its configure and links, npm installing the real agents beside it), then what
# the suites (tests/run_all.sh), which mostly wait, leave. Their output is printed after the
# suites'; then the sanitizer's unit tests and the fuzzers run (the fuzzers each need a core of
# their own for their 60 s), and last the suites' "N passed, N failed" line again, so that it
# closes the output.
TEST_BUILD = build-release
# The three builds `make test` compiles (release, asan-build, fuzz-build) are unity builds: a
# target's sources compiled 8 to a unit, the headers they share parsed once per unit instead of
# once per source (-45% of the CPU for a third of the Release build, paired: 279 s -> 152 s;
# docs/design-notes.md 79). The sources that cannot share a unit are listed in CMakeLists.txt
# and tests/CMakeLists.txt. `make`'s build/ is not one: an edit there recompiles one source.
UNITY = -DCMAKE_UNITY_BUILD=ON
test: SHELL = /bin/bash
test: deps
	@builds_log=$$(mktemp); suites_log=$$(mktemp); agents_log=$$(mktemp); \
	setsid nice -n 19 $(MAKE) --no-print-directory asan-build fuzz-build \
	  >"$$builds_log" 2>&1 </dev/null & \
	builds=$$!; trap 'kill -- -$$builds 2>/dev/null' INT TERM; \
	./scripts/agents.sh $(TEST_BUILD) >"$$agents_log" 2>&1 </dev/null & agents=$$!; \
	$(MAKE) --no-print-directory release; released=$$?; \
	wait $$agents; agents=$$?; cat "$$agents_log"; \
	suites=1; if [ $$released -eq 0 ] && [ $$agents -eq 0 ]; then \
	  ./tests/run_all.sh $(TEST_BUILD) 2>&1 | tee "$$suites_log"; suites=$${PIPESTATUS[0]}; \
	else echo "==== release build: exit $$released; agents: exit $$agents" | tee "$$suites_log"; fi; \
	wait $$builds; built=$$?; \
	echo "==== sanitizer and fuzz builds (exit $$built)"; cat "$$builds_log"; \
	rest=1; [ $$built -ne 0 ] || { $(MAKE) -k --no-print-directory asan-unit fuzz-run; rest=$$?; }; \
	echo "==== suites: exit $$suites; builds: exit $$built; asan unit tests and fuzzers: exit $$rest"; \
	tail -n 1 "$$suites_log"; rm -f "$$builds_log" "$$suites_log" "$$agents_log"; \
	[ $$suites -eq 0 ] && [ $$built -eq 0 ] && [ $$rest -eq 0 ]

unit: WERROR = ON
unit: build
	ctest --test-dir $(BUILD) -L unit --output-on-failure

asan: asan-build
	$(MAKE) --no-print-directory asan-unit

# Debug info -g1 (line tables and function names): what a sanitizer's stack trace prints
# (function, file:line), for a quarter less CPU than -g's types and variables.
asan-build: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAGENTBOX_SANITIZE=address,undefined \
	  -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DCMAKE_C_FLAGS_DEBUG=-g1 -DAGENTBOX_WERROR=ON $(UNITY) \
	  $(CMAKE_FLAGS)
	cmake --build build-asan -j$(JOBS)

asan-unit:
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ctest --test-dir build-asan -L unit --output-on-failure

# The build packagers make (-O3, NDEBUG), with warnings as errors: GCC warns at -O3 where it
# does not at -O2. Everything (the binary, the unit tests, the probes): `make test` runs it.
release: deps
	cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Release -DAGENTBOX_WERROR=ON $(UNITY) \
	  $(CMAKE_FLAGS)
	cmake --build $(TEST_BUILD) -j$(JOBS)

fuzz: fuzz-build
	$(MAKE) --no-print-directory fuzz-run

# Every fuzzer (tests/fuzz/fuzz_*.cpp: the target `fuzzers`), with the ab_* code it reaches
# instrumented for coverage, ASan and UBSan alike; -g1 as the sanitizer build.
fuzz-build: deps
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DAGENTBOX_FUZZ=ON \
	  -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DCMAKE_C_FLAGS_DEBUG=-g1 -DAGENTBOX_WERROR=OFF $(UNITY) \
	  $(CMAKE_FLAGS)
	cmake --build build-fuzz -j$(JOBS) --target fuzzers

fuzz-run:
	./tests/fuzz/run.sh build-fuzz $${FUZZ_SECONDS:-60}

example: build
	./examples/quickstart.sh $(BUILD)/agentbox

bench: build
	./bench/run.sh $(BUILD)/agentbox

# The binary, the built-in profiles (share/agentbox/profiles, for reading: the binary carries
# its own copy), the man pages and the bash, zsh and fish completions. Builds only what it
# installs. DESTDIR stages the tree elsewhere, as packagers do.
install: deps configure
	cmake --build $(BUILD) -j$(JOBS) --target installables
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)
	printf '%s\n' "$(DESTDIR)" > $(BUILD)/install_destdir

# A Debian package of the same files, under /usr: $(BUILD)/agentbox_VERSION_ARCH.deb.
deb: deps configure
	cmake --build $(BUILD) -j$(JOBS) --target installables
	cd $(BUILD) && cpack -G DEB

# Removes what the last `make install` from $(BUILD) installed, and agentbox's own data
# directory once empty. cmake's install_manifest.txt lists the files without DESTDIR: the
# DESTDIR of that install was recorded next to it, and is the one used here whatever this
# command line says, so that removing a staged tree can never remove the system's files.
uninstall:
	@test -f $(BUILD)/install_manifest.txt || { echo "nothing installed from $(BUILD)"; exit 1; }
	d=$$(cat $(BUILD)/install_destdir 2>/dev/null); \
	sed "s|^|$$d|" $(BUILD)/install_manifest.txt | xargs -d '\n' rm -f && \
	sed -n "s|^\(.*/agentbox/profiles\)/[^/]*$$|$$d\1|p" $(BUILD)/install_manifest.txt | sort -u | \
	  while read -r p; do rmdir "$$p" "$${p%/profiles}" 2>/dev/null || true; done
	rm -f $(BUILD)/install_manifest.txt $(BUILD)/install_destdir

format:
	find src tests -name '*.[ch]pp' | xargs clang-format -i

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-release
