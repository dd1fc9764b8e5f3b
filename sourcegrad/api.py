"""The public API: differentiate, grad, check_grad.

    @sourcegrad.differentiate(wrt=("w1", "w2"))
    def loss_fn(x, y, w1, w2): ...

    loss_fn(x, y, w1, w2)                  # the original function, unchanged
    loss_fn.grad(x, y, w1, w2)             # (d_w1, d_w2)
    loss_fn.value_and_grad(x, y, w1, w2)   # (loss, (d_w1, d_w2))
    loss_fn.backward_source                # the generated Python
"""

from __future__ import annotations

import functools
import inspect
import operator
import sys
import threading
import weakref

import numpy

from .compiler import Frontend
from .frontend.source import function_to_differentiate
from .frontend.values import describe
from .templates import registry
from .errors import SourcegradError
from .checking import finite_difference_check
from .runtime import NUMPY, OutputGradientError, array_module_for
from .runtime.device import array_leaves, device_of, into_graph, is_dask, to_device  # noqa: F401  (to_device: part of the API)
from .runtime.checkpoint import checkpoint  # noqa: F401  (part of the API)
from .memory import keep_freed_memory  # noqa: F401  (part of the API)
from .runtime.buffers import memory_root, signature
from .runtime.core import instance_attributes, object_attributes, sequence_like

OPTIONS = ("grad_output", "device", "into", "lazy")  # value_and_grad's own keywords, never a parameter's
_compiled_files = []  # every generated file this process compiled or loaded, in order (for the CLI)
_LIVE = weakref.WeakSet()  # every DifferentiableFunction alive


def _forget_compiled():
    """A gradient rule registered, replaced or taken away: every compiled gradient may apply the old one, so each
    table is emptied and the next call compiles (or loads) anew. The call path then need not ask each time."""
    for function in list(_LIVE):
        for table in (function._compiled, function._compiled_forward, function._compiled_hvp):
            table.clear()


registry.on_change(_forget_compiled)


def compiled_files():
    return list(_compiled_files)


