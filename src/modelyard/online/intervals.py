"""95% intervals for the A/B read-out that stay honest with few labels."""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson(successes: int, n: int) -> tuple[float, float]:
    """Wilson's 95% score interval for a proportion: never zero-width, unlike p ± z·se."""
    p, z2 = successes / n, Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return centre - half, centre + half


def newcombe(ca: int, na: int, cb: int, nb: int) -> tuple[float, float]:
    """95% interval of pb - pa by Newcombe's hybrid score method (1998, method 10).

    The plain Wald interval collapses when an arm is all right or all wrong (9 of 9 gives a
    zero-width interval); this one stays honest with few labels."""
    pa, pb = ca / na, cb / nb
    la, ua = wilson(ca, na)
    lb, ub = wilson(cb, nb)
    difference = pb - pa
    return (
        difference - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2),
        difference + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2),
    )
