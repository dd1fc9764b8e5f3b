"""Runtime helpers for elementwise rules: np.clip with bounds that may be None, known only at run time, and
np.select's choices."""

from .core import _as_array, array_namespace, helper, unbroadcast


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


def _select_masks(condlist):
    """For each condition, where it is the first that holds; and where any of them holds."""
    taken = None
    masks = []
    for condition in condlist:
        masks.append(condition if taken is None else condition & ~taken)
        taken = condition if taken is None else taken | condition
    return masks, taken


@helper
def select_grad(grad, condlist, choicelist):
    """The gradients of np.select's choices: grad where a choice was picked, 0 elsewhere, each in its choice's shape."""
    grad = _as_array(grad, grad)
    xp = array_namespace(grad)
    masks, _ = _select_masks(condlist)
    return [unbroadcast(xp.where(mask, grad, 0).astype(grad.dtype, copy=False), choice)
            for mask, choice in zip(masks, choicelist)]


@helper
def select_default_grad(grad, condlist, default):
    """The gradient of np.select's default: grad where no condition holds."""
    grad = _as_array(grad, grad)
    _, taken = _select_masks(condlist)  # (numpy refuses an empty condlist: there is at least one)
    return unbroadcast(array_namespace(grad).where(taken, 0, grad).astype(grad.dtype, copy=False), default)
