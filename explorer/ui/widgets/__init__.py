"""Reusable widgets shared by the panels (heatmaps, editors, image views)."""
