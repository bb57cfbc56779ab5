"""The recommender: explained, reciprocal partner scores and the index that serves them."""