class DifferentiableFunction:
    """A function together with its compiled gradients (one per combination of argument ranks)."""

    def __init__(self, fn, wrt=None, generated_dir=None, device=None, has_aux=False):
        if isinstance(fn, DifferentiableFunction):
            fn = fn.fn
        if not callable(fn):
            raise SourcegradError(f"differentiate expects a function, got {fn!r}")
        _wraps(self, fn)
        self.fn = fn  # what a call runs
        self.source_fn = function_to_differentiate(fn)  # whose code is differentiated: fn, or what it passes through to
        self.generated_dir = generated_dir
        self.device = device  # "cpu", "cuda", "dask", or None: the arguments decide
        self.has_aux = bool(has_aux)  # fn returns `value, aux`: value is differentiated, aux handed back beside it
        self._frontend = None
        self._wrt_argument = wrt  # as given: resolved again where the function differentiated changes (_target)
        self._target(self.source_fn)
        self._single = wrt is None or isinstance(wrt, (str, int))
        self._compiled = {}
        self._last = None
        self._compiled_forward = {}  # forward mode (jvp), compiled on first use
        self._last_forward = None
        self._compiled_hvp = {}  # Hessian-vector products
        self._last_hvp = None
        self._lock = threading.Lock()
        _LIVE.add(self)  # its compiled gradients forgotten when a rule changes (_forget_compiled)

    def _target(self, source_fn):
        """Take the parameters and wrt from source_fn, the function differentiated: fn, or the function a
        decorator's wrapper passes through to (another once the wrapper calls another, see _current_frontend)."""
        parameters = _parameter_names(source_fn, varargs=True)
        declared = _signature(source_fn).parameters.values()
        # `*args`: a parameter holding a tuple, which the generated function takes as one argument
        vararg = next((p.name for p in declared if p.kind is inspect.Parameter.VAR_POSITIONAL), None)
        clashing = [p for p in parameters if p in OPTIONS]  # value_and_grad's own keywords
        if clashing:
            raise SourcegradError(f"{self.fn.__qualname__} has a parameter named {clashing[0]!r}, which value_and_grad "
                                  f"and grad take as their own option ({', '.join(OPTIONS)})",
                                  hint=f"Rename the parameter ({clashing[0]}_ say).")
        if len(parameters) != len(declared) and self._frontend is None:
            self._frontend = Frontend(self.fn, self.has_aux)  # `*args` / `**kwargs`: the front end's fence says why, with the line
        wrt = _resolve_wrt(source_fn, parameters, self._wrt_argument, vararg)
        self.source_fn, self._parameters, self._vararg, self.wrt = source_fn, parameters, vararg, wrt
        self._wrt_positions = tuple(parameters.index(name) for name in wrt)
        self._keyword_only = any(p.kind is inspect.Parameter.KEYWORD_ONLY for p in declared)
        # what the dtype check after a call reads, for the usual one or two gradients
        self._gradient_count = len(self._wrt_positions)
        self._first_position = self._wrt_positions[0] if self._wrt_positions else None
        self._second_position = self._wrt_positions[1] if len(self._wrt_positions) > 1 else None

    def _current_frontend(self):
        """The front end of the function as it is now (called with self._lock held): read again where it went
        stale (another code object in its place, or a wrapper looked through now calling other code), and then
        the parameters and wrt taken anew from the function it reads."""
        if self._frontend is None or self._frontend.stale():
            frontend = Frontend(self.fn, self.has_aux)
            if frontend.src.fn is not self.source_fn:
                self._target(frontend.src.fn)
            self._frontend = frontend
        return self._frontend

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __get__(self, instance, owner):
        # A decorated method: `model.loss.grad(x, y)` passes model as the first argument (self).
        return self if instance is None else BoundDifferentiableFunction(self, instance)

    def __repr__(self):
        return f"<sourcegrad.differentiate {self.fn.__qualname__} wrt {', '.join(self.wrt)}>"

    # ---- gradients ---------------------------------------------------------------

    def value_and_grad(self, *args, **kwargs):  # keywords: the options below (OPTIONS), then the function's own
        """Return (f(*args), gradients): one array for one `wrt` argument, else a tuple in `wrt` order. With
        has_aux, f(*args) is the pair `(value, aux)` the function returns, and only value is differentiated.

        grad_output is the gradient of the output; it is needed only when f does not return a scalar.
        device ("cpu", "cuda" or "dask") overrides the function's; by default the arguments' arrays decide, and the
        gradients stay on their device. The same generated code runs on each.
        into: arrays to write the gradients into (one for one `wrt` argument, else one per argument, each
        of its argument's shape and dtype), returned as the gradients; the call's temporaries are then kept
        for the next call with into=. Without it every call returns new arrays, never overwritten later.
        On dask (device="dask", or dask arrays among the arguments) the value and gradients are computed with one
        dask.compute and returned as numpy arrays; lazy=True returns them as dask arrays instead.
        """
        # One path for every call: the compiled gradient's key (a rank per argument), one dict lookup, the
        # generated function, and the gradients' dtypes checked. It costs about what a hand-written training
        # step's own Python costs, so it is written for speed: no helper calls where a line will do, and what
        # a call may bring besides arrays by position (keywords, `*args` to pack, a device, into=, grad_output)
        # is read only when it brings it.
        # The options arrive among the keywords: a signature of keyword-only options costs a call more than
        # reading them from a dict that is almost always empty (inspect.signature shows them; see below).
        options = None
        if kwargs:  # the options taken out first: a call passing into= alone keeps the quick key below
            called = args, kwargs  # as the caller passed them, for the compiler's binding of names
            kwargs, options = _options(kwargs)
        if kwargs or self._vararg is not None:
            if self._vararg is not None:
                if options is None:
                    called = args, kwargs
                args, kwargs = self._packed(args, kwargs)
            count, key = 0, _rank_key(args, kwargs)  # the call below passes them on as they are
        else:  # arguments by position only, as a training loop passes them: unpacked for the usual counts, the
            count = len(args)  # key written out (cheaper than map() and tuple()) and the call below made from them
            try:
                if count == 4:
                    a, b, c, d = args
                    key = (a.ndim, b.ndim, c.ndim, d.ndim)
                elif count == 2:
                    a, b = args
                    key = (a.ndim, b.ndim)
                elif count == 3:
                    a, b, c = args
                    key = (a.ndim, b.ndim, c.ndim)
                else:
                    key = tuple(map(_NDIM, args))
            except AttributeError:  # a Python number or a structure among the arguments
                key = _rank_key(args, kwargs)
        try:
            compiled = self._compiled[key]  # emptied when a gradient rule is registered (_forget_compiled)
            # Compiled.current(), written out for speed: the first global it calls through (`np`; KeyError
            # where it was deleted), the code object (`f.__code__ = g.__code__`), then the rest where it has more
            namespace, name, obj = compiled.name_guard
            if namespace[name] is not obj or compiled.code_owner.__code__ is not compiled.code \
                    or compiled.has_more_guards and not compiled.more_guards_hold():
                raise KeyError
        except KeyError:  # ranks not compiled yet, or stale
            compiled = None
        if compiled is None:  # compiled outside the except: a refusal is not shown as raised "during" a KeyError
            compiled = self._compile(*called) if options is not None or self._vararg is not None \
                else self._compile(args, kwargs)
        if options is None and self.device is None and "cupy" not in _MODULES and "dask" not in _MODULES:
            xp = NUMPY
        else:  # the arrays' library or the device named says which array module the code runs on
            grad_output, device, into, lazy = options or _NO_OPTIONS
            numpy_only = device is None and self.device is None and "cupy" not in _MODULES and "dask" not in _MODULES
            xp = NUMPY if numpy_only else array_module_for((*args, *kwargs.values()), device or self.device)
            if xp is not NUMPY and is_dask(xp):
                return self._dask_call(compiled, xp, args, kwargs, grad_output, into, lazy)
            if into is not None:
                return self._into_call(compiled, xp, args, kwargs, grad_output, into)
            if grad_output is not None:
                kwargs[compiled.seed] = grad_output
                count = 0
        function = compiled.function
        try:
            # the arguments passed on one by one where they were unpacked for the key: CPython then calls the
            # generated function without building them into a tuple again
            if count == 4:
                result = function(xp, a, b, c, d)
            elif count == 2:
                result = function(xp, a, b)
            elif count == 3:
                result = function(xp, a, b, c)
            else:
                result = function(xp, *args, **kwargs)
            value, gradients = result  # a new tuple, as the generated function returns it: returned as it is
        except OutputGradientError as exc:
            self._cannot_start(compiled, exc)
        except SourcegradError as exc:  # raised by a runtime helper: point at the user's line
            raise compiled.locate(exc) from None
        if compiled.checks_shapes:  # sourcegrad's own rules keep shapes; a rule of the user's may not
            self._check_shapes(compiled, gradients, args, kwargs)
        # Each gradient real and in its argument's dtype, as it almost always is; else _returned casts (float32
        # weights meeting a float64 constant) or refuses (complex). The usual one or two gradients of one dtype
        # are checked in a few steps.
        try:
            count = self._gradient_count
            # A dtype is first compared with float64 and float32 by identity: `in _REAL_FLOATS` hashes it each time.
            if count == 2:
                gradient, other = gradients
                if type(gradient) is _NDARRAY is type(other):
                    dtype, second = gradient.dtype, other.dtype
                    if dtype is args[self._first_position].dtype and second is args[self._second_position].dtype \
                            and (dtype is _FLOAT64 or dtype is _FLOAT32 or dtype in _REAL_FLOATS) \
                            and (second is dtype or second in _REAL_FLOATS):
                        return result
            elif count == 1:
                gradient = gradients[0]
                if type(gradient) is _NDARRAY:
                    dtype = gradient.dtype
                    if dtype is args[self._first_position].dtype \
                            and (dtype is _FLOAT64 or dtype is _FLOAT32 or dtype in _REAL_FLOATS):
                        return value, (gradient if self._single else gradients)
        except (AttributeError, IndexError, TypeError, ValueError):  # a number, a structure, an argument by keyword
            pass
        return self._returned(value, gradients, args, kwargs)

    def _check_shapes(self, compiled, gradients, args, kwargs):
        """Each gradient of its argument's shape, leaf by leaf: a gradient rule of the user's that forgets to sum a
        broadcast gradient back (`d[b] = d[result]` for a bias) is an error here, not a gradient of another shape."""
        for index, gradient in enumerate(gradients):
            name = self.wrt[index]
            for path, leaf, argument in _leaf_pairs(gradient, self._argument(index, args, kwargs)):
                if hasattr(argument, "shape") and tuple(getattr(leaf, "shape", ())) != tuple(argument.shape):
                    raise SourcegradError(
                        f"the gradient of {name}{path} has shape {tuple(getattr(leaf, 'shape', ()))}, but {name}{path} "
                        f"has shape {tuple(argument.shape)}: a gradient rule of yours that this function applies "
                        f"({', '.join(compiled.user_rules)}) gives a gradient of another shape than its argument's",
                        hint="In the rule, sum a broadcast gradient back to its argument's shape: "
                             "`d[b] = unbroadcast(d[result], b)` (from sourcegrad.runtime).")

    def _dask_call(self, compiled, xp, args, kwargs, grad_output, into, lazy):
        """On dask: the generated function builds the graph, one dask.compute runs it (value and gradients
        together, so the chunks of the data are read once)."""
        if into is not None:
            raise SourcegradError("into= is not supported on dask: its gradients are new arrays from dask.compute",
                                  hint="Leave into= out on device='dask'.")
        _refuse_row_loops(compiled, {**dict(zip(self._parameters, args)), **kwargs})
        graph_kwargs = {name: into_graph(value) for name, value in kwargs.items()}
        if grad_output is not None:
            graph_kwargs[compiled.seed] = grad_output
        try:
            value, gradients = compiled.function(xp, *map(into_graph, args), **graph_kwargs)
            if not lazy:
                import dask

                value, gradients = dask.compute(value, gradients)
        except OutputGradientError as exc:
            self._cannot_start(compiled, exc)
        except SourcegradError as exc:
            raise compiled.locate(exc) from None
        except Exception as exc:  # dask's own refusal: say where, and what chunked data cannot do
            error = SourcegradError(f"on dask: {type(exc).__name__}: {exc}", hint=_ON_DASK_HINT)
            raise compiled.locate(error.with_traceback(exc.__traceback__)) from exc
        if compiled.user_rules:
            self._check_shapes(compiled, gradients, args, kwargs)
        return self._returned(value, gradients, args, kwargs)

    @staticmethod
    def _cannot_start(compiled, exc):
        raise SourcegradError(f"cannot start the backward pass: {exc}", compiled.return_location,
                              "Return a scalar (for example a loss summed with .sum()); to hand back other values beside "
                              "a loss, return `loss, aux` and differentiate with has_aux=True; or pass grad_output=: "
                              "an array of the output's shape, or for a tuple, list or dict output the same "
                              "structure of arrays (None for an item that weighs nothing).") from None

    def _returned(self, value, gradients, args, kwargs=None):
        """What value_and_grad returns: each gradient in its argument's dtype (almost always it is already; a
        Python number is made an array), one array for one `wrt` argument, else the tuple."""
        try:
            for position, gradient in zip(self._wrt_positions, gradients):
                if gradient.dtype is not args[position].dtype or gradient.dtype not in _REAL_FLOATS \
                        or isinstance(gradient, _NOT_PLAIN_ARRAYS):
                    raise AttributeError
        except (AttributeError, IndexError):  # another dtype, a number, a structure, an argument by keyword
            gradients = self._like_inputs(gradients, args, kwargs or {})
        return value, (gradients[0] if self._single else gradients)

    def _into_call(self, compiled, xp, args, kwargs, grad_output, into):
        """A call with into=: the `_into` variant writes the gradients into the caller's arrays and its
        temporaries into buffers kept for the next call of the same signature. Whether an operation may write
        a gradient straight into its array is decided before the call (its layout, and the dtype the set's
        first call gave that gradient), so no operation refuses its `out=` and nothing runs twice."""
        # one array per gradient; an array alone for one gradient
        targets = into if type(into) is tuple else tuple(into) if isinstance(into, (tuple, list)) else (into,)
        if len(targets) != len(self.wrt):
            raise SourcegradError(f"into= has {len(targets)} arrays for {len(self.wrt)} gradients ({', '.join(self.wrt)})",
                                  hint="Pass one array per wrt argument, in wrt order.")
        call_signature = signature(args, kwargs, grad_output)
        if not kwargs and grad_output is None and self._plain_into(targets, args, call_signature):
            writable = True  # the usual into=: every operation may write its gradient straight in
        else:
            writable = self._into_targets(targets, args, kwargs, grad_output)
        call_kwargs = {**kwargs, compiled.seed: grad_output} if grad_output is not None else kwargs
        buffered = compiled.buffered()
        try:
            if buffered is None:
                value, gradients = compiled.function(xp, *args, **call_kwargs)
            else:
                buffers = compiled.pool.take(call_signature)
                learned = buffers.writes_into
                if learned is True and writable is True:  # the usual call
                    out = targets
                elif learned is None:  # the set's first call: each gradient in an array of its own
                    out = (None,) * len(targets)
                else:
                    out = tuple(target if (learned is True or learned[i]) and (writable is True or writable[i])
                                else None for i, target in enumerate(targets))
                if call_kwargs:
                    value, gradients = buffered(xp, buffers.arrays, out, *args, **call_kwargs)
                else:
                    value, gradients = buffered(xp, buffers.arrays, out, *args)
                if learned is None:
                    buffers.learn(gradients, targets)
                compiled.pool.give_back(buffers)
        except OutputGradientError as exc:
            self._cannot_start(compiled, exc)
        except SourcegradError as exc:
            raise compiled.locate(exc) from None
        if compiled.user_rules:
            self._check_shapes(compiled, gradients, args, kwargs)
        for target, gradient in zip(targets, gradients):
            if gradient is not target:  # computed in an array of its own: copied in
                _write_into(target, gradient)
        return value, (targets[0] if self._single else targets)

    def _into_targets(self, targets, args, kwargs, grad_output=None):
        """Whether an operation may write each into= array with `out=` (True for all, else one bool each), after
        checking each is its argument's kind of array and shares no memory with the call's other arrays. A
        C-contiguous, aligned array is taken by every operation that has `out=` (numpy's dot takes no other);
        any other is written by a copy."""
        # What each input's memory belongs to: an array that owns its memory (its base is None, and the cheap
        # one to compare), or, rarely, something numpy must be asked about (an array over a bytes object).
        # Arrays inside a list, a dict, an object or the tuple of a `*args` parameter are inputs too.
        inputs = [value for value in array_leaves((*args, *kwargs.values(), grad_output)) if hasattr(value, "shape")]
        owners, unowned = set(), []
        for value in inputs:
            base = getattr(value, "base", _NOT_AN_ARRAY)
            if base is None:
                owners.add(id(value))
            elif base is not _NOT_AN_ARRAY:
                root = memory_root(value)
                if getattr(root, "base", 0) is None:
                    owners.add(id(root))
                elif hasattr(value, "shape"):
                    unowned.append(value)
        taken = set()  # the owners of the into= arrays so far
        positions, count = self._wrt_positions, len(args)
        for index, target in enumerate(targets):
            position = positions[index]
            argument = args[position] if position < count else self._argument(index, args, kwargs)
            if not (hasattr(argument, "shape") and hasattr(target, "shape")) or not _same_array_type(target, argument) \
                    or target.shape != argument.shape or target.dtype != argument.dtype:
                raise self._into_mismatch(index, target, argument)
            if target.dtype.kind == "c":
                raise _complex_error()
            if not getattr(target.flags, "writeable", True):  # cupy has no such flag: its arrays always are
                raise SourcegradError(f"into[{index}] is read-only", hint="Pass arrays the gradients may be written "
                                      "into (empty_like).")
            root = target if target.base is None else memory_root(target)
            if getattr(root, "base", 0) is None:  # views of one array count as sharing it, even disjoint slices
                shares_input = id(root) in owners or (unowned and any([_may_share_memory(target, a) for a in unowned]))
                shares_other = id(root) in taken
                taken.add(id(root))
            else:
                shares_input = any([_may_share_memory(target, a) for a in inputs])
                shares_other = any([_may_share_memory(target, other) for other in targets[:index]])
            if shares_input or shares_other:
                what = "an argument of the call (or grad_output)" if shares_input else "another array of into="
                raise SourcegradError(f"into[{index}] shares memory with {what}: the gradient would overwrite "
                                      "what it is computed from", hint="Pass arrays of their own (empty_like).")
        return tuple(bool(target.flags.c_contiguous and getattr(target.flags, "aligned", True)) for target in targets)

    def _plain_into(self, targets, args, call_signature):
        """Whether into= is the usual kind, checked in one pass since a training loop passes it every step: each
        into= array of its argument's type, shape and dtype (as the call's signature has them), a real floating
        one, C-contiguous, aligned and writeable (numpy's flags.carray); every argument and into= array an array
        that owns its memory (no base), and no two of them one array. Arrays that own their memory share none
        of it unless they are one array. Anything else is for the general checks to accept or refuse."""
        try:
            for value in args:
                if value.base is not None:
                    return False
            for target, position in zip(targets, self._wrt_positions):
                dtype = target.dtype
                if target.base is not None or (type(target), target.shape, dtype) != call_signature[position] \
                        or not (dtype is _FLOAT64 or dtype is _FLOAT32 or dtype in _REAL_FLOATS) \
                        or not target.flags.carray:
                    return False
        except (AttributeError, IndexError, TypeError):  # a number or a structure among the arguments
            return False
        return len({*map(id, args), *map(id, targets)}) == len(args) + len(targets)

    def _into_mismatch(self, index, target, argument):
        name = self.wrt[index]
        if not (hasattr(argument, "shape") and hasattr(argument, "dtype")):
            return SourcegradError(f"into= can take the gradient of {name} only if {name} is an array; it is "
                                   f"a {type(argument).__name__}", hint="Leave into= out for this function.")
        got = f"{type(target).__name__} {getattr(target, 'shape', '')} {getattr(target, 'dtype', '')}"
        return SourcegradError(f"into[{index}] is a {got.strip()}, but the gradient of {name} is a "
                               f"{type(argument).__name__} {argument.shape} {argument.dtype}",
                               hint=f"Pass an array like {name}: xp.empty_like({name}).")

    def _like_inputs(self, gradients, args, kwargs):
        return tuple(_like_input(g, self._argument(i, args, kwargs)) for i, g in enumerate(gradients))

    def grad(self, *args, **kwargs):  # keywords: value_and_grad's options, then the function's own
        """The gradients of f at args: one array for one `wrt` argument, else a tuple in `wrt` order. With
        has_aux, `(gradients, aux)`, as JAX's grad(..., has_aux=True) returns them. Options as value_and_grad's."""
        value, gradients = self.value_and_grad(*args, **kwargs)
        return (gradients, value[1]) if self.has_aux else gradients

    def jvp(self, primals, tangents, device=None):
        """Forward mode: (f(*primals), the derivative of f at primals along tangents), in one pass that costs
        about what f costs. tangents: one per `wrt` argument (one array for one), each of its argument's shape;
        None stands for zeros. With has_aux, f(*primals) is the pair `(value, aux)`."""
        primals = _primals_tuple(primals, self.fn, "jvp")
        arguments = self._bind(primals, {})
        tangents = self._tangents(tangents, arguments)
        compiled = self._compile(primals, {}, mode="forward")
        checked = {}
        for name, tangent, keyword in zip(self.wrt, tangents, _tangent_parameters(compiled.function, len(self.wrt))):
            checked[keyword] = _checked_tangent(name, arguments[name], tangent)
        xp = array_module_for((*primals, *checked.values()), device or self.device)
        if is_dask(xp):
            _refuse_row_loops(compiled, arguments)
        positional, keywords = self._packed(primals, {}) if self._vararg is not None else (primals, {})
        try:
            value, tangent_out = compiled.function(xp, *positional, **keywords, **checked)
        except SourcegradError as exc:
            raise compiled.locate(exc) from None
        if any(_is_complex(leaf) for leaf in array_leaves([tangent_out])):
            # complex data reached the derivative: the rules are written for real values (|z|'s is not x's)
            raise _complex_error("a derivative")
        return value, _owned_tangent(tangent_out, list(checked.values()))

    def hvp(self, primals, vectors, device=None):
        """The Hessian of f at primals times vectors (one per `wrt` argument, each of its argument's shape):
        one array for one `wrt` argument, else a tuple, as f.grad gives gradients. f must return a scalar.
        Reverse mode over forward mode: the gradient of f's derivative along the vectors, in one generated file
        (`f.hvp_source`), costing a few times what f costs."""
        primals = _primals_tuple(primals, self.fn, "hvp")
        arguments = self._bind(primals, {})
        vectors = self._tangents(vectors, arguments)
        compiled = self._compile(primals, {}, mode="hvp")
        keywords = _tangent_parameters(compiled.function, len(self.wrt), before_last=1)  # the last takes the seed
        checked = {k: _checked_tangent(name, arguments[name], v) for name, v, k in zip(self.wrt, vectors, keywords)}
        xp = array_module_for((*primals, *checked.values()), device or self.device)
        if is_dask(xp):
            _refuse_row_loops(compiled, arguments)
        positional, keywords = self._packed(primals, {}) if self._vararg is not None else (primals, {})
        try:
            value, products = compiled.function(xp, *positional, **keywords, **checked)
        except OutputGradientError:
            raise SourcegradError(f"hvp needs {self.fn.__qualname__} to return a scalar", compiled.return_location,
                                  "Return a scalar (a loss summed with .sum()); for a vector output, take jvp or "
                                  "jacobian.") from None
        except SourcegradError as exc:
            raise compiled.locate(exc) from None
        return self._returned(value, products, positional, keywords)[1]

    def _tangents(self, tangents, arguments):
        """Tangents (or hvp's vectors) as a tuple of one per `wrt` argument."""
        structured = self._single and isinstance(arguments[self.wrt[0]], (tuple, list))  # `*ws`: its tuple's
        if (self._single or len(self.wrt) == 1) and not isinstance(tangents, (tuple, list)) or structured:
            tangents = (tangents,)
        tangents = tuple(tangents)
        if len(tangents) != len(self.wrt):
            raise SourcegradError(f"got {len(tangents)} tangents for {len(self.wrt)} wrt arguments "
                                  f"({', '.join(self.wrt)})", hint="Pass one per wrt argument, in wrt order.")
        return tangents

    @property
    def hvp_source(self) -> str:
        """The generated Python of the most recently used Hessian-vector product."""
        if self._last_hvp is None:
            raise SourcegradError(f"the Hessian-vector product of {self.fn.__qualname__} has not been compiled yet",
                                  hint="Call .hvp(primals, vectors) once first.")
        return self._last_hvp.source

    @property
    def forward_source(self) -> str:
        """The generated Python of the most recently used forward-mode (jvp) function."""
        if self._last_forward is None:
            raise SourcegradError(f"the forward mode of {self.fn.__qualname__} has not been compiled yet",
                                  hint="Call .jvp(primals, tangents) once first.")
        return self._last_forward.source

    @property
    def backward_source(self) -> str:
        """The generated Python of the most recently used compiled gradient."""
        return self._require_compiled().source

    @property
    def generated_path(self):
        """The file in generated/ holding backward_source."""
        return self._require_compiled().path

    # ---- compilation ---------------------------------------------------------------

    def _compile(self, args, kwargs, mode="reverse"):
        table = {"reverse": self._compiled, "forward": self._compiled_forward, "hvp": self._compiled_hvp}[mode]
        _refuse_matrices((*args, *kwargs.values()))
        with self._lock:
            key = _rank_key(args, kwargs)
            if key in table and table[key].current():
                return table[key]
            frontend = self._current_frontend()
            arguments = self._bind(args, kwargs)
            ranks = {name: _rank(value) for name, value in arguments.items()}
            compiled = frontend.compile(self.wrt, ranks, self.generated_dir, mode)
            table[key] = compiled
            # also under the key of a call passing every parameter by position, as a training loop does; not for
            # a function with a keyword-only parameter, which no call may pass by position (it is refused below)
            if not self._keyword_only:
                table[tuple(ranks[name] for name in self._parameters)] = compiled
            if not compiled.current():  # a rule changed in another thread while compiling: its clear came first
                table.clear()
            if mode == "reverse":
                self._last = compiled
            elif mode == "forward":
                self._last_forward = compiled
            else:
                self._last_hvp = compiled
            if compiled.path is not None:
                _compiled_files.append(compiled.path)
            return compiled

    def _packed(self, args, kwargs):
        """(args, kwargs) as the generated function takes them: the arguments `*args` takes as one tuple."""
        position = self._parameters.index(self._vararg)
        if self._vararg in kwargs or len(args) < position:  # passed by name already (check_grad does), or empty
            return args, {self._vararg: (), **kwargs}
        return (*args[:position], tuple(args[position:])), kwargs

    def _bind(self, args, kwargs):
        """The call's arguments by parameter name, defaults included."""
        if self._vararg is not None and self._vararg in kwargs:  # `*args` given by name, as its tuple (check_grad)
            kwargs, parameters = dict(kwargs), _signature(self.source_fn).parameters
            before = self._parameters[len(args):self._parameters.index(self._vararg)]  # then given by position
            args = (*args, *[kwargs.pop(name, parameters[name].default) for name in before], *kwargs.pop(self._vararg))
        try:
            bound = _signature(self.source_fn).bind(*args, **kwargs)
        except TypeError as exc:
            raise SourcegradError(f"{self.fn.__qualname__}() was called with arguments that do not fit: {exc}") from None
        bound.apply_defaults()
        return bound.arguments

    def _argument(self, index, args, kwargs):
        name, position = self.wrt[index], self._wrt_positions[index]
        if position < len(args):
            return args[position]
        if name in kwargs:
            return kwargs[name]
        return _signature(self.source_fn).parameters[name].default

    def _require_compiled(self):
        if self._last is None:
            raise SourcegradError(
                f"the gradient of {self.fn.__qualname__} has not been compiled yet",
                hint="Gradients are compiled for the ranks of real arguments: call .grad(...) or "
                     ".value_and_grad(...) once first.")
        return self._last


