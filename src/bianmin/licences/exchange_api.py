"""API: the data-sharing API for the province's exchange platform (T15): authenticated per client system, scoped, every call logged."""

from ninja import Router

router = Router(tags=["数据共享"])
