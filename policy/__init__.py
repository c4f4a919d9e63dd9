"""The image-pipeline CrossGuard policy pack (`pulumi preview --policy-pack policy`)."""
