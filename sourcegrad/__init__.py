"""sourcegrad: source-to-source automatic differentiation for numpy code.

    @sourcegrad.differentiate(wrt=("w1", "w2"))
    def loss_fn(x, y, w1, w2): ...

    loss, (d_w1, d_w2) = loss_fn.value_and_grad(x, y, w1, w2)
"""

__version__ = "0.1.0"

from .api import DifferentiableFunction, check_grad, differentiate, grad  # noqa: E402
from .errors import SourcegradError  # noqa: E402

__all__ = ["DifferentiableFunction", "SourcegradError", "check_grad", "differentiate", "grad", "__version__"]
