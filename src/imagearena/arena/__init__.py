"""imagearena.arena."""
