# The README's two commands: `make demo` and `make test`. Both set up everything
# they need from a fresh clone (a virtual environment in .venv) and are safe to rerun.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
DEMO_OUT ?= demo-output/$(shell date +%Y%m%d-%H%M%S)

.PHONY: demo panel test lint setup clean

# the package alone: what the demo needs
$(VENV)/.installed: pyproject.toml install/setup.sh
	bash install/setup.sh "$(PYTHON)" "$(VENV)"
	touch $@

# plus the test tools and the optional stacks the tests cover: the panel (PyQt6),
# CLIP (torch CPU, transformers) and the MusicGen backend (audiocraft, install/neural.sh)
$(VENV)/.installed-test: pyproject.toml install/setup.sh install/neural.sh
	bash install/setup.sh "$(PYTHON)" "$(VENV)" "dev,ui,clip,neural"
	touch $@

setup: $(VENV)/.installed-test

demo: $(VENV)/.installed
	$(BIN)/vidmusician demo "$(DEMO_OUT)"

# the panel (installs PyQt6 with the test set-up), on the newest demo if there is one
panel: $(VENV)/.installed-test
	$(BIN)/vidmusician panel $(INPUT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy core ui resolve_plugin

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
