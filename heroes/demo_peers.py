"""The demo's last word: the ranked peers of the lab swarm and the export of the top one.

Ranks with :mod:`triage` over the demo's own index, prints the ranking with each score's
terms, explains the top peer and writes its legal-request export (CSV and JSON) under
``<data_dir>/exports/``, with the ``heroes peers`` command lines to re-run. Reads the
demo's settings (``triage``, ``enrichment``, ``data_dir``).
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from pathlib import Path

from config import Settings
from index.store import Store
from triage import export
from triage.ranking import Scope
from triage.service import Triage

SHOWN = 8


async def lines(settings: Settings, config_file: Path) -> list[str]:
    data_dir = Path(settings.data_dir)
    cli = f"heroes --config {shlex.quote(str(config_file))}"
    out = [f"$ {cli} peers list"]
    now = datetime.now(UTC)
    store = Store(settings)
    try:
        async with store.reader() as backend:
            triage = Triage(backend, settings.triage, settings.enrichment, data_dir)
            try:
                rows = await triage.rows(Scope(), now)
                if not rows:
                    return [*out, "  no peer seen in a flagged swarm"]
                for r in rows[:SHOWN]:
                    terms = " + ".join(f"{k} {v:.2f}" for k, v in r["terms"].items() if v)
                    out.append(f"  {r['rank']:>2}. {r['ip']:<16} score {r['score']:6.2f}  "
                               f"{r['swarms']} swarms, L{r['level']}, "
                               f"{r['completeness']:.0%} pieces  ({terms})")
                top = rows[0]["ip"]
                table, meta = await triage.export_table(top)
            finally:
                triage.close()
    finally:
        store.close()
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    written = []
    for fmt in export.FORMATS:
        path = data_dir / "exports" / f"peer-{top.replace(':', '_')}-{stamp}.{fmt}"
        export.write(path, fmt, top, table, meta)
        written.append(str(path))
    out += [f"$ {cli} peers show {top}",
            f"$ {cli} peers export {top} --out {shlex.quote(written[0])}",
            f"  {len(table)} sightings of {top} (port, UTC second, infohash, level, record "
            f"hash; {meta['without_evidence_records']} without evidence records):",
            *(f"    {p}" for p in written)]
    return out
