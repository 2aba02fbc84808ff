"""``heroes hashes import --format misp|stix``: a MISP event or STIX bundle into a list.

Called by the import command in place of the list-file import, with the same arguments;
says which event or bundle the list's source names, and warns on stderr of the values that
no list type holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from documents import Document
from exchange.importing import import_exchange
from heroes.cli.app import fail
from index.hashsets.importer import ImportReport
from index.hashsets.membership import MembershipStore


def import_exchange_file(
    path: Path,
    members: MembershipStore,
    append: Callable[[Iterable[Document]], int],
    *,
    list_name: str,
    fmt: str,
    type_name: str,
    category: str,
    max_document_bytes: int,
    on_problem: Callable[[str], None],
    list_settings: dict[str, Any],
) -> ImportReport:
    if type_name:
        fail(f"--type does not apply to --format {fmt}: each value's type comes from the file")
    result = import_exchange(
        path, fmt, members, append, list_name=list_name, category=category,
        max_document_bytes=max_document_bytes, on_problem=on_problem,
        list_settings=list_settings)
    click.echo(f"source: {result.source}; {result.objects} objects read")
    if result.skipped:
        click.echo(f"not imported (no list holds these types): {result.skipped_text}", err=True)
    return result.report
