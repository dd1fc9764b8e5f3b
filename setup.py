from pathlib import Path

from setuptools import find_packages, setup

version = {}
for line in Path("sourcegrad/version.py").read_text().splitlines():
    if line.startswith("__version__"):
        exec(line, version)

setup(
    name="sourcegrad",
    version=version["__version__"],
    description="Source-to-source automatic differentiation for numpy: readable backward passes, written as Python.",
    long_description=Path("README.md").read_text() if Path("README.md").exists() else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["sourcegrad", "sourcegrad.*"]),
    python_requires=">=3.10",
    install_requires=["gast>=0.6", "numpy>=1.24"],
    extras_require={
        # autograd: a second reference for the random-program test (tests/random_programs.py), never used by
        # sourcegrad itself; the tests run without it, checking against finite differences alone. scipy: its
        # rules (sourcegrad/templates/scipy_special.py) are tested, and listed in README's table, where it is.
        # dask and distributed: device="dask", on which the suite runs its device tests too (tests/device_support.py),
        # and examples/out_of_core.py's LocalCluster.
        "test": ["pytest>=7", "autograd>=1.7", "scipy>=1.10", "dask[array]>=2024.1", "distributed>=2024.1"],
        "reference": ["autograd>=1.7"],
        "cuda12": ["cupy-cuda12x>=13"],
        "cuda13": ["cupy-cuda13x>=14"],
        "dask": ["dask[array]>=2024.1", "distributed>=2024.1"],
    },
    entry_points={"console_scripts": ["sourcegrad=sourcegrad.__main__:main"]},
)
