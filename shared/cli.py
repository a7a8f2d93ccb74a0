"""``docket``: the command line for people (legal staff, policy teams, on-call) and for
the deployment (``docket serve``, ``docket migrate``).

Built on Typer (Click underneath). Each command lives with the service it belongs to,
as a plain Typer-annotated function; :data:`COMMANDS` below is the one place that
names them. A command's module is imported only when that command runs (or its
``--help`` is asked for), so ``docket --help`` and ``docket classify`` start at once
and need no broker.

Conventions every command keeps (``tests/unit/cli/`` holds them):

- ``--help``/``-h`` on every command and group prints to stdout and exits 0;
- stdout carries only the result: text for people, or with ``--json`` JSON a program
  can parse; everything else (progress, explanations, warnings) goes to stderr;
- a FILE argument of ``-`` reads stdin;
- an error is one line on stderr, ``docket <command>: <what went wrong>``, and the exit
  status is one of :class:`shared.cli_support.ExitCode` (listed in ``docket --help``);
- ``docket completion bash|zsh|fish`` prints the shell completion script.

Adding a command
----------------
Write a function in your service's ``cli.py`` whose parameters are annotated for Typer
(``Annotated[Path, typer.Argument(help=...)]``, ``Annotated[bool, typer.Option(...)]``);
its docstring is the command's ``--help`` text. Take ``json_output: JsonFlag = False``
if it prints data, read files with ``shared.cli_support.read_bytes`` (``-`` is stdin),
and end a failure with ``fail(ExitCode.X, "one line")`` rather than printing and
returning. Talk to intake or audit through ``shared.cli_http`` (``get``/``post`` with
the ``IntakeUrl``/``AuditUrl`` option types: base URL, ``DOCKET_API_KEY``, problems
mapped to one line and an exit code) and to PostgreSQL through
``shared.cli_support.run_database``. Then add one line to :data:`COMMANDS`:
``"name": Command("services.x.cli:function", "one-line summary")``, or a
``Group("summary", {...})`` entry for ``docket group name``. The walk over every
command's ``--help`` in ``tests/unit/cli/`` then checks it; add its line to the README's
CLI section (a test compares it with ``docket --help``).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import typer
import typer.core
import typer.main
from pydantic import ValidationError

# Typer's own completion (the scripts its `--show-completion` prints), as typer.completion
# imports them; pinned with Typer in pyproject.toml.
from typer.completion import (  # type: ignore[attr-defined]
    completion_init,
    get_completion_script,
)

from shared.cli_support import (
    EXIT_CODE_MEANINGS,
    EXIT_CODES_LINE,
    CliError,
    ExitCode,
    one_line,
    settings_problems,
)

PROG = "docket"
COMPLETE_VAR = "_DOCKET_COMPLETE"
#: Fixed help width, so ``docket --help`` reads the same in any terminal (and the README).
HELP_WIDTH = 100
CONTEXT_SETTINGS: dict[str, Any] = {
    "help_option_names": ["-h", "--help"],
    "terminal_width": HELP_WIDTH,
    "max_content_width": HELP_WIDTH,
}


@dataclass(frozen=True)
class Command:
    """A command: ``"module:function"`` and the summary ``docket --help`` lists."""

    target: str
    summary: str


@dataclass(frozen=True)
class Group:
    """``docket <group> <command>``."""

    summary: str
    commands: Mapping[str, Command]


#: Every ``docket`` command, in the order ``docket --help`` lists them.
COMMANDS: dict[str, Command | Group] = {
    "classify": Command(
        "services.classifier.cli:classify", "classify a submission offline and say why"
    ),
    "policy": Group(
        "the classification policy",
        {
            "test": Command(
                "services.classifier.cli:policy_test",
                "score case files against the policy and the notice rules (contract 2a)",
            )
        },
    ),
    "registry": Group(
        "the agency registry",
        {
            "refresh": Command(
                "services.classifier.registry.refresh:refresh",
                "rewrite the shipped .gov agency registry from CISA's current-full.csv",
            )
        },
    ),
    "submit": Command("services.intake.cli:submit", "submit a request to intake"),
    "amend": Command(
        "services.intake.cli:amend", "amend a request (non-disclosure order, withdrawal)"
    ),
    "decide": Command("services.intake.cli:decide", "record a request's outcome"),
    "verify": Command(
        "services.intake.counsel_cli:verify",
        "record how a requester was verified (or that it failed)",
    ),
    "override": Command(
        "services.intake.counsel_cli:override", "override a verdict's authority, risk or action"
    ),
    "hold": Group(
        "end a notice's hold, or withhold it for good",
        {
            "end": Command(
                "services.intake.counsel_cli:hold_end",
                "end an emergency, child-safety or counter-productive hold",
            ),
            "withhold": Command(
                "services.intake.counsel_cli:hold_withhold", "withhold a notice for good"
            ),
        },
    ),
    "produce": Command(
        "services.intake.counsel_cli:produce",
        "decide what is produced per account and data category",
    ),
    "assign": Command("services.intake.counsel_cli:assign", "assign a request to a reviewer"),
    "comment": Command("services.intake.counsel_cli:comment", "comment on a request"),
    "status": Command("services.intake.cli:status", "a request's history, from audit"),
    "trace": Command(
        "services.audit.trace_cli:trace",
        "a request's path through the services, with Jaeger links",
    ),
    "keys": Group(
        "the API keys of intake and audit (as the owner role)",
        {
            "create": Command(
                "services.intake.cli:keys_create", "create a key; its secret is shown once"
            ),
            "list": Command("services.intake.cli:keys_list", "list keys (never their secrets)"),
            "rotate": Command(
                "services.intake.cli:keys_rotate",
                "a new key for the same client; the old one is revoked at once",
            ),
            "revoke": Command("services.intake.cli:keys_revoke", "revoke a key by its id"),
        },
    ),
    "audit": Group(
        "the audit log: export, verify, rebuild",
        {
            "export": Command(
                "services.audit.cli:export", "write the audit log and its tree heads to a file"
            ),
            "verify": Command(
                "services.audit.cli:verify",
                "verify the audit log offline (an export file or the database)",
            ),
            "rebuild": Command(
                "services.audit.cli:rebuild",
                "rebuild the request views from the log (as the owner role)",
            ),
        },
    ),
    "queue": Command(
        "services.audit.queue_cli:queue",
        "legal staff's queue of open requests, soonest due first",
    ),
    "report": Command("services.audit.cli:report", "the transparency report (and its chart)"),
    "migrate": Command(
        "shared.migrate:migrate_cli",
        "apply migrations, create the service roles, grant (as the owner role)",
    ),
    "serve": Command(
        "shared.cli:serve", "run one service: intake, classifier, notifier, audit or console"
    ),
    "completion": Command("shared.cli:completion", "print the shell completion script"),
}

ROOT_HELP = """Docket: legal demands for user data, classified, noticed and audited.

