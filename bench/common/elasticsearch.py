"""The Elasticsearch node of a benchmark run: a given one, or the test node started for it.

Without a URL, Elasticsearch's test distribution from ``.cache/elasticsearch``
(``make es-node``) is started on 127.0.0.1 with the given heap, on a data directory under
/tmp (the node runs as an unprivileged user), and stopped and removed when the run ends.
Nothing is downloaded. Reads no settings.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from heroes.lab.elasticsearch_node import NodeHandle, start_node

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class BenchNode:
    url: str
    pid: int | None  # the node's process when this run started it (for its memory)
    data: Path | None = None  # its data directory when this run started it


@contextlib.contextmanager
def es_node(url: str | None, heap: str, prefix: str = "heroes-es-bench-",
            deadline_s: float = 120.0) -> Iterator[BenchNode]:
    """``url``'s node, or a test node kept up for the ``with`` block (started within
    ``deadline_s``: more on a busy machine)."""
    if url:
        yield BenchNode(url, None)
        return
    data = Path(tempfile.mkdtemp(prefix=prefix))
    node: NodeHandle | None = None
    try:
        node = start_node(ROOT / ".cache" / "elasticsearch", data, heap=heap,
                          deadline_s=deadline_s)
        yield BenchNode(node.url, node.process.pid if node.process is not None else None,
                        data)
    finally:
        if node is not None:
            node.stop()
        shutil.rmtree(data, ignore_errors=True)
