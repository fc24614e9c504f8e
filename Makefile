# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test install install-test browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(TEST_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(STAMP)

install-test: $(TEST_STAMP)

## make run: install, migrate SQLite under ./var, load Zhanjiang's data, serve at http://127.0.0.1:8000
run: $(STAMP)
	DEBUG=1 $(BIN)/bianmin run

## Debian's chromium for the browser tests and poppler-utils (pdftotext) for the tests that read PDFs
## (only as root, only when missing; otherwise those tests are skipped with a reason)
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		echo "安装浏览器测试所需的 chromium …"; \
		(apt-get install -y -qq chromium fonts-noto-cjk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null)) \
		|| echo "chromium 安装失败:浏览器测试将被跳过"; \
	fi
	@if ! command -v pdftotext >/dev/null && [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		echo "安装读取 PDF 文字所需的 poppler-utils …"; \
		(apt-get install -y -qq poppler-utils >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq poppler-utils >/dev/null)) \
		|| echo "poppler-utils 安装失败:读取 PDF 文字的测试将被跳过"; \
	fi

## make test: the whole suite on the database DATABASE_URL names (SQLite by default)
test: $(TEST_STAMP) browser
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf var .pytest_cache