DifferentiableFunction.value_and_grad.__signature__ = DifferentiableFunction.grad.__signature__ = inspect.Signature([
    inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
    inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
    *(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
      for name, default in zip(OPTIONS, (None, None, None, False))),
    inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)])


def _options(kwargs):
    """A call's keywords split into the function's own and value_and_grad's options: (kwargs, (grad_output,
    device, into, lazy)), each option None (lazy False) when not given."""
    return kwargs, (kwargs.pop("grad_output", None), kwargs.pop("device", None), kwargs.pop("into", None),
                    kwargs.pop("lazy", False))


_NO_OPTIONS = (None, None, None, False)  # grad_output, device, into, lazy: a call that names none of them


class BoundDifferentiableFunction:
    """A differentiated method bound to its object: the object is passed as `self`."""

    def __init__(self, function, instance):
        self.function, self.instance = function, instance
        _wraps(self, function.fn)

    def __call__(self, *args, **kwargs):
        return self.function.fn(self.instance, *args, **kwargs)

    def grad(self, *args, **kwargs):
        return self.function.grad(self.instance, *args, **kwargs)

    def value_and_grad(self, *args, **kwargs):
        return self.function.value_and_grad(self.instance, *args, **kwargs)

    def jvp(self, primals, tangents, device=None):
        primals = _primals_tuple(primals, self.function.fn, "jvp")
        return self.function.jvp((self.instance, *primals), tangents, device)

    def hvp(self, primals, vectors, device=None):
        primals = _primals_tuple(primals, self.function.fn, "hvp")
        return self.function.hvp((self.instance, *primals), vectors, device)

    @property
    def backward_source(self):
        return self.function.backward_source

    @property
    def forward_source(self):
        return self.function.forward_source

    @property
    def hvp_source(self):
        return self.function.hvp_source

    @property
    def generated_path(self):
        return self.function.generated_path


