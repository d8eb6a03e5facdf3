"""The settings reference, read from ``provenance.settings.Settings``: every field with its environment variable,
type, default and description (pydantic's own metadata), so the table is the code."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from docsgen.markdown import code, table


@dataclass(frozen=True)
class SettingDoc:
    name: str
    env: str
    type: str
    default: str
    description: str
    secret: bool


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Literal:  # the allowed values, as a user types them
        return " | ".join(str(value) for value in typing.get_args(annotation))
    text = repr(annotation) if not isinstance(annotation, type) else annotation.__name__
    for noise in ("typing.", "pathlib.", "pydantic.types.", "<class '", "'>"):
        text = text.replace(noise, "")
    if typing.get_origin(annotation) is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    return text.replace("Optional[", "optional[")


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        value = "true" if value else "false"
    if isinstance(value, Path):
        value = str(value)
    if value in ([], {}, ""):
        return "empty"
    return code(value)


def settings_docs() -> list[SettingDoc]:
    from provenance.settings import Settings

    prefix = Settings.model_config.get("env_prefix", "")
    docs = []
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else None
        env = (alias or f"{prefix}{name}").upper()
        type_name = _type_name(info.annotation)
        docs.append(SettingDoc(name=name, env=env, type=type_name, default=_default(info),
                               description=info.description or "", secret="SecretStr" in type_name))
    return docs


def render(docs: list[SettingDoc] | None = None) -> str:
    docs = settings_docs() if docs is None else docs
    rows = [[code(doc.env), code(doc.name), code(doc.type), doc.default,
             doc.description + (" (secret: never printed)" if doc.secret else "")] for doc in docs]
    return "\n".join([
        "# Settings reference",
        "",
        "Generated from `provenance.settings.Settings` at build time (`docsgen/settings_reference.py`).",
        "",
        "Settings come from keyword arguments, then `PROVENANCE_*` environment variables, then a TOML file",
        "(`PROVENANCE_CONFIG=path`, else `./provenance.toml`, keys without the prefix: the *field* column), then",
        "the defaults below. `provenance config show [--json]` prints the resolved values with secrets masked.",
        "List settings take comma-separated values in the environment.",
        "",
        table(["environment variable", "field (TOML key)", "type", "default", "meaning"], rows),
        "",
    ])
