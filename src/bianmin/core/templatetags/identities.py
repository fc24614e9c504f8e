"""Masking in templates: `{% load identities %}` then `{{ text|scrub }}`, `{{ number|mask_id }}`.

The filters only call `core.identities`, so a page hides personal numbers exactly as the API, the
inbox and the SMS do."""

from django import template

from bianmin.core import identities

register = template.Library()


@register.filter
def scrub(text) -> str:
    """Free text with ID numbers and USCCs masked (`core.identities.scrub`)."""
    return identities.scrub(text)


@register.filter
def mask_id(number) -> str:
    return identities.mask_id_number(number)


@register.filter
def mask_phone(number) -> str:
    return identities.mask_phone(number)
