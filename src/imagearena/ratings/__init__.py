"""imagearena.ratings."""
