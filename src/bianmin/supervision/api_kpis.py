"""API: KPIs for supervisors."""

from ninja import Router

router = Router(tags=["效能监督"])
