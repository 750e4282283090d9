"""Dataset readers and converters (VOC2012 + SBD, MSRA-B, the synthetic demo) -> sharded TFRecords;
may import tfguided.data, tfguided.saliency and the helpers at the top of tfguided, never configs or stages."""