def differentiate(fn=None, *, wrt=None, generated_dir=None, device=None, has_aux=False):
    """Decorate a function so it can return its gradient; bare or with arguments.

    wrt: the argument names or positions to differentiate with respect to (default: the first).
    generated_dir: where generated code goes (default: $SOURCEGRAD_GENERATED_DIR, else ./generated).
    device: "cpu" (numpy), "cuda" (cupy) or "dask" (dask.array); by default the arguments' arrays decide.
    has_aux: the function returns `value, aux` (aux anything: a dict of metrics, a tuple of arrays); value is
    differentiated, and aux is handed back as it is, as JAX's has_aux does.
    """
    if fn is None:
        return lambda f: DifferentiableFunction(f, wrt, generated_dir, device, has_aux)
    return DifferentiableFunction(fn, wrt, generated_dir, device, has_aux)


def grad(fn, wrt=None, generated_dir=None, device=None, has_aux=False):
    """The functional form: grad(f, wrt=...)(*args) returns f's gradients at args (with has_aux, `(gradients,
    aux)`). grad(grad(f)) is the second derivative of f with respect to one scalar argument."""
    inner = getattr(fn, "__self__", None)
    if isinstance(inner, DifferentiableFunction) and getattr(fn, "__func__", None) is DifferentiableFunction.grad:
        return _second_derivative(inner, wrt)
    fn, bound = _unbound(fn)
    if isinstance(fn, DifferentiableFunction):  # its own wrt and options, where the call names none
        wrt = fn._wrt_argument if wrt is None else wrt
        generated_dir, device, has_aux = generated_dir or fn.generated_dir, device or fn.device, has_aux or fn.has_aux
    gradient = DifferentiableFunction(fn, wrt, generated_dir, device, has_aux).grad
    return functools.partial(gradient, *bound) if bound else gradient


