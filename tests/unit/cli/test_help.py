"""The conventions of ``docket`` that hold for every command: ``--help`` on stdout with
exit 0, ``--version``, ``--json`` wherever data is printed, the exit codes documented,
shell completion, and the README's CLI section being what ``docket --help`` prints."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest

from shared.cli import COMMANDS, Group
from shared.cli_support import EXIT_CODE_MEANINGS, ExitCode
from tests.unit.cli.support import (
    REPO,
    command_paths,
    docket,
    docket_process,
    leaf_commands,
)

#: Commands that print no data of their own: they need no --json.
NO_DATA = {("serve",), ("completion",)}


@pytest.mark.parametrize("path", list(command_paths()), ids=" ".join)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_command_and_group_answers_help_on_stdout(
    capsys: pytest.CaptureFixture[str], path: tuple[str, ...], flag: str
) -> None:
    ran = docket(capsys, *path, flag)
    assert ran.code == 0, ran.err
    assert ran.err == ""
    assert ran.out.startswith(f"Usage: docket {' '.join(path)} "), ran.out
    assert "Exit status: 0 ok, 1 check failed or not found, 2 usage" in ran.out
    entry = COMMANDS[path[0]]
    if isinstance(entry, Group) and len(path) == 1:
        for sub, command in entry.commands.items():
            assert re.search(rf"^  {sub} +{re.escape(command.summary)}$", ran.out, re.M)


def test_the_root_help_lists_every_command_and_every_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ran = docket(capsys, "--help")
    assert ran.code == 0
    assert ran.err == ""
    assert ran.out.startswith("Usage: docket [OPTIONS] COMMAND [ARGS]...")
    for name, entry in COMMANDS.items():
        assert re.search(rf"^  {name} +{re.escape(entry.summary)}$", ran.out, re.M), name
    for code, meaning in EXIT_CODE_MEANINGS.items():
        assert f"\n    {int(code)}  {meaning}\n" in ran.out
    assert {int(code) for code in ExitCode} == set(range(7))


@pytest.mark.parametrize(("path", "command"), list(leaf_commands()), ids=lambda p: str(p))
def test_every_command_that_prints_data_takes_json(
    capsys: pytest.CaptureFixture[str], path: tuple[str, ...], command: object
) -> None:
    ran = docket(capsys, *path, "--help")
    if path in NO_DATA:
        assert "--json" not in ran.out
    else:
        assert re.search(r"^  --json ", ran.out, re.M), ran.out


@pytest.mark.parametrize("path", [(), ("audit",), ("keys",), ("policy",), ("registry",)])
def test_a_bare_group_prints_its_help_on_stderr_and_exits_2(
    capsys: pytest.CaptureFixture[str], path: tuple[str, ...]
) -> None:
    ran = docket(capsys, *path)
    assert ran.code == ExitCode.USAGE
    assert ran.out == ""
    assert ran.err.startswith(f"Usage: docket {' '.join(path)}".rstrip() + " ")


def test_an_unknown_command_or_option_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ran = docket(capsys, "audit", "frobnicate")
    assert (ran.code, ran.out) == (2, "")
    assert ran.err == "docket audit: No such command 'frobnicate'. (see 'docket audit --help')\n"
    ran = docket(capsys, "classify", "--no-such-option", "x.json")
    assert ran.code == 2
    assert ran.err.count("\n") == 1
    assert ran.err.startswith("docket classify: No such option: --no-such-option")


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    ran = docket(capsys, flag)
    assert ran.code == 0
    assert ran.out == f"docket {version('docket')}\n"
    assert ran.err == ""


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_generated(capsys: pytest.CaptureFixture[str], shell: str) -> None:
    ran = docket(capsys, "completion", shell)
    assert ran.code == 0, ran.err
    assert f"_DOCKET_COMPLETE=complete_{shell}" in ran.out
    assert "docket" in ran.out


def test_completion_answers_what_the_bash_script_asks() -> None:
    """What the generated bash function runs on <TAB>: the commands, then the choices."""
    script = docket_process("completion", "bash").out
    assert 'COMP_WORDS="${COMP_WORDS[*]}"' in script
    for words, cword, expected in [
        ("docket au", "1", ["audit"]),
        ("docket audit ", "2", ["export", "verify", "rebuild"]),
        ("docket serve ", "2", ["intake", "classifier", "notifier", "audit", "console"]),
    ]:
        ran = docket_process(
            env={"_DOCKET_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": cword}
        )
        assert ran.code == 0, ran.err
        assert ran.out.split() == expected


def _readme_cli_help() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## The `docket` command\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"^```text\n\$ docket --help\n(.*?)^```$", section, re.S | re.M)
    assert block, "the README's CLI section shows `docket --help` in a ```text block"
    return block.group(1)


def test_the_readme_cli_section_is_what_docket_help_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _readme_cli_help() == docket(capsys, "--help").out


def test_the_readme_names_every_command_of_every_group() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## The `docket` command\n", 1)[1].split("\n## ", 1)[0]
    for name, entry in COMMANDS.items():
        if isinstance(entry, Group):
            for sub in entry.commands:
                assert f"docket {name} {sub}" in section, f"docket {name} {sub}"


def test_the_command_line_is_the_one_entry_point() -> None:
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'docket = "shared.cli:main"' in pyproject
    assert re.search(r'^    "typer==\d+\.\d+\.\d+",$', pyproject, re.M)
    assert Path(REPO / "shared" / "cli.py").is_file()
