"""Which array methods use which rule, and which operations carry no gradient.

A method such as `x.sum(axis=1)` shares the rule of the numpy function
`np.sum(x, axis=1)`. Operations listed as non-differentiable give values
that are constants as far as gradients go (a shape, a comparison, an array
of zeros); an operation with no rule at all is an error, never a zero.
"""

import operator

import numpy as np

from ..frontend.normalize import COMPARISON
from ..ir import Method
from .registry import attribute, method, nondifferentiable

# ---- methods and attributes that share a function's rule ---------------------------------------------

method("sum", np.sum)
method("mean", np.mean)
method("dot", np.dot)
method("clip", np.clip)
method("reshape", np.reshape, pack_varargs=True)
method("transpose", np.transpose, pack_varargs=True)
attribute("T", np.transpose)

# ---- values that carry no gradient ------------------------------------------------------------------

# (`a or b` returns one of its operands, so it is not listed: with a gradient it is an error.)
nondifferentiable(COMPARISON, operator.not_, why="comparisons and `not` give booleans")
nondifferentiable(Method("shape", is_call=False), Method("ndim", is_call=False), Method("size", is_call=False),
                  Method("dtype", is_call=False), len, np.shape, np.ndim, np.size, why="it describes an array's shape")
nondifferentiable(np.zeros_like, np.ones_like, np.empty_like, np.full_like, np.sign, operator.floordiv,
                  np.floor, np.ceil, np.round, np.rint, np.trunc, np.argmax, np.argmin, np.argsort,
                  np.isnan, np.isinf, np.isfinite, np.count_nonzero,
                  Method("argmax"), Method("argmin"), Method("argsort"), Method("round"),
                  why="its derivative is zero wherever it exists")