def _unbound(fn):
    """A decorated method taken from its object (`model.loss`): the decorated function, and the object it passes
    as self; any other function, and nothing."""
    if isinstance(fn, BoundDifferentiableFunction):
        return fn.function, (fn.instance,)
    return fn, ()


def _second_derivative(inner, wrt):
    """grad(grad(f)): d/dx (df/dx) for a scalar x, the Hessian-vector product along 1."""
    if wrt is not None or len(inner.wrt) != 1 or inner.has_aux:
        raise SourcegradError("grad(grad(f)) is taken for a function of one scalar wrt argument, with respect to it",
                              hint="For more arguments or arrays use sourcegrad.hessian or sourcegrad.hvp.")

    def second_derivative(*args):
        x = inner._bind(args, {})[inner.wrt[0]]
        if getattr(x, "shape", ()) != ():
            raise SourcegradError(f"grad(grad(f)) needs {inner.wrt[0]} to be a scalar; it has shape {x.shape}",
                                  hint="For an array use sourcegrad.hessian (or hvp for one direction).")
        return inner.hvp(args, 1.0)

    return second_derivative


def hvp(fn, wrt=None, generated_dir=None, device=None):
    """hvp(f, wrt)(primals, vectors): the Hessian of the scalar function f at primals times vectors (one per
    `wrt` argument), by reverse mode over forward mode, without forming the Hessian."""
    fn, bound = _unbound(fn)
    function = _functional(fn, wrt, generated_dir, device)
    return BoundDifferentiableFunction(function, bound[0]).hvp if bound else function.hvp


def hessian(fn, wrt=None, generated_dir=None, device=None):
    """hessian(f, wrt)(*args): the Hessian of the scalar function f, of shape x.shape + x.shape for one `wrt`
    argument x, else a tuple of tuples, block [a][b] of shape x_a.shape + x_b.shape: one hvp per element."""
    fn, bound = _unbound(fn)
    function = _functional(fn, wrt, generated_dir, device)

    def hessian_at(*args, **kwargs):
        _refuse_keywords("hessian", function, kwargs)
        args = (*bound, *args)
        arguments = function._bind(args, {})
        inputs = [arguments[name] for name in function.wrt]
        _refuse_structures(function.wrt, inputs)
        xp = array_module_for(tuple(inputs), function.device)
        blocks = [[None] * len(inputs) for _ in inputs]
        for b, x in enumerate(inputs):
            shape = tuple(getattr(x, "shape", ()))
            columns = []
            for vectors in _unit_directions(xp, inputs, b):
                products = function.hvp(args, vectors)
                columns.append(products if len(inputs) > 1 else (products,))
            for a, y in enumerate(inputs):
                rows = tuple(getattr(y, "shape", ()))
                if not columns:  # x has no elements: no direction to take, an empty block
                    blocks[a][b] = xp.zeros(rows + shape, dtype=getattr(y, "dtype", xp.float64))
                    continue
                stacked = xp.stack([xp.asarray(c[a]).reshape(-1) for c in columns], axis=1)
                blocks[a][b] = stacked.reshape(rows + shape)
        return blocks[0][0] if function._single else tuple(tuple(row) for row in blocks)

    return hessian_at


def jvp(fn, primals, tangents, wrt=None, generated_dir=None, device=None):
    """Forward mode, as JAX's jvp: (fn(*primals), the derivative of fn at primals along tangents).

    tangents: one per primal, None for a primal without one (data, a step count); or, with wrt (or fn
    decorated with its own), one per `wrt` argument. The generated code goes to generated/ beside the
    gradient's, with `jvp` in its name.
    """
    fn, bound = _unbound(fn)
    primals = (*bound, *_primals_tuple(primals, fn, "jvp"))
    if wrt is None and not isinstance(fn, DifferentiableFunction):
        tangents = tuple(tangents)
        if len(tangents) != len(primals):
            raise SourcegradError(f"jvp got {len(tangents)} tangents for {len(primals)} primals",
                                  hint="Pass one tangent per primal (None where a primal has none), or name wrt=.")
        parameters = list(_signature(fn).parameters.values())
        spread = next((i for i, p in enumerate(parameters) if p.kind is inspect.Parameter.VAR_POSITIONAL), None)
        if spread is not None and any(t is not None for t in tangents[spread:]):
            # `def f(x, *ws)`: the tangents of the primals `*ws` takes make one tangent, of the tuple ws
            tangents = (*tangents[:spread], tuple(tangents[spread:]))
            wrt = tuple(parameters[i].name for i, t in enumerate(tangents) if t is not None)
        else:
            wrt = tuple(i for i, t in enumerate(tangents) if t is not None)
        if not wrt:
            raise SourcegradError("jvp got no tangent (every one is None)", hint="Pass a tangent for at least one primal.")
        tangents = tuple(t for t in tangents if t is not None)
    return _functional(fn, wrt, generated_dir, device).jvp(primals, tangents)


