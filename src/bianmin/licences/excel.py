"""Bulk import of licences issued before the platform (Excel): all rows or none."""
