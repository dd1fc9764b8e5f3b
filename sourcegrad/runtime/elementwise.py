"""Runtime helpers for elementwise rules: np.clip with bounds that may be None, known only at run time."""

from .core import array_namespace, helper


def _lower(x, a_min):
    return x if a_min is None else array_namespace(x).maximum(x, a_min)


@helper
def clip_passes(x, a_min, a_max):
    """Where np.clip(x, a_min, a_max) is x itself (bounds included), either bound maybe None."""
    inside = x == x  # everywhere (nan aside), then narrowed by each bound there is
    if a_min is not None:
        inside = inside & (x >= a_min)
    if a_max is not None:
        inside = inside & (_lower(x, a_min) <= a_max)
    return inside


@helper
def clip_takes_lower(x, a_min, a_max):
    """Where the result is a_min."""
    below = x < a_min
    return below & (_lower(x, a_min) <= a_max) if a_max is not None else below


@helper
def clip_takes_upper(x, a_min, a_max):
    """Where the result is a_max."""
    return _lower(x, a_min) > a_max
