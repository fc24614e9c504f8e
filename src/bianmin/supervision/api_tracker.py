"""API: the plan's tasks (T31) and units' progress reports."""

from ninja import Router

router = Router(tags=["任务分解"])
