"""Every `agegender-edge ...` command line shown in README.md and docs/*.md parses with today's CLI.

Each line is resolved through the click command chain (the group, then the subcommand) and parsed
with ``make_context`` (resilient parsing off: unknown options, missing arguments, bad choices and
bad numbers fail) without running anything. The files in the examples need not exist: on a copy
of the command, click.Path's ``exists`` check and the option callbacks (which look at the files
and folders named) are lifted. Code blocks show whole command lines; inline code may name a
command with some of its options only (``agegender-edge predict --format json``), so missing
arguments and required options are allowed there. Placeholders: ``a|b|c`` takes the first alternative, ``[--opt X]``
is parsed as given, a ``...`` argument is dropped.
"""
from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path

import click
import pytest

from agegender_edge.cli.main import cli

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))
PROG = "agegender-edge"
FENCE = re.compile(r"^\s*```")
INLINE = re.compile(r"`(agegender-edge(?: [^`]+)?)`")
# Inline mentions that list commands rather than show one command line.
NOT_A_COMMAND_LINE = re.compile(r"^agegender-edge \w+ / ")


def _command_lines(path: Path) -> list[tuple[int, str, bool]]:
    """(line number, command, whole line?) for each `agegender-edge ...` in code blocks and inline code."""
    out, in_block, pending, start = [], False, "", 0
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            in_block, pending = not in_block, ""
            continue
        if in_block:
            text = pending + line.strip()
            if not pending:
                start = no
            if text.endswith("\\"):                      # continued on the next line
                pending = text[:-1] + " "
                continue
            pending = ""
            text = re.sub(r"^\$\s+", "", text)
            for part in re.split(r"\s*(?:&&|;|\|\|)\s*", text):
                part = re.sub(r"^(?:[A-Z_][A-Z0-9_]*=\S+\s+)+", "", part)   # VAR=value agegender-edge ...
                if part.startswith(PROG + " ") or part == PROG:
                    out.append((start, part, True))
        else:
            out += [(no, m.group(1), False) for m in INLINE.finditer(line) if not NOT_A_COMMAND_LINE.match(m.group(1))]
    return out


def _argv(command: str) -> list[str]:
    command = re.sub(r"(?<!\S)#.*$", "", command).strip()          # a trailing shell comment
    command = command.replace("[", " ").replace("]", " ")          # [--every 3]: parsed as given
    args = [a for a in shlex.split(command)[1:] if a != "..."]
    return [a.split("|")[0] if "|" in a and not a.startswith(("/", ".")) else a for a in args]


def _lenient_paths(cmd: click.Command) -> click.Command:
    cmd = copy.deepcopy(cmd)
    for p in cmd.params:
        p.callback = None
        if isinstance(p.type, click.Path):
            p.type.exists = False
        elif isinstance(p.type, click.Tuple):
            for t in p.type.types:
                if isinstance(t, click.Path):
                    t.exists = False
    return cmd


def parse(command: str, whole: bool = True) -> None:
    """Resolve and parse one documented command line; raise click.ClickException when it does not
    parse. ``whole=False``: a fragment, its arguments may be left out."""
    args = _argv(command)
    ctx = cli.make_context(PROG, args, resilient_parsing=False)
    protected = ctx._protected_args if hasattr(ctx, "_protected_args") else ctx.protected_args   # click >= 8.2 / 8.1
    rest = [*protected, *ctx.args]
    if not rest:
        return
    name, cmd, rest = cli.resolve_command(ctx, rest)
    assert cmd is not None, f"no command {name!r}"
    cmd = _lenient_paths(cmd)
    if not whole:
        for p in cmd.params:
            p.required = False
    with cmd.make_context(name, rest, parent=ctx, resilient_parsing=False):
        pass


COMMANDS = [pytest.param(command, whole, id=f"{path.relative_to(REPO)}:{no}")
            for path in DOCS for no, command, whole in _command_lines(path)]


def test_the_docs_show_command_lines():
    assert len(COMMANDS) >= 30
    names = {_argv(p.values[0])[0] for p in COMMANDS if _argv(p.values[0]) and not _argv(p.values[0])[0].startswith("-")}
    assert {"predict", "video", "label", "bench", "export", "evaluate", "train", "prepare"} <= names


@pytest.mark.parametrize("command,whole", COMMANDS)
def test_documented_command_parses(command, whole):
    try:
        parse(command, whole)
    except click.exceptions.Exit:          # --help / --version
        pass
    except click.ClickException as exc:
        pytest.fail(f"{command!r} does not parse with today's CLI: {exc.format_message()}")


def test_the_parser_catches_a_drifted_option():
    with pytest.raises(click.NoSuchOption):
        parse("agegender-edge predict x.jpg --no-such-option 3")
    with pytest.raises(click.BadParameter):
        parse("agegender-edge predict x.jpg --format yaml")
    with pytest.raises(click.MissingParameter):
        parse("agegender-edge predict --format json")                 # a code block shows whole lines
    parse("agegender-edge predict --format json", whole=False)        # inline code may show a fragment
