"""Puts the checkout's data into the wheel: site/ as backend/site/ and the sample config.yaml as
backend/config.yaml, where backend.resources finds them once installed.

site/ stays a top-level data folder in the checkout (it holds no Python, and `site` is a stdlib
module, so it cannot be a package of its own), which pyproject.toml's package data cannot reach.
Everything else about the package is in pyproject.toml. Build with `pyproject-build` from the root.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA = ("site", "config.yaml")


class BuildWithSite(build_py):
    def run(self) -> None:
        super().run()
        # An editable install runs the checkout itself, which has the data beside backend/.
        if self.editable_mode:
            return
        package = Path(self.build_lib) / "backend"
        for name in DATA:
            target = package / name
            # A file deleted from site/ must not live on in a build folder left from an earlier wheel.
            if target.is_dir():
                shutil.rmtree(target)
            if Path(name).is_dir():
                shutil.copytree(name, target)
            else:
                shutil.copy2(name, target)


setup(cmdclass={"build_py": BuildWithSite})
