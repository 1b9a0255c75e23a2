"""The explanation trail of a decision and its renderers (terminal tree, JSON, Markdown)."""
from .trail import ConclusionTrail, FactRead, RuleRef, TrailNode, Truth, deciding_ids, deciding_nodes, unknown_facts

__all__ = ["ConclusionTrail", "FactRead", "RuleRef", "TrailNode", "Truth", "deciding_ids", "deciding_nodes",
           "unknown_facts"]
