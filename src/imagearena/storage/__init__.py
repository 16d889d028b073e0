"""imagearena.storage."""
