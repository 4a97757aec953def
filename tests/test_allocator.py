"""The serving process's allocator: glibc held to two arenas however many threads allocate at once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GLIBC = "CS_GNU_LIBC_VERSION" in os.confstr_names and (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")

# Threads that allocate at the same time, each a block glibc serves from an arena, then malloc_info's
# count of arenas (one <heap> element each) on stdout.
ALLOCATE = textwrap.dedent("""
    import ctypes, sys, threading
    from backend.allocator import limit_arenas
    if sys.argv[1] == "limited":
        limit_arenas()
    libc = ctypes.CDLL(None)
    libc.malloc.restype = libc.fdopen.restype = ctypes.c_void_p
    start = threading.Barrier(16)
    def allocate():
        start.wait()
        for _ in range(2000):
            libc.free(ctypes.c_void_p(libc.malloc(4096)))
    threads = [threading.Thread(target=allocate) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stream = libc.fdopen(1, b"w")
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fflush(ctypes.c_void_p(stream))
""")


def arenas(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", ALLOCATE, mode], env=env, capture_output=True, text=True, check=True)
    return out.stdout.count("<heap nr=")


@pytest.mark.skipif(not GLIBC, reason="the arena limit applies to glibc only")
def test_two_arenas_at_most_however_many_threads_allocate():
    # Without the limit, the same threads made 16 arenas on a two-core machine.
    assert arenas("limited") <= 2
