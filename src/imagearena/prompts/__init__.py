"""Prompt sets and topic retrieval: loaders for the common prompt-file formats (plain text, JSONL, CSV,
PartiPrompts TSV, the ImageReward JSON files, Hugging Face datasets), sentence embeddings (the offline
all-MiniLM-L6-v2 by default), an embedding cache keyed by content, and exact or approximate search.

Nothing here imports torch, sentence-transformers, usearch or datasets at module level: they load
inside the functions that need them (the ``prompts`` extra).
"""
