"""imagearena.web."""
