"""The README's table of supported functions is generated from the rule registry and must be current."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_supported_functions_table_is_current():
    run = subprocess.run([sys.executable, "tools/rules_table.py", "--check"], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_readme_shows_the_two_commands():
    readme = (REPO / "README.md").read_text()
    assert 'pip install -e . && python -m sourcegrad examples/two_layer.py' in readme
    assert 'pip install -e ".[test]" && python -m pytest' in readme


def test_readme_shows_the_committed_generated_code():
    readme = (REPO / "README.md").read_text()
    generated = (REPO / "generated" / "two_layer_loss_fn__w1_w2__2222.py").read_text()
    code = generated.split("\n\n", 1)[1].split("\ndef loss_fn_value_and_grad_into(")[0].strip("\n")
    assert code in readme, "README's generated two-layer code is stale: paste generated/two_layer_loss_fn__*.py"


def test_readme_shows_the_committed_dynamic_net_backward_loop():
    readme = (REPO / "README.md").read_text()
    (path,) = (REPO / "generated").glob("dynamic_net_loss_fn*.py")
    (block,) = [b.split("\n", 1)[1] for b in readme.split("```python")[1:] if "d_w_mid += " in b.split("```")[0]]
    block = block.split("```")[0]
    assert "for iteration in range(depth):" in block and block in path.read_text(), \
        "README's dynamic-net loop is stale: paste it from generated/dynamic_net_loss_fn*.py"


def test_readme_shows_the_committed_forward_mode_code():
    readme = (REPO / "README.md").read_text()
    generated = (REPO / "generated" / "curve_fit_residuals__jvp_params__111.py").read_text()
    code = generated.split("\n\n", 1)[1].strip("\n")
    assert code in readme, "README's forward-mode code is stale: paste generated/curve_fit_residuals__jvp_*.py"


def test_readme_shows_the_committed_hessian_vector_product_code():
    readme = (REPO / "README.md").read_text()
    generated = (REPO / "generated" / "newton_loss__hvp_w__1210.py").read_text()
    code = generated.split("\n\n", 1)[1].strip("\n")
    assert code in readme, "README's Hessian-vector product code is stale: paste generated/newton_loss__hvp_*.py"
