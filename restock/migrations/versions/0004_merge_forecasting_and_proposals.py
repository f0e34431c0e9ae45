"""Merge the forecasting and proposal branches into one head.

Revision ID: 0004_merge
Revises: 0002_forecast_runs, 0003_proposals
Create Date: 2026-11-25
"""

from __future__ import annotations

revision = "0004_merge"
down_revision = ("0002_forecast_runs", "0003_proposals")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: the two branches touch different tables."""


def downgrade() -> None:
    """Nothing to change: the two branches touch different tables."""
