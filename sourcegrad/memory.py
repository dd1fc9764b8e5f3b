"""keep_freed_memory(): let the C allocator keep the memory a process frees, instead of returning it.

glibc's malloc serves a block of 128 KiB or more (adjusted upwards as such blocks are freed, up to 32 MiB on
64-bit machines) straight from the kernel with mmap, and returns it with munmap when it is freed; it also
trims the top of its heap back to the kernel once 128 KiB or more are free there. A training loop frees and
allocates arrays of the same sizes every step, so each step then maps its large temporaries afresh and pays a
page fault per 4 KiB page touched. That is a property of the process's allocator, not of any code that runs
in it: the tutorial's own hand-written numpy step pays it as much as a generated backward pass does. Raising
both thresholds keeps freed blocks in the heap for the next step. It costs memory that the process keeps
after it has freed it, which is why it is a choice the program makes, once, for the whole process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

_M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold: int = 64 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Have the C allocator keep freed blocks below mmap_threshold bytes in the heap, and give memory back
    to the system only when more than trim_threshold bytes are free at the heap's top. True when it was
    done; False where the allocator is not glibc's (macOS, Windows, musl), which then keeps its own ways."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold))
