"""Scenario format, loading, checking and array views."""

from .schema import (
    Actor,
    Affinity,
    Change,
    Data,
    Effect,
    Entry,
    Evidence,
    Issue,
    Judgment,
    Lever,
    Metadata,
    Plan,
    PlanStep,
    Scale,
    Scenario,
    Source,
    Value,
)

__all__ = [
    "Actor", "Affinity", "Change", "Data", "Effect", "Entry", "Evidence", "Issue", "Judgment",
    "Lever", "Metadata", "Plan", "PlanStep", "Scale", "Scenario", "Source", "Value",
]
