"""The malloc arena cap: set on glibc unless the operator set MALLOC_ARENA_MAX, and what it is
for: index writers committing small batches from their threads do not grow the process. And
the resident peak a process reports is its own, not that of the process that started it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from telemetry.native_memory import limit_malloc_arenas

# Ten tantivy writers (one per document kind, as the store has), 50 small commits each.
WORKLOAD = textwrap.dedent("""
    import sys, tempfile
    from telemetry.native_memory import limit_malloc_arenas
    if sys.argv[1] == "capped":
        assert limit_malloc_arenas()
    import tantivy
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=True)
    schema = builder.build()
    root = tempfile.mkdtemp()
    writers = []
    for k in range(10):
        index = tantivy.Index(schema, path=tempfile.mkdtemp(dir=root))
        writers.append((index, index.writer(heap_size=128 * 2**20, num_threads=2)))
    for i in range(50):
        for index, writer in writers:
            writer.add_document(tantivy.Document(body=f"generic market text {i} " * 20))
            writer.commit()
            index.reload()
    rss = next(line for line in open("/proc/self/status") if line.startswith("VmRSS"))
    print(int(rss.split()[1]) // 1024)
""")


def _rss_mb(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", WORKLOAD, mode], capture_output=True,
                          text=True, timeout=300, check=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)})
    return int(done.stdout.strip())


def test_the_operators_own_setting_is_left_alone() -> None:
    assert limit_malloc_arenas({"MALLOC_ARENA_MAX": "8"}) is False


def test_capped_arenas_keep_committing_writers_small() -> None:
    capped, default = _rss_mb("capped"), _rss_mb("default")
    # Measured: ~75 MB capped, ~270 MB with glibc's default arenas on two cores.
    assert capped < 150, (capped, default)
    assert capped < default, (capped, default)


# A parent of 300 MB starts a child that reports both peaks.
BIG_PARENT = textwrap.dedent("""
    import subprocess, sys
    big = bytearray(300 * 2**20)
    for i in range(0, len(big), 4096):
        big[i] = 1
    child = ("import resource; from telemetry.native_memory import peak_resident_kb; "
             "print(peak_resident_kb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    sys.stdout.write(subprocess.run([sys.executable, "-c", child], capture_output=True,
                                    text=True, check=True).stdout)
""")


def test_the_peak_is_the_processs_own_not_its_parents() -> None:
    done = subprocess.run([sys.executable, "-c", BIG_PARENT], capture_output=True, text=True,
                          timeout=120, check=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)})
    own, inherited = (int(v) for v in done.stdout.split())
    assert own < 100 * 1024, own
    assert inherited > 300 * 1024  # ru_maxrss: why it is not used