def jacobian(fn, wrt=None, mode="auto", generated_dir=None, device=None):
    """jacobian(f, wrt)(*args): the Jacobian of f's output with respect to each wrt argument, of shape
    output.shape + argument.shape (one array for one wrt argument, else a tuple).

    mode "forward" builds it a column at a time (one jvp per input element), "reverse" a row at a time (one
    gradient per output element); "auto" takes forward when the inputs have fewer elements than the output.
    """
    if mode not in ("auto", "forward", "reverse"):
        raise SourcegradError(f"jacobian has no mode {mode!r}", hint="Choose 'auto', 'forward' or 'reverse'.")
    fn, bound = _unbound(fn)
    function = _functional(fn, wrt, generated_dir, device)

    def jacobian_at(*args, **kwargs):
        _refuse_keywords("jacobian", function, kwargs)
        args = (*bound, *args)
        arguments = function._bind(args, {})
        inputs = [arguments[name] for name in function.wrt]
        _refuse_structures(function.wrt, inputs)
        value = function.fn(*args)
        value = value[0] if function.has_aux else value
        if isinstance(value, (tuple, list, dict)):
            raise SourcegradError(f"jacobian takes a function of one array; {function.fn.__qualname__} returns a "
                                  f"{type(value).__name__}", function._compile(args, {}).return_location,
                                  "Take the jacobian of each item in a function of its own; for the whole structure, "
                                  "value_and_grad(..., grad_output=) gives vector-Jacobian products and jvp "
                                  "Jacobian-vector products.")
        xp = array_module_for((*args,), function.device)
        out_shape = tuple(getattr(value, "shape", ()))
        out_size = int(numpy.prod(out_shape))
        in_size = sum(int(numpy.prod(getattr(x, "shape", ()))) for x in inputs)
        forward_mode = mode == "forward" or (mode == "auto" and in_size < out_size)
        blocks = []
        for position, x in enumerate(inputs):
            shape = tuple(getattr(x, "shape", ()))
            size = int(numpy.prod(shape))
            if forward_mode:
                columns = [xp.asarray(function.jvp(args, tangents)[1]).reshape(out_size)
                           for tangents in _unit_directions(xp, inputs, position)]
                block = xp.stack(columns, axis=1) if columns else xp.zeros((out_size, 0))
            else:
                rows = []
                for j in range(out_size):
                    seed = xp.zeros(out_size, dtype=getattr(value, "dtype", float))
                    seed[j] = 1
                    seed = seed.reshape(out_shape) if out_shape else None
                    gradients = function.value_and_grad(*args, grad_output=seed)[1]
                    gradient = gradients if function._single else gradients[position]
                    rows.append(xp.asarray(gradient).reshape(size))
                block = xp.stack(rows) if rows else xp.zeros((0, size))
            blocks.append(block.reshape(out_shape + shape))
        return blocks[0] if function._single else tuple(blocks)

    return jacobian_at


def _refuse_keywords(form, function, kwargs):
    """hessian and jacobian take one column per hvp or jvp, and those take the function's arguments as a tuple of
    positions: a keyword argument (a keyword-only parameter) has no place there."""
    if kwargs:
        name = function.fn.__qualname__
        raise SourcegradError(f"{form}({name}) takes {name}'s arguments by position; got {', '.join(kwargs)} by "
                              "keyword", hint=f"Take the {form} of a function that takes them by position and passes "
                              f"them on: def by_position({', '.join(function.wrt)}, ...): return {name}(...).")


def _unit_directions(xp, inputs, position):
    """One list of directions (one per input) per element of inputs[position]: that element 1, all else 0. The
    columns of a Jacobian (jvp along each) and of a Hessian (hvp along each)."""
    x = inputs[position]
    shape = tuple(getattr(x, "shape", ()))
    size = int(numpy.prod(shape))
    for i in range(size):
        directions = [xp.zeros_like(y) if hasattr(y, "shape") else 0.0 for y in inputs]
        basis = xp.zeros(size, dtype=getattr(x, "dtype", float))
        basis[i] = 1
        directions[position] = basis.reshape(shape) if shape else 1.0
        yield directions


def _functional(fn, wrt, generated_dir, device):
    """The DifferentiableFunction for fn and wrt, made once per pair: the functional forms (jvp, jacobian)
    are called afresh at every step, and reading the source again each time would cost more than the step."""
    if isinstance(fn, DifferentiableFunction) and wrt is None:
        return fn
    made = _FUNCTIONAL.setdefault(getattr(fn, "fn", fn), {})
    has_aux = False
    if isinstance(fn, DifferentiableFunction):  # its own options, where the call names none: part of the key
        generated_dir, device, has_aux = generated_dir or fn.generated_dir, device or fn.device, fn.has_aux
    key = (wrt if not isinstance(wrt, list) else tuple(wrt), generated_dir, device, has_aux)
    if key not in made:
        made[key] = DifferentiableFunction(fn, wrt, generated_dir, device, has_aux)  # (a DifferentiableFunction's fn)
    return made[key]


_FUNCTIONAL = weakref.WeakKeyDictionary()  # function -> {(wrt, generated_dir, device, has_aux): DifferentiableFunction}


def check_grad(fn, *args, wrt=None, eps=1e-6, rtol=1e-5, atol=1e-6, directions=None, seed=0, grad_output=None,
               device=None, **kwargs):
    """Compare sourcegrad's gradient with float64 central finite differences of the original function.

    Returns a GradCheck: a dict of argument name -> worst error, where an element's error is
    |analytic - numeric| / max(1, |numeric|), which is true when every element passed,
    |analytic - numeric| <= atol + rtol * |numeric| (`assert sourcegrad.check_grad(...)` is a test).
    Float inputs are promoted to float64 first; an argument may be an array, a float, or a dict, list,
    tuple or object of those. directions=k checks the derivative along k random directions (two calls
    each) instead of every element (two calls per element): for large inputs. For an output that is not
    a scalar, grad_output weighs its elements (by default random, drawn from `seed`).
    device="cuda" computes sourcegrad's gradient on the GPU (the arguments moved there, the gradients
    required to come back there); the finite differences are always taken on the host.
    """
    differentiable = _differentiable(fn, wrt)
    return finite_difference_check(differentiable, args, kwargs, eps, rtol, atol, directions, seed, grad_output, device)


def assert_grad(fn, *args, **options):
    """check_grad(fn, *args, **options), raising AssertionError with the worst element when it fails."""
    report = check_grad(fn, *args, **options)
    if not report:
        raise AssertionError(report.explain())
    return report


def explain(fn, *args, stage=None, wrt=None, **kwargs) -> str:
    """What each stage of the compiler makes of fn for these arguments, as text (like Tangent's verbose mode).

    stage: one of "normal form", "activity", "reverse", "simplified", "memory plan", "generated", or None for all of
    them, each under a heading. fn may be a differentiated function (its wrt is used) or a plain one.
    """
    function = _differentiable(fn, wrt)
    stages = Frontend.STAGES
    if stage is not None and stage not in stages:
        raise SourcegradError(f"explain has no stage {stage!r}", hint=f"Choose one of: {', '.join(stages)}.")
    with function._lock:
        frontend = function._current_frontend()  # the function as it is now, as a gradient compiled now reads it
    arguments = function._bind(args, kwargs)
    texts = frontend.stages(function.wrt, {name: _rank(value) for name, value in arguments.items()})
    if stage is not None:
        return texts[stage]
    return "\n".join(f"==== {name} ====\n{texts[name]}" for name in stages)


# ---- user rules -------------------------------------------------------------------------


def adjoint(primal):
    """Register a gradient rule for `primal`, written like sourcegrad's own rules:

        def relu(x):
            return np.maximum(x, 0)

        @sourcegrad.adjoint(relu)
        def relu_adjoint(result, x):
            d[x] = d[result] * (x >= 0)

    The rule's first parameter names primal's result, the others primal's parameters; its body assigns
    `d[param] = ...` from `d[result]` (with `from sourcegrad import d`). It is parsed, never run, and it
    may use numpy and sourcegrad.runtime's helpers. Differentiated code that calls `primal` then gets this
    rule for it; the call itself runs primal as written.
    """

    def register(rule):
        template = registry.Template(rule)
        template.parameters()  # parse now: a mistake in the rule is reported where it is defined
        if inspect.isfunction(primal):
            expected = _parameter_names(primal)
            if template.parameters() != expected:
                raise SourcegradError(
                    f"the rule {rule.__qualname__} for {primal.__qualname__} takes ({', '.join(template.parameters())}) "
                    f"after the result, but {primal.__qualname__} takes ({', '.join(expected)})",
                    hint="Name the rule's parameters after the result as the primal's are named.")
            template.adopt_defaults(inspect.signature(primal))
        template.by_user = True
        registry.set_rule(primal, template)  # gradients compiled before now recompile on their next call
        return rule

    return register


def nondifferentiable(fn):
    """Mark fn's result as carrying no gradient (an index, a count, a sample): a decorator."""
    registry.nondifferentiable(fn, why=f"{getattr(fn, '__qualname__', fn)} is marked non-differentiable")
    return fn


@nondifferentiable
def stop_gradient(x):
    """x itself, as a constant for the gradient: no gradient flows back through it."""
    return x


# ---- helpers --------------------------------------------------------------------------


