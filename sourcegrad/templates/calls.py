"""Which array methods use which rule, which operations carry no gradient, which calls make new arrays, and
what the memory plan needs to know of the runtime helpers the generated code calls.

A method such as `x.sum(axis=1)` shares the rule of the numpy function
`np.sum(x, axis=1)`. Operations listed as non-differentiable give values
that are constants as far as gradients go (a shape, a comparison, an array
of zeros); an operation with no rule at all is an error, never a zero.
"""

import builtins
import math
import operator

import numpy as np

from ..ir import COMPARISON, DICT_KEYS, Method
from ..runtime import HELPERS, dot_grad_left, dot_grad_right, matmul_grad_left, matmul_grad_right
from ..runtime.indexing import dtype_of, index_grad, zero_tangent, zeros_gradient
from .registry import attribute, describe, makes_new_arrays, method, nondifferentiable

# ---- methods and attributes that share a function's rule ---------------------------------------------

method("sum", np.sum)
method("mean", np.mean)
method("dot", np.dot)
method("clip", np.clip)
method("reshape", np.reshape, pack_varargs=True)
method("transpose", np.transpose, pack_varargs=True)
method("item", builtins.float)  # `x.item()` of a one-item float array: the number float(x) gives
attribute("T", np.transpose)

# ---- values that carry no gradient ------------------------------------------------------------------

# (`a or b` returns one of its operands, so it is not listed: with a gradient it is an error.)
nondifferentiable(COMPARISON, why="comparisons give booleans", rank="elementwise")
nondifferentiable(operator.not_, why="`not` gives a boolean")
nondifferentiable(DICT_KEYS, why="a dict's keys are strings or numbers the function wrote")
nondifferentiable(operator.and_, operator.or_, operator.xor,
                  why="`&`, `|` and `^` combine masks or integers, which carry no gradient")
nondifferentiable(Method("shape", is_call=False), Method("ndim", is_call=False), Method("size", is_call=False),
                  Method("dtype", is_call=False), len, np.shape, np.ndim, np.size, why="it describes an array's shape")
nondifferentiable(operator.floordiv, why="its derivative is zero wherever it exists", rank="elementwise")
nondifferentiable(np.zeros_like, np.ones_like, np.empty_like, np.sign,
                  np.floor, np.ceil, np.round, np.rint, np.trunc, np.fix, np.argmax, np.argmin, np.argsort, np.argpartition,
                  np.isnan, np.isinf, np.isfinite, np.count_nonzero,
                  Method("argmax"), Method("argmin"), Method("argsort"), Method("argpartition"), Method("round"),
                  builtins.round, builtins.int, builtins.bool, math.floor, math.ceil, math.trunc, math.isnan,
                  math.isinf, math.isfinite,
                  why="its derivative is zero wherever it exists")
# numpy's integer and boolean scalar types as casts: np.int64(x) truncates as int(x) does
nondifferentiable(np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.intp, np.bool_,
                  why="it makes integers or booleans, whose derivative is zero wherever it exists")
nondifferentiable(zeros_gradient, zero_tangent, why="it makes zeros in its argument's shape")  # differentiated by hvp
nondifferentiable(dtype_of, why="it reads a dtype")  # forward mode's argument of stored_derivative, for hvp

# ---- calls that always make a new array (besides ufuncs and the rules marked new_array=True) ----------

makes_new_arrays(np.zeros, np.ones, np.empty, np.full, np.zeros_like, np.ones_like, np.empty_like, np.full_like,
                 np.arange, np.linspace, np.eye, np.identity)
# runtime helpers the generated backward pass calls
makes_new_arrays(zeros_gradient, zero_tangent, index_grad, matmul_grad_left, matmul_grad_right, dot_grad_left, dot_grad_right)

# ---- runtime helpers: what they return, and what they read of their arguments ------------------------------

# Each returns its first argument (the gradient it was handed), a view of it, or a new array, never another
# argument: a gradient added into in place must own its array.
describe(*(HELPERS[name] for name in ("unbroadcast", "unreduce", "split_grad", "unstack_grad", "hstack_grad", "vstack_grad")),
         result="view of first argument")
# unbroadcast(grad, target) and unreduce(grad, target, ...) read target for its shape alone, and so do
# index_grad(grad, x, index) its x and element_count(x) its x: the tape keeps that shape where nothing else reads it.
describe(HELPERS["unbroadcast"], HELPERS["unreduce"], index_grad, reads_shape_of=1)
# stored_derivative(derivative, target) reads target for its dtype alone, which the tape's Ghost keeps too
describe(HELPERS["stored_derivative"], reads_shape_of=1)
describe(HELPERS["element_count"], reads_shape_of=0)
# The result's shape and dtype follow from the arguments' (unbroadcast's is its target's, output_gradient's its
# value's), and so do an array's shape, rank, dtype and size: what the `_into` variant's buffers are keyed on.
describe(HELPERS["unbroadcast"], HELPERS["output_gradient"], Method("shape", is_call=False), Method("ndim", is_call=False),
         Method("size", is_call=False), Method("dtype", is_call=False), shape="arguments")
