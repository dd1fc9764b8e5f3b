"""Rewrite generated/ from the examples: run after a change to the compiler, then review the diff and commit.

    python tools/regenerate.py

The examples compile into a scratch folder first, and generated/ is replaced only once every example has run:
a failing example leaves the committed files as they were.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main():
    generated = REPO / "generated"
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, SOURCEGRAD_GENERATED_DIR=scratch)
        for example in sorted((REPO / "examples").glob("*.py")):
            subprocess.run([sys.executable, "-m", "sourcegrad", "--show", str(example)], check=True, env=env,
                           cwd=REPO, stdout=subprocess.DEVNULL)
        for old in generated.glob("*.py"):
            old.unlink()
        for new in sorted(Path(scratch).glob("*.py")):
            shutil.copyfile(new, generated / new.name)
    for path in sorted(generated.glob("*.py")):
        print(path.relative_to(REPO))


if __name__ == "__main__":
    main()
