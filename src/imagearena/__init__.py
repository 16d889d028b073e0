"""imagearena: self-hostable evaluation of text-to-image models."""

__version__ = "0.1.0"
