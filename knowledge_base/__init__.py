"""The bundled knowledge base: rule packs and fact schemas as YAML data (no code)."""
from pathlib import Path

#: The folder holding the bundled knowledge base (kb.yaml, sources.yaml, packs).
BUNDLED = Path(__file__).resolve().parent
