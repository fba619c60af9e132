# agentbox — the README's two commands end up here:
#   ./scripts/deps.sh && make example     build, then run a real example
#   ./scripts/deps.sh && make test        build, then run every test (what .ci/run does)
BUILD     ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS      ?= $(shell nproc)
PREFIX    ?= /usr/local
DESTDIR   ?=
CMAKE_FLAGS ?=

.PHONY: all deps configure build test unit integration conformance asan fuzz example bench \
        install uninstall clean format

all: build

deps:
	./scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

configure: $(BUILD)/CMakeCache.txt

build: deps configure
	cmake --build $(BUILD) -j$(JOBS)

# Everything: unit tests, integration and conformance as root and as an unprivileged user,
# the sanitizer build's unit and integration tests, and the profile-loader fuzzer for 60 s.
# The suites run last so that their "N passed, N failed" line closes the output.
test: build
	$(MAKE) --no-print-directory asan
	$(MAKE) --no-print-directory fuzz
	./tests/run_all.sh $(BUILD)

unit: build
	ctest --test-dir $(BUILD) -L unit --output-on-failure

asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAGENTBOX_SANITIZE=address,undefined $(CMAKE_FLAGS)
	cmake --build build-asan -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ctest --test-dir build-asan -L unit --output-on-failure

fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DAGENTBOX_FUZZ=ON \
	  -DAGENTBOX_WERROR=OFF $(CMAKE_FLAGS)
	cmake --build build-fuzz -j$(JOBS) --target fuzz_profile
	./tests/fuzz/run.sh build-fuzz $${FUZZ_SECONDS:-60}

example: build
	./examples/quickstart.sh $(BUILD)/agentbox

bench: build
	./bench/run.sh $(BUILD)/agentbox

install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

uninstall:
	@test -f $(BUILD)/install_manifest.txt || { echo "nothing installed from $(BUILD)"; exit 1; }
	xargs -d '\n' rm -f < $(BUILD)/install_manifest.txt

format:
	find src tests -name '*.[ch]pp' | xargs clang-format -i

clean:
	rm -rf $(BUILD) build-asan build-fuzz
