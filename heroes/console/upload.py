"""Hash-list import by upload: the same importer, formats and line-numbered errors as
``heroes hashes import``.

The upload is written to a private temporary directory under ``<data_dir>/console/uploads``
with its original file name (the suffix picks the format, as on the command line), imported
into the membership store and the spool, then deleted. Reads the data directory only.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from heroes.console.searchreq import RequestError
from index.documents import Document
from index.hashsets.errors import HashSetError
from index.hashsets.importer import FORMATS, import_file
from index.hashsets.membership import MembershipStore, membership_path
from index.hashsets.registry import HASH_TYPES

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_UPLOAD = 32 * 1024 * 1024


def safe_filename(name: str) -> str:
    """The uploaded name reduced to a harmless base name (never a path)."""
    base = _SAFE_NAME.sub("_", Path(name.replace("\\", "/")).name).strip("._") or "upload"
    return base[:100]


def import_upload(
    data_dir: Path,
    append: Callable[[Iterable[Document]], int],
    *,
    filename: str,
    content: bytes,
    list_name: str = "",
    fmt: str = "",
    type_name: str = "",
    category: str = "",
) -> dict[str, Any]:
    """Import uploaded bytes; returns the import report (problems name the uploaded file)."""
    if fmt and fmt not in FORMATS:
        raise RequestError("format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
    if type_name and type_name not in HASH_TYPES.names():
        raise RequestError("type", f"{type_name!r} is not one of {', '.join(HASH_TYPES.names())}")
    if not content:
        raise RequestError("file", "the uploaded file is empty")
    name = safe_filename(filename)
    root = Path(data_dir) / "console" / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(dir=root))
    members = MembershipStore(membership_path(data_dir))
    try:
        path = workdir / name
        path.write_bytes(content)
        report = import_file(
            path,
            members,
            append,
            list_name=list_name,
            fmt=fmt,
            type_name=type_name,
            category=category,
        )
    except HashSetError as exc:
        raise RequestError("file", str(exc).replace(str(workdir) + "/", "")) from exc
    finally:
        members.close()
        shutil.rmtree(workdir, ignore_errors=True)
    result = asdict(report)
    result["file"] = name
    result["problems"] = [p.replace(str(workdir) + "/", "") for p in report.problems]
    return result
