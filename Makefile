# The two commands of the README. Both run the idempotent set-up step first.
SHELL := /bin/bash
ENV := source scripts/env.sh

.PHONY: setup run test lint

setup:
	@bash scripts/setup.sh

## run: package and deploy the example workspace locally, then invoke it
run: setup
	@$(ENV) && python -m modelpack.cli.main_job

## test: the whole test suite, real Pulumi and Docker engines included; the 25 slowest steps last
test: setup
	@$(ENV) && ruff check . && pytest -q --durations=25

lint:
	@$(ENV) && ruff check . && ruff format --check .
