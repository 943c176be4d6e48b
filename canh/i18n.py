"""Message catalogue: every user-facing string, in Vietnamese and English.

Catalogues are YAML files mapping a key to ``{en: ..., vi: ...}`` with ``str.format`` placeholders.
Each part of Canh keeps its own file under ``canh/catalog/`` (and the console under ``tui/catalog/``).
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from typing import Any

import yaml

LANGUAGES = ("vi", "en")
_CATALOG_PACKAGES = ("canh.catalog", "canh.tui.catalog")
_lang: str | None = None


@cache
def catalog() -> dict[str, dict[str, str]]:
    """All messages, merged from every catalogue file; a duplicate key is a programming error."""
    merged: dict[str, dict[str, str]] = {}
    for package in _CATALOG_PACKAGES:
        try:
            files = sorted(resources.files(package).iterdir(), key=lambda p: p.name)
        except (ModuleNotFoundError, FileNotFoundError):
            continue
        for f in files:
            if not f.name.endswith((".yml", ".yaml")):
                continue
            data = yaml.load(f.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) or {}
            for key, texts in data.items():
                if key in merged:
                    raise RuntimeError(f"message key {key!r} defined twice ({f.name})")
                merged[key] = texts
    return merged


def set_language(lang: str | None) -> None:
    """Choose the language for this process (``vi`` or ``en``); None goes back to the environment."""
    global _lang
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    _lang = lang


def language() -> str:
    """The language in force: set_language(), else CANH_LANG, else LANG (vi_* → vi), else en."""
    if _lang:
        return _lang
    env = os.environ.get("CANH_LANG") or ""
    if env in LANGUAGES:
        return env
    return "vi" if os.environ.get("LANG", "").lower().startswith("vi") else "en"


def t(key: str, /, lang: str | None = None, **params: Any) -> str:
    """The message ``key`` in ``lang`` with ``params`` filled in; an unknown key shows itself."""
    texts = catalog().get(key)
    if texts is None:
        return key + (" " + " ".join(f"{k}={v}" for k, v in params.items()) if params else "")
    text = texts.get(lang or language()) or texts["en"]
    try:
        return text.format(**params)
    except (KeyError, IndexError):
        return text
