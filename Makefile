# The two commands in the README. The work is done by scripts/ (see docs/architecture.md).

.PHONY: demo test setup web help

## make demo   set up what is missing, build native and web (release), serve http://127.0.0.1:8080
demo:
	@scripts/demo

## make test   set up what is missing, then run every test (this is what CI runs)
test:
	@scripts/test

## make setup  only install what is missing (scripts/setup)
setup:
	@scripts/setup

## make web    only build the web app into dist/ (scripts/build-web)
web:
	@scripts/build-web

help:
	@sed -n 's/^## //p' Makefile
