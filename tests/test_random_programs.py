"""Random programs: for each seed, tests/random_programs.py generates a numpy program from the constructs README
lists as supported and checks sourcegrad on it (gradient against finite differences, value, inputs left
unchanged, float32, a second trip count with the same compiled code); for every third seed, jvp and hvp too
(random_programs.check_forward_modes).

The generator makes only supported constructs, so every refusal (SourcegradError) is a failure too. A
construct README lists but sourcegrad refuses is left out of the generator with a comment starting
"LIMITATION" in random_programs.py. A failure's message holds the seed and the whole program; rerun one
with `python -m tests.random_programs --seed SEED`, or many with `--n 5000`.
"""

import re

import pytest

import random_programs  # tests/ is on sys.path here, as for device_support (no tests/__init__.py)

SEEDS = range(300)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """One folder for the module's programs and their generated code: each program has its own file."""
    return str(tmp_path_factory.mktemp("random_programs"))


@pytest.mark.parametrize("seed", SEEDS)
def test_random_program(seed, folder):
    result = random_programs.check_program(seed, folder)
    if result.status == "skipped":  # no tame, stable program from this seed: nothing was checked
        pytest.skip(result.message)
    if not result.ok:
        pytest.fail(result.report(), pytrace=False)


FORWARD_SEEDS = range(0, 300, 3)


@pytest.mark.parametrize("seed", FORWARD_SEEDS)
def test_random_program_forward_mode_and_hvp(seed, folder):
    result = random_programs.check_forward_modes(seed, folder)
    if result.status == "skipped":  # an object in wrt, a documented forward-mode limitation, or an unstable point
        pytest.skip(result.message)
    if not result.ok:
        pytest.fail(result.report(), pytrace=False)


def test_generation_is_deterministic():
    for seed in (0, 1, 17):
        assert random_programs.generate(seed).source == random_programs.generate(seed).source
    assert random_programs.generate(0).source != random_programs.generate(1).source


# Each construct family, and how many of the SEEDS' programs must use it: a change to the generator that
# quietly stops making one shows here.
CONSTRUCTS = {
    "while loop": r"\n\s+while ",
    "for over range(n)": r"in range\(n\)",
    "for over rows": r"for row\d+ in ",
    "enumerate": r"enumerate\(",
    "zip": r"zip\(",
    "break": r"\bbreak\b",
    "continue": r"\bcontinue\b",
    "elif": r"\belif\b",
    "early return": r"\n        return ",
    "list built in a loop": r"outs\d+ = outs\d+ \+ \[",
    "[h] * 3": r"\] \* 3\n",
    "np.stack": r"np\.stack\(",
    "np.concatenate": r"np\.concatenate\(",
    "tuple assignment": r"\n\s+\w+, \w+ = ",
    "augmented assignment": r"\n\s+acc\d+ [-+*]= ",
    "dict parameter": r'params\["',
    "nested dict": r'params\["inner"\]\["s"\]',
    "list parameter": r"layers\[",
    "list of dicts": r"for blk\d+ in blocks",
    "object parameter": r"model\.(w|b)\b",
    "method call": r"model\.(forward|score)\(",
    "helper call": r"helper_\d\(",
    "helper of another module": r"hm\.helper_\d\(",
    "keyword argument": r"helper_\d\([^\n]*\b(a|w|scale|shift)=",
    "matmul": r" @ ",
    "np.where": r"np\.where\(",
    "keepdims": r"keepdims=True",
    "reshape": r"\.reshape\(",
    "counter index": r"\[i\d+\]",
    "global constant": r"\bSCALE\b",
    "np.split": r"np\.(array_)?split\(",
    "np.linalg": r"np\.linalg\.",
    "no-gradient function": r"np\.(sign|floor|round|argmax|argmin|zeros_like|ones_like)\(",
    "parameter with a default": r"alpha=0\.5",
    "element write": r"\n\s+a\d+\[[^\n]*\] = ",
    "augmented element write": r"\n\s+a\d+\[[^\n]*\] \+= ",
    "conditional expression": r"\) if [^\n]* else \(",
    "`and` / `or` of two tests": r"\n\s+(if|elif|while) [^\n]* (and|or) ",
    "chained comparison": r"\n\s+(if|elif|while) [^\n]*-?\d\.\d < [^\n]* < -?\d\.\d",
    "property": r"model\.scaled\b",
    "object called (__call__)": r"\bmodel\(",
    "loop over differing layers": r"\n\s+for layer\d+ in layers2:",
    "enumerate over differing layers": r"\n\s+for j\d+, layer\d+ in enumerate\(layers2\):",
    "differing layers indexed by a constant": r"layers2\[-?\d\]\(",
    "if act is not None": r"\n\s+if (act is not None|act):\n\s+\w+ = act\(",
    "act passed to a helper": r"helper_\d\([^\n]*\bact=(act|np\.\w+)\)",
    "if on a number": r"\n\s+if (not )?(c|s\d+):\n",
    "unpacked pair written": r"\n\s+(a\d+), (b\d+) = (pair\d+)\n\s+\3\[[01]\] = ",
    # the later idioms (random_programs.Builder.new_idiom)
    "math module on a number": r"\bmath\.(sin|cos|tanh|atan|atan2|exp|log|sqrt|hypot|pow|fabs|log1p|expm1|sinh|cosh|asin|degrees)\(",
    "max/min/pow/abs of numbers": r"\b(max|min|pow|abs)\(s_\d+",
    "float() or .item() of an array": r"(float\(np\.sum\(|\.item\(\))",
    "round or math.floor of a number": r"(round|math\.floor)\(s_\d+\)",
    "element writes in a chain": r"\n\s+u_\d+\[[^\n]*\] = u_\d+\[[^\n]*\] = ",
    "element writes from a tuple": r"\n\s+u_\d+\[[^\n]*\], u_\d+\[[^\n]*\] = ",
    "dict made and written": r"\n\s+(d_\d+) = \{\}\n\s+\1\[\"a\"\] = ",
    "dict written in a loop": r"\n\s+d_\d+\[t_\d+\] = ",
    "dict read by .get": r"d_\d+\.get\(",
    "dict walked": r"(for k_\d+ in d_\d+:|d_\d+\.items\(\)|d_\d+\.values\(\))",
    "list as a dict value": r'd_\d+\["l"\] = \[',
    "namedtuple parameter": r"\bpt\b",
    "int setting of an object": r"cfg\.n\b",
    "tuple held by a name, unpacked": r"\n\s+p_\d+, q_\d+ = (pair|pr)_\d+\n",
    "tuple from a helper": r" = make_pair\(",
    "masked log-sum-exp, -inf excluded": r"np\.where\(z_\d+ > -np\.inf, z_\d+, 0\.0\)",
}


