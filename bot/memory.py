"""Keeping the process's memory flat on glibc (Linux), where a long-running asyncio service
otherwise grows slowly without holding more objects: each thread that allocates may get a malloc
arena of its own, and freed memory stays with the process. Measured in the reliability run
(docs/reliability.md): Python objects stay level while resident memory climbs, unless arenas
are limited and free memory is handed back. Elsewhere (macOS, musl) both are no-ops."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

M_ARENA_MAX = -8
"""mallopt's parameter for the number of malloc arenas (glibc's malloc.h)."""


@cache
def _glibc() -> Any | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 - present on glibc only
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas(arenas: int = 2) -> bool:
    """Use at most ``arenas`` malloc arenas; call before threads start (at start-up). Returns
    whether it applied (glibc only)."""
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(M_ARENA_MAX, arenas) == 1)


def give_back() -> None:
    """Collect garbage, then hand free heap memory back to the system (a few milliseconds;
    the bot does it every few minutes)."""
    gc.collect()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
