# Two commands for a fresh machine (see README):
#   make book   set everything up, build the site  -> _build/html/index.html
#   make test   set everything up, run every test (pytest, notebooks, site build, browser check)
#   make student   write student/: every chapter without its solutions, for a class

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book
# The build must not reach the network: any proxied request fails at once (localhost is exempt).
OFFLINE := http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost

.PHONY: book test lint setup assets browser notebooks student clean

book: setup
	rm -rf _build
	$(OFFLINE) $(JB) build . -W -n --keep-going --all
	@echo "The book is at $(CURDIR)/_build/html/index.html"

test: setup browser lint
	$(OFFLINE) $(PY) -m pytest tests

# ruff (pinned in requirements.txt, configured in pyproject.toml): 80 columns, imports sorted.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

setup: $(VENV)/.installed assets

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps -e .
	$(PY) -m pip check
	touch $@

assets: _vendor/.done

_vendor/.done: package.json package-lock.json tools/vendor_assets.py $(VENV)/.installed
	@command -v npm >/dev/null || $(call apt_install,nodejs npm)
	npm ci --no-audit --no-fund --ignore-scripts
	$(PY) tools/vendor_assets.py
	touch $@

# Debian's Chromium for the browser test (never `playwright install`: it downloads a browser).
browser:
	@[ -x /usr/bin/chromium ] || $(call apt_install,chromium)
	@/usr/bin/chromium --version

# $(call apt_install,PACKAGES): install Debian packages, with sudo unless already root.
apt_install = ( SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(1) >/dev/null )

# Re-execute the chapters on the CPU so their committed outputs match the code; commit the result.
notebooks: setup
	$(PY) tools/execute_notebooks.py

# The students' notebooks: exercises kept, solutions and outputs removed (see the instructor's guide).
student: setup
	rm -rf student
	$(PY) tools/student_copies.py --out student

clean:
	rm -rf _build _vendor student
