"""Maps the top-level folders into the one import root `canh` (package list and dirs live here
because setuptools cannot derive nested packages of remapped folders from pyproject alone), and
builds the native parts (native/*, Rust) when cargo is there."""

from pathlib import Path

from setuptools import setup
from setuptools_rust import Binding, RustExtension

ROOTS = {
    "canh": "canh",
    "canh.collectors": "collectors",
    "canh.rules": "rules",
    "canh.incidents": "incidents",
    "canh.tui": "tui",
}


DATA_SUFFIXES = (".yml", ".yaml", ".tcss", ".json", ".jsonl", ".gz", ".csv", ".log", ".ttf")


def _packages() -> tuple[list[str], dict[str, str]]:
    """Every folder with Python modules or data files under each root, as a package of `canh`.

    Data folders (the rule pack, the demo day) are packages too, so their files are installed
    without setuptools warning, folder by folder, that it would otherwise ignore them.
    """
    here = Path(__file__).parent
    names: list[str] = []
    dirs: dict[str, str] = {}
    for name, folder in ROOTS.items():
        root = here / folder
        for path in sorted([root, *(p for p in root.rglob("*") if p.is_dir())]):
            rel = path.relative_to(root)
            if any(part.startswith((".", "_")) or part == "tests" for part in rel.parts):
                continue
            if name == "canh" and rel.parts and rel.parts[0] in {"collectors", "rules", "incidents", "tui"}:
                continue
            has_code = (path / "__init__.py").exists()
            has_data = any(f.suffix in DATA_SUFFIXES for f in path.iterdir() if f.is_file())
            if not (has_code or has_data):
                continue
            pkg = ".".join([name, *rel.parts])
            names.append(pkg)
            dirs[pkg] = str(path.relative_to(here))
    return names, dirs


# Optional: without cargo Canh installs all the same, and the Python code does the native parts' work
# (the EVTX mapping, the line parsers' fast path, the store's row encoder), only slower.
# debug=False: an editable install (`pip install -e .`) would otherwise build unoptimised code.
NATIVE = [
    RustExtension(
        f"canh.{package}.{module}",
        path=f"native/{crate}/Cargo.toml",
        binding=Binding.PyO3,
        optional=True,
        debug=False,
        args=["--locked"],
    )
    for package, module, crate in (
        ("collectors", "_evtx_native", "evtx"),
        ("collectors", "_lines_native", "lines"),
        ("store", "_rows_native", "rows"),
    )
]

PACKAGES, PACKAGE_DIR = _packages()
setup(packages=PACKAGES, package_dir=PACKAGE_DIR, rust_extensions=NATIVE, zip_safe=False)
