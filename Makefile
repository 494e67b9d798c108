# The README's commands. Thin wrappers over CMake and CTest.
#   make deps    install the Debian packages that the build and the tests need (only missing ones)
#   make build   configure and build into $(BUILD)
#   make test    deps + build + every test (ctest prints its summary line)
#   make run     deps + build + start the local receiver
#   make clean   remove $(BUILD)
#   make samples re-sign samples/captures/ from samples/bodies/ with the demo secret
#   make install build + install into $(PREFIX): libraries, headers, program, man page, CMake and
#                pkg-config files, the systemd unit (lib/systemd/system/tykhook.service)
#                (make install PREFIX=/tmp/x)
#   make docs    the HTML reference of the public headers, into $(BUILD)/docs/html
#   make deb     build + a Debian package of the install, into $(BUILD)

BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
PREFIX ?= /usr/local

# Build: compiler, CMake and the libraries. Test: a Redis server for the shared store's tests,
# and the draft-07 meta-schema that the schema tests check every schema against; doxygen for
# make docs and the test that every public declaration is documented; zsh for the test of the
# zsh completion script; Chromium, its driver and Selenium for the inspector page's browser test;
# systemd for `systemd-analyze verify` of the installed unit (tests/systemd_unit_test.sh).
BUILD_PACKAGES := g++ cmake make pkg-config libssl-dev nlohmann-json3-dev libcli11-dev \
  libcpp-httplib-dev libvalijson-dev libsqlite3-dev libhiredis-dev doctest-dev libsimdjson-dev \
  libbenchmark-dev
TEST_PACKAGES := redis-server python3-jsonschema doxygen zsh chromium chromium-driver \
  python3-selenium systemd
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build test run clean samples install docs deb

deps:
	@missing=$$(for p in $(BUILD_PACKAGES) $(TEST_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DTYKHOOK_BUILD_BENCHMARKS=ON $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The local receiver on 127.0.0.1:8080 with the demo secret and the embedded SQLite store
# (tykhook.db): every ok delivery is queued there and handed on to samples/application.sh, which
# appends it to deliveries.log; every authentic delivery is also kept in captures/. The
# inspector page shows them arrive: its address, with the token, is on the receiver's first lines.
run: build
	@echo "make run: send it every event from another terminal with"
	@echo "  $(BUILD)/tykhook send --all --to http://127.0.0.1:8080/ --secret-file samples/demo-secret.txt"
	@echo "make run: watch them arrive on the page at the \"inspector:\" address below"
	@echo "make run: each ok delivery is handed on to samples/application.sh: tail -f deliveries.log"
	$(BUILD)/tykhook listen --secret-file samples/demo-secret.txt --store sqlite:tykhook.db \
	  --capture-dir captures --exec samples/application.sh --ui

clean:
	rm -rf $(BUILD)

samples: build
	@for body in samples/bodies/*.json; do \
	  event=$$(basename $$body .json); \
	  $(BUILD)/tykhook sign --secret-file samples/demo-secret.txt \
	    --request http://127.0.0.1:8080/webhooks $$body > samples/captures/$$event.http || exit 1; \
	done; echo "make samples: wrote" samples/captures/*.http

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

docs: deps $(BUILD)/CMakeCache.txt
	cmake -S . -B $(BUILD) > /dev/null  # finds a doxygen installed since the first configure
	cmake --build $(BUILD) --target docs

deb: build
	cd $(BUILD) && cpack -G DEB

# ---- robustness: sanitizers and fuzzing --------------------------------------------------------
#   make test-sanitize  every test, built with clang, AddressSanitizer and
#                       UndefinedBehaviorSanitizer (leak checks on) into $(ASAN_BUILD)
#   make fuzz           the fuzz targets of tests/fuzz, built with clang into $(FUZZ_BUILD), each
#                       run for FUZZ_SECONDS with its seeds and dictionary, FUZZ_JOBS (default:
#                       one per processor) side by side; fails on any finding
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_PACKAGES := clang-14 libclang-rt-14-dev
SANITIZER_OPTIONS := halt_on_error=1:print_stacktrace=1

.PHONY: test-sanitize fuzz

# Built with clang, so that every test keeps compiling with clang as well as with g++ (make
# test) at no extra build.
test-sanitize:
	$(MAKE) deps TEST_PACKAGES="$(TEST_PACKAGES) $(FUZZ_PACKAGES)"
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DTYKHOOK_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=$(SANITIZER_OPTIONS):detect_leaks=1 \
	  UBSAN_OPTIONS=$(SANITIZER_OPTIONS) ctest --output-on-failure -j $(JOBS)

fuzz:
	$(MAKE) deps TEST_PACKAGES="$(TEST_PACKAGES) $(FUZZ_PACKAGES)"
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DTYKHOOK_BUILD_FUZZERS=ON -DTYKHOOK_BUILD_TESTS=OFF
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target tykhook_fuzzers
	tests/fuzz/run_fuzzers.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)
# ---- end robustness ----------------------------------------------------------------------------

# ---- bench: the benchmarks, built for speed ----------------------------------------------------
#   make bench   verify_bench and store_bench, built with -O3 (Release) into $(BENCH_BUILD), each
#                run BENCH_REPETITIONS times (medians in the summary); also builds
#                $(BENCH_BUILD)/tykhook for ../shared/peers/compare.sh and
#                $(BENCH_BUILD)/bench/crypto_baseline, the floor of its start-up (bench/README.md)
BENCH_BUILD ?= build-bench
BENCH_REPETITIONS ?= 5

.PHONY: bench

bench: deps
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release -DTYKHOOK_BUILD_BENCHMARKS=ON $(CMAKE_FLAGS)
	cmake --build $(BENCH_BUILD) -j $(JOBS) --target verify_bench store_bench tykhook_cli \
	  crypto_baseline
	$(BENCH_BUILD)/bench/verify_bench --benchmark_repetitions=$(BENCH_REPETITIONS) \
	  --benchmark_report_aggregates_only=true
	$(BENCH_BUILD)/bench/store_bench --benchmark_repetitions=$(BENCH_REPETITIONS) \
	  --benchmark_report_aggregates_only=true
# ---- end bench ---------------------------------------------------------------------------------

# ---- load and faults ---------------------------------------------------------------------------
#   make load    tykhook listen (SQLite store, capture directory) under LOAD_CONNECTIONS keep-alive
#                connections for LOAD_SECONDS of valid, duplicate, badly signed and
#                schema-violating deliveries; prints requests per second, the answers, latency
#                and the receiver's peak resident memory, and checks every capture
#                (CTest runs the same for 10 s, and the kill, Redis and secret scenarios)
LOAD_SECONDS ?= 60
LOAD_CONNECTIONS ?= 64

.PHONY: load

load: build
	tests/load/load_test.sh load $(BUILD) $(LOAD_SECONDS) $(LOAD_CONNECTIONS)
# ---- end load and faults -----------------------------------------------------------------------
