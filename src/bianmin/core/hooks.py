"""Seams chosen by settings: `BIANMIN_HOOKS = {"name": "dotted.path"}` or a list of paths where several
apps listen. An app plugs in by naming its function in settings, without editing the app that calls
the hook (django-oscar's `get_class` idea, kept small).

`get(name)` is the one function of a single-answer hook (is_blacklisted, supervising_department…);
`listeners(name)` the functions of a hook several apps listen to (on_approved, after_event), called
in the order listed. The import of each path is cached; the settings are read on every call, so
`override_settings(BIANMIN_HOOKS=...)` takes effect at once.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


@lru_cache(maxsize=256)
def _load(path: str):
    try:
        return import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"BIANMIN_HOOKS: cannot import {path!r} ({exc})") from exc


def _paths(name: str) -> list[str]:
    hooks = getattr(settings, "BIANMIN_HOOKS", {})
    if name not in hooks:
        raise ImproperlyConfigured(f"BIANMIN_HOOKS has no entry for the hook {name!r}")
    value = hooks[name]
    return [value] if isinstance(value, str) else list(value)


def get(name: str):
    """The callable a single-answer hook names."""
    paths = _paths(name)
    if len(paths) != 1:
        raise ImproperlyConfigured(f"BIANMIN_HOOKS[{name!r}] must name exactly one function")
    return _load(paths[0])


def listeners(name: str) -> list:
    """The callables a hook with several listeners names (possibly none)."""
    return [_load(p) for p in _paths(name)]
