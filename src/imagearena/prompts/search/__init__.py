"""Top-k search over unit-length prompt embeddings: exact (numpy) for small sets, an approximate
HNSW index (usearch) for large ones; both answer in exact cosine similarity."""
