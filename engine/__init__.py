"""Load, validate and compile rule packs, and run inference on durable_rules.

The names below are imported on first use (PEP 562), so that importing any part of the
engine does not load every other part (durable_rules, jsonschema, ...): commands start
faster and batch workers import only what they use.
"""
from importlib import import_module

_WHERE = {
    "Diagnostic": "diagnostics", "InvalidInput": "diagnostics", "Location": "diagnostics",
    "load_entities": "facts_loader",
    "Decision": "inference", "Engine": "inference", "EngineDisagreement": "inference", "EntityResult": "inference",
    "load_knowledge_base": "kb_loader", "load_with_diagnostics": "kb_loader",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