def _signature(fn):
    """fn's own parameters: those of the code sourcegrad reads, not of a function it wraps."""
    return inspect.signature(fn, follow_wrapped=False)


def _parameter_names(fn, varargs=False):
    """fn's parameter names; with varargs, `*args`'s too (a tuple parameter of a differentiated function)."""
    try:
        signature = _signature(fn)
    except (TypeError, ValueError):
        raise SourcegradError(f"cannot read the parameters of {fn!r}") from None
    skipped = (inspect.Parameter.VAR_KEYWORD,) if varargs else (inspect.Parameter.VAR_POSITIONAL,
                                                                 inspect.Parameter.VAR_KEYWORD)
    return [p.name for p in signature.parameters.values() if p.kind not in skipped]


def _resolve_wrt(fn, parameters, wrt, vararg=None):
    if wrt is None:
        if not parameters:
            raise SourcegradError(f"{fn.__qualname__} has no parameters to differentiate with respect to")
        return [parameters[0]]
    items = list(wrt) if isinstance(wrt, (list, tuple)) else [wrt]
    names = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise SourcegradError(f"wrt takes parameter names or positions, got {item!r}")
        if isinstance(item, int):
            if not 0 <= item < len(parameters):
                raise SourcegradError(f"wrt position {item} is out of range: {fn.__qualname__} has "
                                      f"{len(parameters)} parameters ({', '.join(parameters)})")
            if parameters[item] == vararg and hasattr(fn, "__wrapped__"):
                # A position counts the differentiated function's parameters, and `*args` is one: its tuple.
                # A functools.wraps wrapper shows the wrapped function's signature (inspect.signature,
                # help()), so the position the caller counted there names another argument than this one.
                raise SourcegradError(
                    f"wrt position {item} falls on `*{vararg}` of the wrapper a decorator put around "
                    f"{fn.__qualname__} (the wrapper is what is differentiated), not on the parameter at that "
                    f"position in {fn.__qualname__}'s signature",
                    hint=f"Name the parameter, wrt={vararg!r} for the gradients of all that `*{vararg}` takes as a "
                         f"tuple; or differentiate the undecorated function.")
            item = parameters[item]
        elif item not in parameters:
            raise SourcegradError(f"wrt names {item!r}, which is not a parameter of {fn.__qualname__} "
                                  f"(its parameters: {', '.join(parameters)})")
        if item in names:
            raise SourcegradError(f"wrt names {item!r} twice")
        names.append(item)
    if not names:
        raise SourcegradError("wrt is empty: name at least one parameter")
    return names


def _tangent_parameters(function, count, before_last=0):
    """The keyword-only parameters of a generated function that take the tangents: its last ones (but
    before_last, an hvp's output gradient)."""
    code = function.__code__
    end = code.co_argcount + code.co_kwonlyargcount - before_last
    return code.co_varnames[end - count:end]


def _owned_tangent(tangent, inputs):
    """jvp's output tangent, copied where it is a broadcast view or may share memory with a tangent the caller
    gave (`return x`, `return x.T`: the generated code hands on the caller's array), as reverse mode's
    gradients are: a change to one must not change the other."""
    if isinstance(tangent, (tuple, list)):
        return type(tangent)(_owned_tangent(t, inputs) for t in tangent)
    if isinstance(tangent, dict):
        return {k: _owned_tangent(t, inputs) for k, t in tangent.items()}
    if getattr(tangent, "flags", None) is None:
        return tangent
    leaves = []
    for t in inputs:
        leaves.extend(t.values() if isinstance(t, dict) else t if isinstance(t, (tuple, list)) else [t])
    module = array_module_for((tangent,), None)
    if not tangent.flags.writeable or any(type(t) is type(tangent) and module.may_share_memory(tangent, t)
                                          for t in leaves):
        return tangent.copy()
    return tangent


def _primals_tuple(primals, fn, method):
    """primals as a tuple: an array given bare would be split into its rows as if they were the arguments."""
    if not isinstance(primals, (tuple, list)):
        raise SourcegradError(f"{method} takes the arguments of {fn.__qualname__} as a tuple, but got a "
                              f"{type(primals).__name__}",
                              hint=f"Write {method}((x,), (v,)) for one argument, {method}((x, y), (v, u)) for two.")
    return tuple(primals)


def _checked_tangent(name, primal, tangent):
    """A tangent as an array of its primal's shape and floating dtype (zeros for None); for a tuple, list or dict
    of arrays (`*args`, a dict of parameters), the same structure of those."""
    if isinstance(primal, (tuple, list, dict)):
        keys = list(primal) if isinstance(primal, dict) else range(len(primal))
        if tangent is None:
            tangent = dict.fromkeys(keys) if isinstance(primal, dict) else [None] * len(primal)
        same = set(tangent) == set(primal) if isinstance(primal, dict) and isinstance(tangent, dict) else \
            isinstance(tangent, (tuple, list)) and len(tangent) == len(primal)
        if not same:
            raise SourcegradError(f"the tangent of {name} must have {name}'s structure, a {type(primal).__name__} "
                                  f"of {len(primal)} items", hint=f"Pass one tangent per item of {name} (None for "
                                                                   "zeros).")
        items = [_checked_tangent(f"{name}[{key!r}]", primal[key], tangent[key]) for key in keys]
        return dict(zip(keys, items)) if isinstance(primal, dict) else sequence_like(primal, items)
    attributes = object_attributes(primal)
    if attributes is not None:  # an object: its tangent is a dict of its attributes' (forward mode reads it so)
        given = tangent if tangent is not None else {}
        unknown = sorted(map(str, set(given) - set(attributes))) if isinstance(given, dict) else None
        if unknown is None or unknown:
            held = ", ".join(sorted(attributes))
            raise SourcegradError(f"the tangent of {name} must be a dict of its attributes' tangents (or None)" +
                                  (f"; {name} holds no {', '.join(unknown)}" if unknown else
                                   f", not a {type(given).__name__}"),
                                  hint=f"Give tangents for some of {name}'s attributes ({held}); those left out get "
                                       "zeros.")
        return {key: _checked_tangent(f"{name}.{key}", value, given.get(key)) for key, value in attributes.items()
                if isinstance(value, (int, float, numpy.number, numpy.ndarray, tuple, list, dict)) and not isinstance(
                    value, bool) or hasattr(value, "shape") or object_attributes(value) is not None}
    if _is_complex(primal) or _is_complex(tangent):
        raise _complex_error()
    # the tangent's dtype: the primal's when it is a float (float32 stays float32), else float64 (an integer
    # primal's tangent 0.5 stays 0.5)
    dtype = getattr(primal, "dtype", None)
    dtype = dtype if dtype is not None and dtype.kind == "f" else numpy.float64
    if tangent is None:
        return array_module_for((primal,), None).zeros_like(primal, dtype=dtype) if hasattr(primal, "shape") else 0.0
    if not hasattr(primal, "shape") and not isinstance(primal, (int, float, numpy.number)):
        raise SourcegradError(f"{name} is a {type(primal).__name__} object, and forward mode takes tangents of "
                              "arrays, numbers, and tuples, lists and dicts of them",
                              hint=f"Pass None as the tangent of {name}, or pass the arrays it holds as arguments "
                                   "of their own.")
    if not hasattr(primal, "shape"):  # a Python number: its tangent is a number too
        if getattr(tangent, "shape", ()) != ():
            raise SourcegradError(f"the tangent of {name} has shape {tangent.shape}, but {name} is a number",
                                  hint="Pass a number (or a 0-d array) as its tangent.")
        return float(tangent)
    if isinstance(tangent, (list, tuple)):  # a list of numbers for an array: the array numpy makes of it
        tangent = array_module_for((primal,), None).asarray(tangent, dtype=dtype)
    if getattr(tangent, "shape", ()) != primal.shape:
        raise SourcegradError(f"the tangent of {name} has shape {getattr(tangent, 'shape', ())}, but {name} has shape "
                              f"{primal.shape}", hint=f"Pass a tangent of {name}'s shape.")
    if getattr(tangent, "dtype", None) != dtype:
        tangent = array_module_for((primal,), None).asarray(tangent, dtype=dtype)
    return tangent


