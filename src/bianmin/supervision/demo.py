"""Demo data for supervision: the plan's tasks (T31) and ratings on finished demo cases."""

from importlib import import_module

PARTS = ("bianmin.supervision.tracker.demo", "bianmin.supervision.ratings.demo")


def load() -> dict[str, int]:
    """Create what is missing; return counts created by kind. Safe to run at every start."""
    made: dict[str, int] = {}
    for name in PARTS:
        try:
            part = import_module(name)
        except ModuleNotFoundError:
            continue
        made.update(part.load())
    return made
