"""The converters' command line (python -m tfrecords_tools) on top of tfguided/sources/; may import tfguided."""
