"""The text of a PDF, as a reader's tool extracts it: `pdftotext` (poppler-utils, which `make test`
installs where it can). Where the tool is missing the test is skipped with the reason, not failed."""

from __future__ import annotations

import shutil
import subprocess

import pytest

MISSING = "pdftotext (poppler-utils) 未安装:无法读取 PDF 的文字;`make test` 以 root 运行时会安装它"


def pdf_text(data: bytes, *options: str) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip(MISSING)
    return subprocess.run(["pdftotext", "-enc", "UTF-8", *options, "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode()
