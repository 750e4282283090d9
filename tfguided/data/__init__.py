"""Data: TFRecords and manifests, image and label-map I/O, tf.data pipelines; may import tfguided.files and tfguided.progress only."""
