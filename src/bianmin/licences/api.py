"""API: licences: issued licences, verification (GET /licences/verify), the holder's own licences."""

from ninja import Router

router = Router(tags=["电子证照"])