def test_generator_covers_every_construct():
    programs = [random_programs.generate(seed) for seed in SEEDS]
    bodies = [program.source.split("\ndef f(", 1)[1] for program in programs]
    helpers = [program.source for program in programs]
    counts = {name: sum(bool(re.search(pattern, body)) for body in bodies) for name, pattern in CONSTRUCTS.items()}
    counts["helper with a loop"] = sum("def helper_" in text and "for i" in text.split("\ndef f(")[0] for text in helpers)
    counts["helper with act=None"] = sum(bool(re.search(r"def helper_\d\([^)]*act=None\):\n    if act is not None:",
                                                       "".join(p.modules.values()) + p.source)) for p in programs)
    counts["f's act passed a function"] = sum(bool(p.acts) and p.acts[0] is not None for p in programs)
    counts["f's act passed None, a function after"] = sum(bool(p.acts) and p.acts[0] is None for p in programs)
    rare = {name: count for name, count in counts.items() if count < 5}
    assert not rare, f"constructs in fewer than 5 of {len(SEEDS)} programs: {rare}"



def test_autograd_serves_as_a_second_reference_where_installed(folder):
    pytest.importorskip("autograd")
    compared = [random_programs.check_program(seed, folder) for seed in range(20)]
    assert all(result.ok for result in compared)
    assert sum("compared with autograd" in result.details for result in compared) >= 5


def test_a_gradient_off_by_a_little_differs_from_autograd(folder):
    pytest.importorskip("autograd")
    import numpy as np
    for seed in range(300):  # the first program of one array parameter that autograd can run
        program = random_programs.generate(seed)
        if program.wrt != ("x",) or "model" in program.parameters or program.modules:
            continue
        module = random_programs.load(program, folder)
        rng = np.random.default_rng([program.seed, 0, 0])
        args = random_programs.program_arguments(program, rng, module)
        reference = random_programs.autograd_gradients(program, folder, args)
        if reference is not None:
            break
    assert reference is not None
    assert random_programs.compare_with_autograd(program, folder, args, reference[0], "as autograd gives it")
    nudged = reference[0] + 1e-7 * np.maximum(1.0, np.abs(reference[0]))  # far below the finite differences' reach
    with pytest.raises(random_programs.Failure, match="differs from autograd's"):
        random_programs.compare_with_autograd(program, folder, args, nudged, "nudged")
