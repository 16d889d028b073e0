"""imagearena.prompts."""
