"""Evidence export from the infohash view: the probes' own exporter (``monitors.evidence``),
the code behind ``heroes evidence export``.

The bundle (records, manifest, SHA256SUMS) is written under
``<data_dir>/exports/<infohash>-<time>/`` from every probe log in ``<data_dir>/evidence/``
and handed to the analyst as a zip. Reads the data directory and ``[probe]`` (whose hash
goes into the manifest).
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config import Settings
from heroes.console.searchreq import RequestError
from heroes.console.views import NotFound


def export_bundle(settings: Settings, infohash: str) -> tuple[Path, dict[str, Any]]:
    """Write the bundle of ``infohash``; returns its directory and manifest."""
    from evidence.errors import KeyMissing
    from heroes import __version__
    from monitors.errors import EvidenceError
    from monitors.evidence import export_infohash

    logs = sorted((Path(settings.data_dir) / "evidence").glob("*.chain.jsonl"))
    if not logs:
        raise NotFound(f"no probe evidence log under {Path(settings.data_dir) / 'evidence'}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    out = Path(settings.data_dir) / "exports" / f"{infohash}-{stamp}"
    try:
        manifest = export_infohash(settings, infohash, out, tool_version=__version__)
    except KeyMissing as exc:
        raise RequestError("infohash", f"cannot sign the export: {exc}") from exc
    except EvidenceError as exc:
        if "no observation" in str(exc):
            raise NotFound(str(exc)) from exc
        raise RequestError("infohash", str(exc)) from exc
    return out, manifest


def zip_bundle(bundle: Path) -> bytes:
    """The bundle's files in one zip (names relative to the bundle)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(bundle.rglob("*")):
            if path.is_file():
                archive.write(path, f"{bundle.name}/{path.relative_to(bundle).as_posix()}")
    return buffer.getvalue()
