"""Browser tests: Playwright's sync API driving Debian's chromium against pytest-django's live_server.

If /usr/bin/chromium is missing or Playwright cannot launch it, every browser test is SKIPPED
with the reason, which is also printed at the end of the run: never a silent pass.

Playwright's sync API runs an asyncio event loop in the test's thread, and Django refuses ORM
calls from a thread with a running loop; DJANGO_ALLOW_ASYNC_UNSAFE lifts that check, only while
a browser is open (the fixture sets it and puts it back).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
NO_OVERFLOW_JS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"

_skip_reasons: list[str] = []


def _skip(reason: str):
    reason = f"浏览器测试已跳过（browser tests skipped）：{reason}"
    if reason not in _skip_reasons:
        _skip_reasons.append(reason)
        print(f"\n{reason}", file=sys.stderr)
    pytest.skip(reason)


def pytest_terminal_summary(terminalreporter):
    for reason in _skip_reasons:
        terminalreporter.write_line(reason, yellow=True, bold=True)


@pytest.fixture(scope="module")
def chromium():
    """A headless chromium for the module, or a skip with the reason."""
    if not os.path.exists(CHROMIUM):
        _skip(f"{CHROMIUM} 不存在；以 root 运行 `make browser` 或 `apt-get install chromium fonts-noto-cjk` 后重试")
    if not os.access(CHROMIUM, os.X_OK):
        _skip(f"{CHROMIUM} 不可执行")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - depends on the environment
        _skip(f"未安装 playwright Python 包（{exc}）；运行 `pip install -e '.[test]'`")

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    except Exception as exc:
        pw.stop()
        _restore(previous)
        _skip(f"playwright 无法启动 {CHROMIUM}: {str(exc).splitlines()[0][:300]}")
    try:
        yield browser
    finally:
        browser.close()
        pw.stop()
        _restore(previous)


def _restore(previous):
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def _page(chromium, **options):
    """A fresh browser context (its own cookies) in Chinese and Shanghai time, and its page."""
    context = chromium.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **options)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def desktop(chromium):
    yield from _page(chromium, viewport=DESKTOP)


@pytest.fixture
def phone(chromium):
    yield from _page(chromium, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)


@pytest.fixture
def tablet(chromium):
    yield from _page(chromium, viewport=TABLET, device_scale_factor=1, is_mobile=True, has_touch=True)


@pytest.fixture
def no_js(chromium):
    yield from _page(chromium, viewport=DESKTOP, java_script_enabled=False)
