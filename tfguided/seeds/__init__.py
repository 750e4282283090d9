"""Seeders: where the classifier says each labelled class is (§4); may import tfguided.data, crf and
scoremaps only."""
