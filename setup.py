"""Maps the top-level folders into the one import root `canh` (package list and dirs live here
because setuptools cannot derive nested packages of remapped folders from pyproject alone)."""

from pathlib import Path

from setuptools import setup

ROOTS = {
    "canh": "canh",
    "canh.collectors": "collectors",
    "canh.rules": "rules",
    "canh.incidents": "incidents",
    "canh.tui": "tui",
}


def _packages() -> tuple[list[str], dict[str, str]]:
    here = Path(__file__).parent
    names: list[str] = []
    dirs: dict[str, str] = {}
    for name, folder in ROOTS.items():
        for init in sorted((here / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(here / folder)
            if any(part.startswith((".", "_")) or part == "tests" for part in rel.parts):
                continue
            pkg = ".".join([name, *rel.parts]) if rel.parts else name
            if pkg.split(".")[1:2] and pkg.split(".")[1] in {"collectors", "rules", "incidents", "tui"} and name == "canh":
                continue
            names.append(pkg)
            dirs[pkg] = str(init.parent.relative_to(here))
    return names, dirs


PACKAGES, PACKAGE_DIR = _packages()
setup(packages=PACKAGES, package_dir=PACKAGE_DIR)
