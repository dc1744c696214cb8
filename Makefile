# Convenience wrapper around CMake. `make` leaves the program at build/mailblock.
JOBS ?= 2

.PHONY: all test test-asan fuzz clean

all:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j$(JOBS)

# Every test: the optimised build, then the same tests under AddressSanitizer and UBSan,
# then each fuzz harness for a short while.
test: all
	cd build && ctest --output-on-failure --no-tests=error -j$(JOBS)
	$(MAKE) test-asan
	$(MAKE) fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-20}

test-asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMB_SANITIZE=ON >/dev/null
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  ctest --output-on-failure --no-tests=error -j$(JOBS) -E '^e2e\.'

FUZZ_SECONDS ?= 20
fuzz:
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DMB_SANITIZE=ON -DMB_FUZZ=ON >/dev/null
	cmake --build build-fuzz -j$(JOBS)
	sh tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

clean:
	rm -rf build build-asan build-fuzz
