import os

import pytest

from sourcegrad.emit.store import ENVIRONMENT_VARIABLE

from device_support import DEVICES


@pytest.fixture(autouse=True)
def generated_dir(tmp_path, monkeypatch):
    """Each test writes generated code to its own folder, never into the repository's generated/."""
    folder = tmp_path / "generated"
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(folder))
    return folder


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(params=DEVICES)
def device(request):
    """'cpu'; 'cuda' where cupy and a GPU are present; 'dask' where dask is installed: the test runs on each
    (tests/device_support.py)."""
    return request.param
