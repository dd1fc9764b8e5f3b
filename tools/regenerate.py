"""Rewrite generated/ from the examples: run after a change to the compiler, then review the diff and commit.

    python tools/regenerate.py
"""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main():
    generated = REPO / "generated"
    for old in generated.glob("*.py"):
        old.unlink()
    env = dict(os.environ, SOURCEGRAD_GENERATED_DIR=str(generated))
    for example in sorted((REPO / "examples").glob("*.py")):
        subprocess.run([sys.executable, "-m", "sourcegrad", "--show", str(example)], check=True, env=env, cwd=REPO,
                       stdout=subprocess.DEVNULL)
    for path in sorted(generated.glob("*.py")):
        print(path.relative_to(REPO))


if __name__ == "__main__":
    main()
