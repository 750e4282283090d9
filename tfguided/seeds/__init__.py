"""Seeders: where the classifier says each labelled class is (§4)."""
