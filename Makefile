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

.PHONY: all deps agents configure build test unit integration conformance asan fuzz release example \
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
# the sanitizer build's unit tests, a Release build (-O3) of the binary, and each fuzzer
# (profile loader, proxy request parser) for 60 s.
# The suites run last so that their "N passed, N failed" line closes the output.
test: WERROR = ON
test: build agents
	$(MAKE) --no-print-directory release
	$(MAKE) --no-print-directory asan
	$(MAKE) --no-print-directory fuzz
	./tests/run_all.sh $(BUILD)

unit: WERROR = ON
unit: build
	ctest --test-dir $(BUILD) -L unit --output-on-failure

asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAGENTBOX_SANITIZE=address,undefined \
	  -DAGENTBOX_WERROR=ON $(CMAKE_FLAGS)
	cmake --build build-asan -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ctest --test-dir build-asan -L unit --output-on-failure

# The build packagers make (-O3, NDEBUG), with warnings as errors: GCC warns at -O3 where it
# does not at -O2. Only the binary: the tests run against the main build.
release: deps
	cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DAGENTBOX_WERROR=ON $(CMAKE_FLAGS)
	cmake --build build-release -j$(JOBS) --target agentbox

fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DAGENTBOX_FUZZ=ON \
	  -DAGENTBOX_WERROR=OFF $(CMAKE_FLAGS)
	cmake --build build-fuzz -j$(JOBS) --target fuzz_profile fuzz_net fuzz_net_dns fuzz_sys fuzz_audit
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
