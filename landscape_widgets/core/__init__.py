"""The compute core: torch and numpy only, never a widget library (see docs/architecture.md)."""