Data goes to stdout (--json for JSON), messages and errors to stderr; a FILE of - reads
stdin. Every command answers --help."""


def _exit_codes_epilog() -> str:
    rows = "\n".join(f"  {int(code)}  {meaning}" for code, meaning in EXIT_CODE_MEANINGS.items())
    return f"\b\nExit status:\n{rows}"  # \b: keep the table as it is, unwrapped


def _sentence(summary: str) -> str:
    return summary[:1].upper() + summary[1:] + "."


class LazyGroup(typer.core.TyperGroup):
    """A group whose commands are built (their module imported) only when asked for,
    from a table like :data:`COMMANDS`; listing them in ``--help`` imports nothing."""

    def __init__(
        self, *args: Any, entries: Mapping[str, Command | Group] | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("rich_markup_mode", None)
        super().__init__(*args, **kwargs)
        self.entries = COMMANDS if entries is None else entries

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.entries)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in self.entries:
            self.add_command(_build(cmd_name, self.entries[cmd_name]), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, entry.summary) for name, entry in self.entries.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _help_when_bare(ctx: typer.Context) -> None:
    """A group called without a command: its help on stderr, exit 2 (usage)."""
    if ctx.invoked_subcommand is None and not ctx.resilient_parsing:
        print(ctx.get_help(), file=sys.stderr)
        raise typer.Exit(int(ExitCode.USAGE))


def _build(name: str, entry: Command | Group) -> Any:
    if isinstance(entry, Group):
        group = typer.Typer(
            cls=LazyGroup,
            name=name,
            help=_sentence(entry.summary),
            short_help=entry.summary,
            epilog=EXIT_CODES_LINE,
            invoke_without_command=True,
            rich_markup_mode=None,
            add_completion=False,
        )
        group.callback()(_help_when_bare)
        command = typer.main.get_command(group)
        command.entries = entry.commands  # type: ignore[attr-defined]
        return command
    module, _, function_name = entry.target.partition(":")
    function = getattr(importlib.import_module(module), function_name)
    app = typer.Typer(rich_markup_mode=None, add_completion=False)
    app.command(name=name, short_help=entry.summary, epilog=EXIT_CODES_LINE)(function)
    command = typer.main.get_command(app)
    if not command.help:
        command.help = _sentence(entry.summary)
    return command


def _package_version() -> str:
    try:
        return version(PROG)
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        print(f"{PROG} {_package_version()}")
        raise typer.Exit()


app = typer.Typer(
    name=PROG,
    cls=LazyGroup,
    help=ROOT_HELP,
    epilog=_exit_codes_epilog(),
    context_settings=CONTEXT_SETTINGS,
    invoke_without_command=True,
    rich_markup_mode=None,
    add_completion=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_show_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    _help_when_bare(ctx)


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(shell: Annotated[Shell, typer.Argument(help="the shell")]) -> None:
    """Print the completion script for SHELL on stdout. Load it with
    `source <(docket completion bash)` in ~/.bashrc, `source <(docket completion zsh)`
    in ~/.zshrc, or `docket completion fish > ~/.config/fish/completions/docket.fish`."""
    print(get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell.value))


class Service(StrEnum):
    intake = "intake"
    classifier = "classifier"
    notifier = "notifier"
    audit = "audit"
    console = "console"


def serve(service: Annotated[Service, typer.Argument(help="the service to run")]) -> None:
    """Run one service in the foreground until SIGINT or SIGTERM: its API on
    DOCKET_<SERVICE>_PORT, its /metrics on DOCKET_<SERVICE>_ADMIN_PORT, configured from the
    environment (README, Configuration). It never migrates: run `docket migrate` first.
    A service that cannot start (broker unreachable within DOCKET_KAFKA_CONNECT_TIMEOUT_S,
    schema not migrated, owner role given, port taken) logs one `startup_failed` line and
    exits 2; an invalid setting ends with one line and exit 6."""
    importlib.import_module(f"services.{service.value}.app").main()


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``docket`` with ``argv`` (default: the process's arguments) and returns the
    exit status; every error ends as one line on stderr."""
    args = list(sys.argv[1:] if argv is None else argv)
    completion_init()  # Typer's completion classes, as `docket completion SHELL` writes them
    command = typer.main.get_command(app)
    try:
        result = command.main(
            args=args, prog_name=PROG, complete_var=COMPLETE_VAR, standalone_mode=False
        )
    except CliError as error:
        _error_line(_command_path(args), error.message)
        return int(error.code)
    except typer.TyperException as error:  # Click's usage errors (exit 2) and the like
        context = getattr(error, "ctx", None)
        path = context.command_path if context is not None else _command_path(args)
        message = error.format_message()
        if error.exit_code == ExitCode.USAGE:
            message += f" (see '{path} --help')"
        _error_line(path, message)
        return int(error.exit_code)
    except ValidationError as error:  # settings from the environment (pydantic-settings)
        if not error.title.endswith("Settings"):
            raise
        _error_line(_command_path(args), settings_problems(error))
        return int(ExitCode.CONFIG)
    except typer.Abort:
        _error_line(_command_path(args), "interrupted")
        return 130
    return result if isinstance(result, int) else 0


def _error_line(path: str, message: str) -> None:
    print(f"{path}: {one_line(message)}", file=sys.stderr)


def _command_path(args: Sequence[str]) -> str:
    """``docket audit verify`` for ``["audit", "verify", "x.jsonl"]``."""
    words = [PROG]
    entries: Mapping[str, Command | Group] = COMMANDS
    for arg in args:
        entry = entries.get(arg)
        if entry is None:
            break
        words.append(arg)
        if isinstance(entry, Command):
            break
        entries = entry.commands
    return " ".join(words)


if __name__ == "__main__":
    sys.exit(main())
