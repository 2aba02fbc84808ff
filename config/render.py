"""Render the schema as the commented ``defaults.toml``; a test keeps the file current."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from config.schema import Settings

DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")


def _toml_value(value: Any) -> str:
    if isinstance(value, SecretStr):
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)


def _section(model: type[BaseModel], instance: BaseModel, name: str, out: list[str]) -> None:
    tables: list[tuple[str, type[BaseModel], BaseModel]] = []
    body: list[str] = []
    for key, field in model.model_fields.items():
        value = getattr(instance, key)
        if isinstance(value, BaseModel):
            tables.append((key, type(value), value))
            continue
        body.append(f"# {field.description}")
        if field.annotation is not None and "SecretStr" in str(field.annotation):
            env = f"HEROES_{name.upper().replace('.', '__')}__{key.upper()}"
            body.append(f"# {key} = \"\"   (secret: set {env})")
        elif key == "rules":
            body.append("# [[alerts.rules]] tables; see README.md for an example.")
        else:
            body.append(f"{key} = {_toml_value(value)}")
    if name:
        out.append(f"[{name}]")
    out.extend(body)
    out.append("")
    for key, sub_model, sub in tables:
        out.append(f"# {model.model_fields[key].description}")
        _section(sub_model, sub, f"{name}.{key}" if name else key, out)


def render_defaults() -> str:
    out = [
        "# Every option of heroes with its default. Generated from config/schema.py",
        "# by `heroes config defaults`; copy what you change into your own file.",
        "",
    ]
    _section(Settings, Settings(), "", out)
    return "\n".join(out).rstrip() + "\n"
