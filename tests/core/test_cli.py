"""The `bianmin` command: every subcommand has help, and the demo load works through it."""

import subprocess
import sys

import pytest

from bianmin import cli

SUBCOMMANDS = ["run", "demo", "import-catalog", "export-catalog", "audit", "manage"]


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_each_subcommand_has_help(sub, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([sub, "--help"])
    assert exc.value.code == 0
    assert "usage: bianmin " + sub in capsys.readouterr().out


def test_audit_verify_has_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["audit", "verify", "--help"])
    assert "哈希链" in capsys.readouterr().out


def test_console_script_is_installed():
    # the entry point that pip installs into the virtual environment
    bin_dir = __import__("pathlib").Path(sys.executable).parent
    out = subprocess.run([str(bin_dir / "bianmin"), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for sub in SUBCOMMANDS:
        assert sub in out.stdout


def test_unknown_subcommand_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["launch"])
    assert exc.value.code == 2


def test_import_of_a_missing_file_is_reported(db, capsys):
    assert cli.main(["import-catalog", "/nonexistent/目录.xlsx"]) == 2
    assert "找不到文件" in capsys.readouterr().err