def _wraps(wrapper, fn):
    """functools.update_wrapper, each attribute set one by one: update_wrapper updates the instance's __dict__ as
    a dict, which turns off CPython's fast attribute reads on that instance, and the call path reads many."""
    for name in functools.WRAPPER_ASSIGNMENTS:
        if hasattr(fn, name):
            setattr(wrapper, name, getattr(fn, name))
    for name, value in getattr(fn, "__dict__", {}).items():
        setattr(wrapper, name, value)
    wrapper.__wrapped__ = fn


def _rank(value):
    ndim = getattr(value, "ndim", None)
    if isinstance(ndim, int):
        return ndim
    if isinstance(value, (int, float, complex)) and not isinstance(value, bool):
        return 0
    return describe(value)  # a dict, list or object: its structure (rarer, and slower to look at)


_NDIM = operator.attrgetter("ndim")
_MODULES = sys.modules  # which array libraries the process has imported: read on every call


def _refuse_row_loops(compiled, arguments):
    """On dask, a `for` loop over an array made from the data walks it a row at a time: tasks per row, each
    reading its chunk again, where the same code over all rows at once is one task per chunk."""
    for location, parameters in compiled.row_loops:
        chunked = sorted(name for name in parameters if device_of(arguments.get(name)) == "dask")
        if chunked:
            raise SourcegradError(
                f"this loop walks an array made from the dask array {chunked[0]!r} row by row: on chunked data that "
                "is tasks per row, each reading its chunk again", location,
                hint="Write the loop's body over all rows at once (`X @ w` rather than `row @ w` for each row), loop "
                     "over range(k) for a fixed k or over a list of arrays, or pass the data as a numpy array "
                     "(X.compute()) where it fits in memory.")


_ON_DASK_HINT = ("dask arrays are chunked and lazy: give cumsum and cumprod an axis, select with np.where rather than "
                 "a boolean mask of the data, index with one integer array at a time, or compute this part on numpy "
                 "arrays (README, Devices).")
# The dtypes a gradient may have on the call path's fast return: a complex one goes to _returned, which refuses it.
_NDARRAY = numpy.ndarray
_FLOAT64, _FLOAT32 = numpy.dtype(numpy.float64), numpy.dtype(numpy.float32)  # the usual gradients' dtypes
_NOT_PLAIN_ARRAYS = (numpy.generic, numpy.matrix)  # what value_and_grad hands back only after _like_input
_REAL_FLOATS = frozenset(numpy.dtype(t) for t in (numpy.float16, numpy.float32, numpy.float64, numpy.longdouble))
_NOT_AN_ARRAY = object()  # getattr's default for a value without .base (a number, a structure)




def _may_share_memory(a, b):
    """Whether two arrays may share memory. Two that each own their memory never do: that is the common
    case (an into= array made by empty_like, against weights and data), and the cheap one to tell."""
    if a is b:
        return True
    if getattr(a, "base", 0) is None and getattr(b, "base", 0) is None and _owns_memory(a) and _owns_memory(b):
        return False
    if memory_root(a) is memory_root(b):  # views of one array: even disjoint slices count, to be safe
        return True
    return isinstance(a, numpy.ndarray) and isinstance(b, numpy.ndarray) and numpy.may_share_memory(a, b)  # as_strided


def _owns_memory(array):
    return getattr(getattr(array, "flags", None), "owndata", False)


def _write_into(target, gradient):
    if _is_complex(gradient):  # complex data reached a real argument: the cast would drop its imaginary part
        raise _complex_error()
    target[...] = gradient


def _rank_key(args, kwargs):
    key = tuple(map(_rank, args))
    if kwargs:
        key += tuple(sorted((k, _rank(v)) for k, v in kwargs.items()))
    return key


def _differentiable(fn, wrt):
    """fn as a DifferentiableFunction; one given with wrt is made again with that wrt, its options kept."""
    if not isinstance(fn, DifferentiableFunction):
        return DifferentiableFunction(fn, wrt)
    return fn if wrt is None else DifferentiableFunction(fn.fn, wrt, fn.generated_dir, fn.device, fn.has_aux)


def _is_complex(value):
    return isinstance(value, complex) or getattr(getattr(value, "dtype", None), "kind", None) == "c"


def _refuse_structures(names, inputs):
    """hessian and jacobian lay out one direction per element: of arrays and numbers, not of structures."""
    for name, value in zip(names, inputs):
        if not (hasattr(value, "shape") or isinstance(value, (int, float, numpy.number))):
            raise SourcegradError(f"hessian and jacobian take arrays or numbers as their wrt arguments; {name} is a "
                                  f"{type(value).__name__}", hint=f"Take hvp (or jvp) with a tangent of {name}'s "
                                  "structure, or pass the arrays it holds as arguments of their own.")


def _same_array_type(target, argument):
    """Whether into= may take target for argument's gradient: arrays of one library (a numpy memmap or other
    ndarray subclass for a numpy array too, np.matrix aside, whose operators differ)."""
    if type(target) is type(argument):
        return True
    return isinstance(target, numpy.ndarray) and isinstance(argument, numpy.ndarray) \
        and not isinstance(target, numpy.matrix)


def _leaf_pairs(gradient, argument, path=""):
    """(path, gradient leaf, argument leaf) through a gradient and its argument's structure (an object's
    gradient is a dict of its attributes')."""
    if isinstance(gradient, dict):
        parts = argument if isinstance(argument, dict) else instance_attributes(argument) or {}
        for key, item in gradient.items():
            yield from _leaf_pairs(item, parts.get(key), f"{path}[{key!r}]")
    elif isinstance(gradient, (list, tuple)) and isinstance(argument, (list, tuple)):
        for position, (item, part) in enumerate(zip(gradient, argument)):
            yield from _leaf_pairs(item, part, f"{path}[{position}]")
    else:
        yield path, gradient, argument


def _complex_error(what="a gradient"):
    return SourcegradError(f"{what} came out complex: sourcegrad's rules are written for real values, and a "
                           f"complex argument (or complex data reaching a wrt argument) would get a wrong {what[2:]}",
                           hint="Pass the real and imaginary parts as two real arrays (z.real, z.imag) and combine "
                                "them with real arithmetic inside the function.")


def _refuse_matrices(arguments):
    for argument in arguments:
        if isinstance(argument, numpy.matrix):
            raise _matrix_error()


def _matrix_error():
    return SourcegradError("np.matrix arguments are not supported: on a matrix `*` and `**` are matrix products, "
                           "and the gradient rules are numpy arrays'", hint="Pass np.asarray(m), and write `@` "
                           "where the code means a matrix product.")


def _like_input(gradient, argument):
    """A gradient has its input's floating dtype (float32 stays float32), leaf by leaf in a structure."""
    if isinstance(gradient, dict):
        parts = argument if isinstance(argument, dict) else instance_attributes(argument) or {}
        return {k: _like_input(g, parts.get(k)) for k, g in gradient.items()}
    if isinstance(gradient, list) and isinstance(argument, (list, tuple)):
        parts = [_like_input(g, a) for g, a in zip(gradient, argument)]
        # a tuple's gradient is a tuple; a namedtuple's is the same namedtuple, as JAX gives it (`grads.w1`)
        return sequence_like(argument, parts) if isinstance(argument, tuple) else parts
    if _is_complex(gradient):
        raise _complex_error()
    if isinstance(gradient, numpy.matrix):  # a matrix argument reached it through data or a structure
        raise _matrix_error()
    if isinstance(gradient, numpy.generic) and isinstance(argument, numpy.ndarray):
        # the generated code's arithmetic on 0-d arrays gives numpy scalars; the gradient of an array is an array
        gradient = numpy.asarray(gradient)
    dtype = getattr(argument, "dtype", None)
    if dtype is None or dtype.kind not in "fc":
        return gradient
    if getattr(gradient, "dtype", None) is None or gradient.dtype != dtype:  # a Python number too
        if hasattr(gradient, "astype"):
            return gradient.astype(dtype)
        return array_module_for([argument]).asarray(gradient, dtype=dtype)
    return gradient
