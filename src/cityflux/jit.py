"""Numba compilation flags, set in this one place for every kernel.

``cache=True`` keeps compiled machine code next to the package so a second run starts
fast; ``fastmath`` stays off so kernels agree with their numpy references to rounding.
"""

import numba

#: Serial kernels.
jit = numba.njit(cache=True, fastmath=False, nogil=True)

#: Kernels with a ``numba.prange`` loop over independent items (receptors, columns).
parallel_jit = numba.njit(cache=True, fastmath=False, nogil=True, parallel=True)
