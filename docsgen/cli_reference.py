"""The command-line reference, walked from the Typer/Click app that `provenance` runs: every command, every
option, its type, default and help, exactly as the parser sees them (lazy commands are loaded for this)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import typer

from docsgen.markdown import cell, code, table


@dataclass(frozen=True)
class CommandDoc:
    """One command (or group) with its full path, e.g. ``("detect", "score")``."""

    path: tuple[str, ...]
    command: Any  # a click.Command (Typer may use its own copy of Click: duck-typed)
    context: Any

    @property
    def name(self) -> str:
        return " ".join(("provenance", *self.path))

    @property
    def is_group(self) -> bool:
        return hasattr(self.command, "list_commands")


def root_command() -> Any:
    from provenance.cli import app

    return typer.main.get_command(app)


def walk(command: Any | None = None) -> Iterator[CommandDoc]:
    """Depth first, in the order ``--help`` lists them; the root itself is not yielded."""
    root = command or root_command()
    root_context = root.make_context("provenance", [], resilient_parsing=True)
    yield from _walk(root, root_context, ())


def _walk(group: Any, context: Any, path: tuple[str, ...]) -> Iterator[CommandDoc]:
    for name in group.list_commands(context):
        sub = group.get_command(context, name)
        if sub is None or getattr(sub, "hidden", False):
            continue
        sub_context = type(context)(sub, info_name=name, parent=context, resilient_parsing=True)
        doc = CommandDoc((*path, name), sub, sub_context)
        yield doc
        if doc.is_group:
            yield from _walk(sub, sub_context, doc.path)


def _param_rows(command: Any, context: Any) -> tuple[list[list[Any]], list[list[Any]]]:
    """(arguments, options) as ``--help`` describes them: the parser's own help record per parameter (flags with
    their value type, help text with its ``[default: ...]``, ``[required]`` and range notes)."""
    arguments, options = [], []
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        record = param.get_help_record(context)
        if record is None:  # plain Click arguments have no help record
            record = (param.human_readable_name, "")
        declaration, help_text = record
        row = [code(declaration), help_text]
        (arguments if param.param_type_name == "argument" else options).append(row)
    return arguments, options


def render_command(doc: CommandDoc) -> str:
    command = doc.command
    parts = [f"## `{doc.name}`", ""]
    help_text = (command.help or command.short_help or "").strip()
    if help_text:
        parts += [help_text.split("\f")[0].strip(), ""]
    usage = " ".join(command.collect_usage_pieces(doc.context))
    parts += ["```text", f"{doc.name} {usage}".rstrip(), "```", ""]
    if doc.is_group:
        subs = [name for name in command.list_commands(doc.context)]
        links = ", ".join(f"[`{name}`](#{_anchor(doc.name + ' ' + name)})" for name in subs)
        parts += [f"Subcommands: {links}.", ""]
    arguments, options = _param_rows(command, doc.context)
    if arguments:
        parts += [table(["argument", "meaning"], arguments), ""]
    if options:
        parts += [table(["option", "meaning"], options), ""]
    return "\n".join(parts)


def summary(command: Any) -> str:
    """The first paragraph of a command's help (what the command list of ``--help`` abbreviates)."""
    text = command.short_help or (command.help or "").split("\f")[0]
    return " ".join(text.strip().split("\n\n")[0].split())


def _anchor(title: str) -> str:
    """MkDocs' default slug of a heading like ``provenance detect score``."""
    return "-".join(title.lower().split())


def render(docs: list[CommandDoc] | None = None) -> str:
    docs = list(walk()) if docs is None else docs
    root = root_command()
    index = [[f"[`{doc.name}`](#{_anchor(doc.name)})", cell(summary(doc.command))] for doc in docs]
    header = [
        "# Command line reference",
        "",
        "Generated from the `provenance` Typer application at build time (`docsgen/cli_reference.py`): every command",
        "and option below is what the parser accepts. `provenance COMMAND --help` prints the same.",
        "",
        (root.help or "").strip(),
        "",
        "Errors are one `error:` line and one `hint:` line on stderr with exit code 2 (1 for an unexpected internal",
        "error; `PROVENANCE_DEBUG=1` shows its traceback). Usage errors print Click's usage message, exit code 2.",
        "",
        table(["command", "what it does"], index),
        "",
    ]
    return "\n".join(header) + "\n" + "\n".join(render_command(doc) for doc in docs)


def command_names(docs: list[CommandDoc] | None = None) -> list[str]:
    return [doc.name for doc in (list(walk()) if docs is None else docs)]


__all__ = ["CommandDoc", "command_names", "render", "walk"]
