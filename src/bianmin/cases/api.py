"""Cases API (/api/v1/cases…): see docs/api.md."""

from ninja import Router

router = Router(tags=["办件"])
