"""Numba compilation flags, set in this one place for every kernel.

``cache=True`` keeps compiled machine code next to the package so a second run starts
fast; ``fastmath`` stays off so kernels agree with their numpy references to rounding.
"""

import numba

#: Serial kernels.
jit = numba.njit(cache=True, fastmath=False, nogil=True)

#: Kernels with a ``numba.prange`` loop over independent items (receptors, columns).
parallel_jit = numba.njit(cache=True, fastmath=False, nogil=True, parallel=True)

#: Pieces of a hot loop that numba inlines into every jitted caller (``inline="always"``,
#: at its own IR level, before LLVM sees the code): LLVM leaves large functions as calls,
#: which pass tuples through memory and let nothing be scheduled across them. Each inlined
#: copy is compiled again, so keep this to a few pieces with few callers.
inline_jit = numba.njit(cache=True, fastmath=False, nogil=True, inline="always")
