# Vigil - the two commands of the README, and the builds behind them.
#   make run    install what is needed, build, start vigild + a local agent + the console
#   make test   install what is needed, build (sanitizers on), run every test
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build console debug asan test unit run bench fuzz clean

all: build

deps:
	@bash scripts/deps.sh

build: deps console
	@cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD)/release -j $(JOBS) -- --no-print-directory

console: deps
	@bash console/build.sh

debug: deps
	@cmake -S . -B $(BUILD)/debug -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(BUILD)/debug -j $(JOBS) -- --no-print-directory

asan: deps
	@cmake -S . -B $(BUILD)/asan -DCMAKE_BUILD_TYPE=Debug -DVIG_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD)/asan -j $(JOBS) -- --no-print-directory

test: deps
	@bash scripts/test.sh

unit: asan
	@cd $(BUILD)/asan && ctest -L unit --output-on-failure -j $(JOBS)

run: build
	@bash scripts/run.sh

bench: build
	@bash bench/run.sh

fuzz: deps
	@bash scripts/fuzz.sh

clean:
	rm -rf $(BUILD)
