"""Networks: the trunks (VGG-16, MobileNet v1, ResNet-101; registry.BACKBONES), the GAP seeders
of Table 6, the VGG-16 classifier, the DeepLab heads (LargeFOV, DeepLab-v2 ASPP, DeepLab-v3+;
registry.HEADS); may import tfguided.data, registry and scoremaps only. `interface.py` is what
they agree on and imports no Keras; `import tfguided.saved_models` registers the Keras classes.
"""
