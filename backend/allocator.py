"""The C allocator of the serving process: glibc's, held to fewer arenas.

glibc gives each thread that mallocs while another holds the lock an arena of its own, up to eight per
core, and keeps what is freed in each for that arena's next use. The server's worker threads (SQLite's
page caches and statements, request bodies) then hold several megabytes that the process no longer
uses: after bench/load.py's runs, 90 MB resident against 84 MB with two arenas. Two, not one: the
writing threads and the event loop's reads still rarely wait on each other's allocation.
"""

from __future__ import annotations

import os

ARENAS = 2
M_ARENA_MAX = -8  # glibc's malloc.h


def limit_arenas() -> None:
    """At most ARENAS arenas, before the server starts any thread; only on glibc, and only when the
    merchant has not chosen a number (MALLOC_ARENA_MAX or GLIBC_TUNABLES), which this would override."""
    chosen = "MALLOC_ARENA_MAX" in os.environ or "arena_max" in os.environ.get("GLIBC_TUNABLES", "")
    if chosen or "CS_GNU_LIBC_VERSION" not in os.confstr_names:
        return
    try:
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return
    except (OSError, ValueError):  # a libc that does not know the name
        return
    import ctypes

    ctypes.CDLL(None).mallopt(M_ARENA_MAX, ARENAS)
