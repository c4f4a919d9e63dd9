"""The stack program: this stack's `image-pipeline:pipeline` settings -> one ImagePipeline -> its outputs.

The component validates the settings (every problem at once) as it does for other languages' programs.
"""

import pulumi

from components import ImagePipeline

settings = pulumi.Config("image-pipeline").get_object("pipeline") or {}
pipeline = ImagePipeline(f"images-{pulumi.get_stack()}", settings)

for output in ImagePipeline.output_names():
    pulumi.export(output, getattr(pipeline, output))
