"""Demo data for supervision: the plan's tasks (T31), ratings on finished demo cases."""


def load() -> dict[str, int]:
    """Create what is missing; return counts created by kind. Safe to run at every start."""
    return {}
