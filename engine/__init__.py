"""Load, validate and compile rule packs, and run inference on durable_rules."""
from .diagnostics import Diagnostic, InvalidInput, Location
from .facts_loader import load_entities
from .inference import Decision, Engine, EngineDisagreement, EntityResult
from .kb_loader import load_knowledge_base, load_with_diagnostics

__all__ = [
    "Decision", "Diagnostic", "Engine", "EngineDisagreement", "EntityResult", "InvalidInput",
    "Location", "load_entities", "load_knowledge_base", "load_with_diagnostics",
]
