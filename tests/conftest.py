import os

import pytest

from sourcegrad.emit.store import ENVIRONMENT_VARIABLE


@pytest.fixture(autouse=True)
def generated_dir(tmp_path, monkeypatch):
    """Each test writes generated code to its own folder, never into the repository's generated/."""
    folder = tmp_path / "generated"
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(folder))
    return folder


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
