"""API: ratings online and from the hall's rating devices; 差评 handling."""

from ninja import Router

router = Router(tags=["好差评"])
