# The README's commands. Thin wrappers over CMake and CTest.
#   make deps    install the Debian packages that the build and the tests need (only missing ones)
#   make build   configure and build into $(BUILD)
#   make test    deps + build + every test (ctest prints its summary line)
#   make run     deps + build + start the local receiver
#   make clean   remove $(BUILD)
#   make samples re-sign samples/captures/ from samples/bodies/ with the demo secret

BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

# Build: compiler, CMake and the libraries. Test: a Redis server for the shared store's tests,
# and the draft-07 meta-schema that the schema tests check every schema against.
BUILD_PACKAGES := g++ cmake make pkg-config libssl-dev nlohmann-json3-dev libcli11-dev \
  libcpp-httplib-dev libvalijson-dev libsqlite3-dev libhiredis-dev doctest-dev
TEST_PACKAGES := redis-server python3-jsonschema
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build test run clean samples

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
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

run: build
	@echo "make run: verifying every signed sample in samples/captures with the demo secret"
	$(BUILD)/tykhook verify --secret-file samples/demo-secret.txt samples/captures/*.http

clean:
	rm -rf $(BUILD)

samples: build
	@for body in samples/bodies/*.json; do \
	  event=$$(basename $$body .json); \
	  $(BUILD)/tykhook sign --secret-file samples/demo-secret.txt \
	    --request http://127.0.0.1:8080/webhooks $$body > samples/captures/$$event.http || exit 1; \
	done; echo "make samples: wrote" samples/captures/*.http
