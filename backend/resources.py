"""Where Porch's own files are: site/ (templates, assets, locales) and the sample config.yaml.

A checkout keeps them at its top, beside backend/ (site/ is a data folder, never a package:
`site` is a stdlib module). An installed package has no checkout around it, so the wheel
carries them inside the package, as backend/site/ and backend/config.yaml (setup.py puts
them there). Everything that reads them takes the paths from here.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# A checkout's backend/ never holds site/, and an installed package has nothing but site-packages beside it.
ROOT = PACKAGE if (PACKAGE / "site").is_dir() else PACKAGE.parent
SITE_DIR = ROOT / "site"
LOCALES_DIR = SITE_DIR / "locales"
# The sample portal `demo` serves; its branding paths are relative to ROOT, as every config's are to its folder.
SAMPLE_CONFIG = ROOT / "config.yaml"
WHERE = ("a checkout keeps site/ beside backend/ and an installed package inside it, as backend/site/: "
         "install Porch from a wheel built with pyproject-build, or run it from a checkout")
