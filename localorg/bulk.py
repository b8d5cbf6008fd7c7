"""Bulk API 2.0 (placeholder until the ingest and query jobs land)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("bulk", __name__)
